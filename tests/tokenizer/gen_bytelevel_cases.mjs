// Test texts for the byte-level BPE tokenizers (Llama 3, Qwen) as JSON Lines {"text": ...} on stdout: edge cases
// of their Split regex and added tokens (contractions in any case, digit runs, long whitespace runs before
// words and at the end, CR/LF runs, special-token spellings inside words, decomposed letters that NFC composes,
// CJK, emoji, code), then slices of every domain of a Shear corpus (corpus/small: one folder per domain of
// .jsonl files), PER_DOMAIN per domain: random slices of random documents and some whole documents.
// Which corpus exists differs between machines; the checks never depend on its exact bytes.
// usage: node gen_bytelevel_cases.mjs [CORPUS_DIR] [PER_DOMAIN] [SEED] > cases.jsonl
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const corpus = process.argv[2] || '';
const perDomain = Number(process.argv[3] || 350);
let seed = Number(process.argv[4] || 20250316) >>> 0;
const rand = () => {  // mulberry32
  seed = (seed + 0x6D2B79F5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const int = (n) => Math.floor(rand() * n);
const pick = (a) => a[int(a.length)];
const repeat = (n, f) => Array.from({ length: n }, f).join('');
// no lone surrogates (not UTF-8), no U+0000 (refused by `shear tokenize`)
const clean = (s) => s.replace(/\0/g, '').replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '');
const cases = [];
const add = (s) => cases.push(clean(s));

const contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'M", "'LL", "'D", "'x", "’s"];
const words = ['the', 'It', 'DON', 'we', 'can', 'they', 'I', 'ſ', 'K', 'İstanbul', 'ǅ', 'straße', 'ΣΊΣΥΦΟΣ'];
for (let i = 0; i < 120; i++)
  add(repeat(1 + int(6), () => pick(words) + pick(contractions) + pick([' ', '', '  ', '\n', "'"])));
const digits = () => repeat(1 + int(12), () => String(int(10)));
const numerals = ['٣', '४', '௫', '๒', '१२३', 'Ⅻ', '½', '²', '𝟙𝟚', '一二三', '①'];
for (let i = 0; i < 100; i++)
  add(repeat(1 + int(6), () => pick([digits(), digits() + '.' + digits(), '-' + digits(), pick(numerals), ' ' + digits(),
    digits() + 'px', '0x' + int(1e9).toString(16), '1,234,567', '3e-10'])));
const ws = [' ', '\t', '\n', '\r\n', '\r', '\u00a0', '\u3000', '\u2028', '\u0085', '\u200b', '\f', '\v', '\u2003'];
for (let i = 0; i < 120; i++)  // whitespace runs of every length, before words, between newlines, at the end
  add(repeat(1 + int(4), () => repeat(1 + int(rand() < 0.2 ? 300 : 12), () => pick(ws)) + pick(['', 'x', 'word', '{', '1', '.'])));
add(' '.repeat(5000)); add('\n'.repeat(3000)); add('a' + ' '.repeat(10000) + 'b'); add('\t '.repeat(2000) + '\n');
add('x'.repeat(20000)); add('ab'.repeat(8000)); add('😀'.repeat(3000)); add('-'.repeat(5000)); add('9'.repeat(7001));
const specials = ['<|begin_of_text|>', '<|end_of_text|>', '<|eot_id|>', '<|start_header_id|>', '<|endoftext|>',
  '<|im_start|>', '<|im_end|>', '<think>', '</think>', '<tool_call>', '<|fim_prefix|>', '<|reserved_special_token_7|>',
  '<|begin_of_text', '|>', '<|', '<|endoftext|', '<s>', '</s>'];
for (let i = 0; i < 120; i++)  // added tokens in text, glued to words, repeated, broken
  add(repeat(1 + int(6), () => (rand() < 0.5 ? pick(specials) : pick(['hello', ' world', '\n', ' ', 'user', 'x=1;']))));
const decomposed = ['e\u0301', 'a\u0308', 'o\u0302', 'n\u0303', 'A\u030a', '\u1100\u1161\u11a8', 'c\u0327',
  'u\u0308\u0301', '\u0915\u093c', 'e\u0301\u0301', '\u212b', '\u2126', '\u1e9b\u0323', 'ﬁ', '①', 'Ａ'];
for (let i = 0; i < 120; i++)  // NFC composes these (Qwen normalizes, Llama 3 does not)
  add(repeat(1 + int(8), () => pick(decomposed) + pick(['', ' ', 'x', '\u0301', '.'])));
const cjk = [[0x4e00, 0x9fff], [0x3041, 0x3096], [0x30a1, 0x30fa], [0xac00, 0xd7a3], [0x20000, 0x2a6df]];
const emoji = ['🦙', '😀', '👍🏽', '👨‍👩‍👧‍👦', '🇫🇷', '❤️', '🏳️‍🌈', '🧑🏿‍🚀', '1️⃣', '🫠', '𝔘𝔫𝔦', '𓀀', '☕'];
for (let i = 0; i < 150; i++)
  add(repeat(1 + int(10), () => {
    const p = rand();
    if (p < 0.4) { const r = pick(cjk); return repeat(1 + int(10), () => String.fromCodePoint(r[0] + int(r[1] - r[0] + 1))); }
    if (p < 0.7) return pick(emoji);
    return pick(['，', '。', '、', '「', '」', ' ', 'abc', '123', '：']);
  }));
const code = ['int main(void) {\n    return 0;\n}\n', 'def f(x):\n\tif x:\n\t\treturn x ** 2\n', '    }\n  }\n}',
  'for (i = 0; i < n; i++) a[i] += b[i];', '#include <stdio.h>\r\n', '/* comment */ // line\n', 'x!==y&&z||!w',
  '$ ls -la | grep "^d"\n', '```python\nprint("hi")\n```', '<div class="a">&nbsp;</div>', '{"key": [1, 2, {"k": null}]}',
  "SELECT * FROM t WHERE a='b';", '    \n    \n', '\t\t\t// TODO(x): fix\n', 'std::vector<int> v{1,2,3};', '@@ -1,3 +1,4 @@'];
for (let i = 0; i < 150; i++) add(repeat(1 + int(6), () => pick(code)));
for (let i = 0; i < 150; i++)  // random code points of every plane (no surrogates, no U+0000)
  add(repeat(1 + int(20), () => {
    const p = rand();
    if (p < 0.3) return String.fromCodePoint(0x20 + int(0x5f));
    if (p < 0.6) return String.fromCodePoint(0x80 + int(0xd800 - 0x80));
    if (p < 0.8) return String.fromCodePoint(0xe000 + int(0x2000));
    return String.fromCodePoint(0x10000 + int(0x100000));
  }));
add(''); add(' '); add('a'); add("'s"); add("'"); add('\n\n'); add(' \n'); add('Hello world'); add('<|endoftext|>');

// every domain of the corpus
const dirOk = (p) => { try { return statSync(p).isDirectory(); } catch { return false; } };
const domains = corpus && dirOk(corpus) ? readdirSync(corpus).sort().filter(d => dirOk(join(corpus, d))) : [];
const counts = [];
for (const d of domains) {
  const docs = [];
  for (const f of readdirSync(join(corpus, d)).sort().filter(f => f.endsWith('.jsonl')))
    for (const line of readFileSync(join(corpus, d, f), 'utf8').split('\n'))
      if (line) { try { const t = JSON.parse(line).text; if (typeof t === 'string' && t) docs.push(t); } catch { } }
  if (!docs.length) continue;
  for (let i = 0; i < perDomain; i++) {
    const s = pick(docs);
    if (rand() < 0.1) { add(s.slice(0, 30000)); continue; }  // a whole document (up to 30k chars)
    const len = 1 + int(rand() < 0.8 ? 600 : 5000);
    const at = int(Math.max(1, s.length - len));
    add(s.slice(at, at + len));
  }
  counts.push(`${d} ${docs.length} docs`);
}
process.stderr.write(`gen_bytelevel_cases: ${cases.length} texts; corpus '${corpus}': ` +
  (counts.length ? counts.join(', ') : 'none (edge cases only)') + '\n');
process.stdout.write(cases.map(t => JSON.stringify({ text: t })).join('\n') + '\n');
