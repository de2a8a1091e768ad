// Helper of tokenizer_bench.sh.
//   node tokenizer_bench.mjs corpus prose|code MAX_BYTES OUT.jsonl   one {"text"} line per file found on this machine
//                                                                    (<= 200 KB each) until MAX_BYTES of text;
//                                                                    prints the UTF-8 bytes of text written
//   node tokenizer_bench.mjs oracle PATH/llama-tokenizer.js IN.jsonl OUT.jsonl
//        encodes with llama-tokenizer-js, writes ids like `shear tokenize`, prints "ENCODE_SECONDS BYTES"
//   node tokenizer_bench.mjs hf PATH/tokenizers.mjs TOKENIZER_JSON TOKENIZER_CONFIG IN.jsonl OUT.jsonl
//        the same with @huggingface/tokenizers (byte-level BPE: Llama 3, Qwen)
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [mode, ...args] = process.argv.slice(2);
const list = (dir, keep) => { try { return readdirSync(dir).sort().map(f => join(dir, f)).filter(keep); } catch { return []; } };
const isFile = (p) => { try { return statSync(p).isFile(); } catch { return false; } };

if (mode === 'corpus') {
  const [kind, maxBytes, out] = args;
  const files = kind === 'prose'
    ? [...list('/usr/share/common-licenses', isFile),
       ...list('/usr/share/doc', () => true).map(d => join(d, 'copyright')).filter(isFile)]
    : [...list('/usr/include', p => p.endsWith('.h') && isFile(p)),
       ...list('/usr/lib', p => /\/python3\.\d+$/.test(p)).flatMap(d => list(d, p => p.endsWith('.py') && isFile(p)))];
  const lines = [];
  let bytes = 0;
  for (const f of files) {
    if (bytes >= Number(maxBytes)) break;
    const text = readFileSync(f, 'utf8').replace(/\0/g, '').slice(0, 200000)
      .replace(/[\ud800-\udbff]$/, '');  // a cut surrogate pair is not UTF-8
    if (!text) continue;
    lines.push(JSON.stringify({ text }));
    bytes += Buffer.byteLength(text);
  }
  writeFileSync(out, lines.join('\n') + '\n');
  console.log(`${bytes} ${lines.length}`);
} else if (mode === 'oracle') {
  const [pkgJs, input, out] = args;
  const tok = (await import(pathToFileURL(pkgJs).href)).default;
  const texts = readFileSync(input, 'utf8').split('\n').filter(l => l).map(l => JSON.parse(l).text);
  const t0 = process.hrtime.bigint();
  const ids = texts.map(t => (t === '' ? [1] : tok.encode(t, true, true)));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  writeFileSync(out, ids.map(a => JSON.stringify(a)).join('\n') + '\n');
  console.log(`${seconds} ${texts.reduce((s, t) => s + Buffer.byteLength(t), 0)}`);
} else if (mode === 'hf') {
  const [lib, tokJson, tokConfig, input, out] = args;
  const { Tokenizer } = await import(pathToFileURL(lib).href);
  const tok = new Tokenizer(JSON.parse(readFileSync(tokJson, 'utf8')), JSON.parse(readFileSync(tokConfig, 'utf8')));
  const texts = readFileSync(input, 'utf8').split('\n').filter(l => l).map(l => JSON.parse(l).text);
  const t0 = process.hrtime.bigint();
  const ids = texts.map(t => tok.encode(t).ids);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  writeFileSync(out, ids.map(a => JSON.stringify(a)).join('\n') + '\n');
  console.log(`${seconds} ${texts.reduce((s, t) => s + Buffer.byteLength(t), 0)}`);
} else {
  console.error('usage: see the top of tokenizer_bench.mjs');
  process.exit(2);
}
