// Writes test texts for the tokenizer as JSON Lines {"text": ...} to stdout: > 1000 strings from a fixed-seed
// generator (whitespace runs, tabs, CR/LF, scripts, emoji, combining marks, "<s>" as text, random code points)
// plus slices of text files found on this machine (licenses, copyright files, C headers, Python stdlib).
// Which files exist differs between machines; the checks never depend on their exact bytes.
// usage: node gen_cases.mjs [SEED] > cases.jsonl
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

let seed = Number(process.argv[2] || 20240601) >>> 0;
const rand = () => {  // mulberry32
  seed = (seed + 0x6D2B79F5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const int = (n) => Math.floor(rand() * n);
const pick = (a) => a[int(a.length)];
const range = (lo, hi) => String.fromCodePoint(lo + int(hi - lo + 1));
const repeat = (n, f) => Array.from({ length: n }, f).join('');

// JSON.stringify writes lone surrogates as \udXXX escapes, which are not UTF-8 text; U+0000 is refused by
// `shear tokenize` (C strings), so neither goes in.
const clean = (s) => s.replace(/\0/g, '').replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '');
const cases = [];
const add = (s) => cases.push(clean(s));

const words = ['the', 'quick', 'brown', 'fox', 'grabbed', 'llama', 'Hello', 'world!', 'tokenizer', 'int', 'main(void)',
  'return', '0;', 'über', 'naïve', 'café', 'Straße', 'ÆØÅ', 'ça', 'déjà-vu', 'x86_64', '3.14159', '1,000,000',
  'http://example.org/a?b=c&d=e', 'e-mail@example.com', '#include', '<stdio.h>', '{', '}', '()', '==', '!=', '//'];
const ws = [' ', '  ', '   ', '\t', '\t\t', '\n', '\n\n', '\r\n', '\r', ' \t ', '\u00a0', '\u3000', '\u2003', '\u200b',
  '\f', '\v', '      ', '\n    ', '\t\n'];
const scripts = [[0x41, 0x5a], [0x61, 0x7a], [0xc0, 0x17f], [0x391, 0x3c9], [0x410, 0x44f], [0x5d0, 0x5ea],
  [0x627, 0x64a], [0x905, 0x939], [0xe01, 0xe2e], [0x3041, 0x3096], [0x30a1, 0x30fa], [0x4e00, 0x9fff],
  [0xac00, 0xd7a3], [0x1100, 0x11ff], [0x10a0, 0x10ff], [0x531, 0x556]];
const emoji = ['🦙', '😀', '👍🏽', '👨‍👩‍👧‍👦', '🇫🇷', '🇯🇵', '❤️', '☕', '🏳️‍🌈', '🤷‍♀️', '🧑🏿‍🚀', '✈︎', '1️⃣', '🫠', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', '𓀀'];
const combining = () => repeat(1 + int(4), () => range(0x300, 0x36f));

for (let i = 0; i < 160; i++)  // whitespace runs, tabs, CR/LF around words, leading and trailing
  add(repeat(1 + int(12), () => (rand() < 0.5 ? pick(ws) : pick(words))));
for (let i = 0; i < 40; i++) add(repeat(1 + int(5), () => pick(ws)));  // whitespace only
for (let i = 0; i < 150; i++)  // words in other scripts
  add(repeat(1 + int(8), () => { const r = pick(scripts); return repeat(1 + int(7), () => range(r[0], r[1])) + pick([' ', ' ', ',', '. ', '\n']); }));
for (let i = 0; i < 100; i++)  // emoji, alone and inside text
  add(repeat(1 + int(8), () => (rand() < 0.5 ? pick(emoji) : pick(words) + pick([' ', '', ' ']))));
for (let i = 0; i < 100; i++)  // combining marks, on letters, alone, after spaces
  add(repeat(1 + int(6), () => pick(['a', 'e', 'o', ' ', 'n', '', 'ı', 'Z']) + combining()) + pick(['', ' ', ' end']));
const markup = ['<s>', '</s>', '<unk>', '<0x0A>', '<0xFF>', '▁', '▁▁', ' ▁ ', '<s><s>', '[INST]', '<<SYS>>', '<|endoftext|>'];
for (let i = 0; i < 60; i++)  // control-token spellings and a literal "▁" are text
  add(repeat(1 + int(6), () => (rand() < 0.5 ? pick(markup) : pick(words) + pick(ws))));
for (let i = 0; i < 150; i++)  // random code points of every plane (no surrogates, no U+0000)
  add(repeat(1 + int(20), () => {
    const p = rand();
    if (p < 0.3) return range(0x20, 0x7e);
    if (p < 0.6) return range(0x80, 0xd7ff);
    if (p < 0.8) return range(0xe000, 0xffff);
    return range(0x10000, 0x10ffff);
  }));
for (let i = 0; i < 50; i++)  // digits, punctuation runs, separators
  add(repeat(1 + int(10), () => pick(['0', '12', '345', '2023-10-01', '...', '!!!', '???', '---', '===', '***', '~', '^_^',
    ':-)', '"quoted"', "'single'", '$$', '%d', '\\n', '\\', '/*', '*/', '->', '=>', '::', '  '])));
add(''); add(' '); add('  '); add('\n'); add('\t'); add('a'); add(' a'); add('a '); add('▁'); add('<s>');

// Text from files on this machine
const list = (dir, keep) => { try { return readdirSync(dir).sort().map(f => join(dir, f)).filter(keep); } catch { return []; } };
const isFile = (p) => { try { return statSync(p).isFile(); } catch { return false; } };
const prose = [...list('/usr/share/common-licenses', isFile),
  ...list('/usr/share/doc', () => true).map(d => join(d, 'copyright')).filter(isFile)];
const pyDirs = list('/usr/lib', p => /\/python3\.\d+$/.test(p));
const code = [...list('/usr/include', p => p.endsWith('.h') && isFile(p)),
  ...pyDirs.flatMap(d => list(d, p => p.endsWith('.py') && isFile(p)))];
const read = (p) => { try { return readFileSync(p, 'utf8'); } catch { return ''; } };
const slice = (files, maxLen) => {
  const s = read(pick(files));
  const len = 1 + int(maxLen);
  const at = int(Math.max(1, s.length - len));
  return s.slice(at, at + len);
};
for (const [files, n] of [[prose, 150], [code, 150]]) {
  if (!files.length) continue;
  for (let i = 0; i < n; i++) add(slice(files, rand() < 0.8 ? 400 : 6000));
  for (let i = 0; i < 25; i++) add(slice(files, 100000));  // long documents
}
process.stderr.write(`gen_cases: ${cases.length} texts, ${prose.length} prose and ${code.length} code files available\n`);
process.stdout.write(cases.map(t => JSON.stringify({ text: t })).join('\n') + '\n');
