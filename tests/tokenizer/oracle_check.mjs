// Compares `shear tokenize` output with the independent node oracle llama-tokenizer-js, line by line.
// usage: node oracle_check.mjs PATH/llama-tokenizer.js cases.jsonl shear_ids.jsonl
// The oracle is encode(text, true, true) (BOS, prepended space); it returns [] for "" where LLaMA gives [1].
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [pkgJs, casesPath, shearPath] = process.argv.slice(2);
const tok = (await import(pathToFileURL(pkgJs).href)).default;
const lines = (p) => readFileSync(p, 'utf8').split('\n').filter((l, i, a) => i < a.length - 1 || l !== '');
const texts = lines(casesPath).map(l => JSON.parse(l).text);
const got = lines(shearPath);
if (got.length !== texts.length) {
  console.error(`oracle_check: ${shearPath} has ${got.length} lines, ${casesPath} has ${texts.length}`);
  process.exit(1);
}
let bad = 0, tokens = 0, bytes = 0;
const show = (s) => JSON.stringify(s.length > 120 ? s.slice(0, 120) + '...' : s);
for (let i = 0; i < texts.length; i++) {
  const want = texts[i] === '' ? [1] : tok.encode(texts[i], true, true);
  tokens += want.length;
  bytes += Buffer.byteLength(texts[i]);
  if (got[i] === JSON.stringify(want)) continue;
  if (++bad > 10) continue;
  const have = JSON.parse(got[i] || 'null') || [];
  let k = 0;
  while (k < want.length && have[k] === want[k]) k++;
  console.error(`MISMATCH line ${i + 1}: text ${show(texts[i])}\n  first difference at token ${k}:` +
                `\n  oracle ${JSON.stringify(want.slice(Math.max(0, k - 3), k + 8))}` +
                `\n  shear  ${JSON.stringify(have.slice(Math.max(0, k - 3), k + 8))}`);
}
console.log(`oracle_check: ${texts.length} texts, ${bytes} bytes, ${tokens} tokens: ${bad} mismatches`);
process.exit(bad ? 1 : 0);
