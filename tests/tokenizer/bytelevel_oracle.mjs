// Compares `shear tokenize` output with the JS oracle @huggingface/tokenizers (an independent implementation of
// tokenizer.json), line by line: encode(text) with the post-processor's special tokens, as Shear's default BOS.
// With IDS and DECODED (ids, one array a line, and `shear tokenize --decode` of them) also compares decoding:
// the oracle's decode (no clean-up of spaces) must give the same text.
// usage: node bytelevel_oracle.mjs PATH/tokenizers.mjs TOKENIZER_JSON TOKENIZER_CONFIG cases.jsonl shear_ids.jsonl
//        [IDS DECODED]
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [lib, tokJson, tokConfig, casesPath, shearPath, idsPath, decodedPath] = process.argv.slice(2);
const { Tokenizer } = await import(pathToFileURL(lib).href);
const tok = new Tokenizer(JSON.parse(readFileSync(tokJson, 'utf8')), JSON.parse(readFileSync(tokConfig, 'utf8')));
const lines = (p) => readFileSync(p, 'utf8').split('\n').filter((l, i, a) => i < a.length - 1 || l !== '');
const texts = lines(casesPath).map(l => JSON.parse(l).text);
const got = lines(shearPath);
if (got.length !== texts.length) {
  console.error(`bytelevel_oracle: ${shearPath} has ${got.length} lines, ${casesPath} has ${texts.length}`);
  process.exit(1);
}
let bad = 0, tokens = 0, bytes = 0;
const show = (s) => JSON.stringify(s.length > 120 ? s.slice(0, 120) + '...' : s);
for (let i = 0; i < texts.length; i++) {
  const want = tok.encode(texts[i]).ids;
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
console.log(`bytelevel_oracle ${tokJson}: ${texts.length} texts, ${bytes} bytes, ${tokens} tokens: ${bad} mismatches`);
if (idsPath) {
  const ids = lines(idsPath).map(l => JSON.parse(l));
  const dec = lines(decodedPath).map(l => JSON.parse(l).text);
  let badDec = ids.length === dec.length ? 0 : 1;
  for (let i = 0; i < ids.length && i < dec.length; i++) {
    const want = ids[i].length ? tok.decode(ids[i], { clean_up_tokenization_spaces: false }) : '';
    if (want === dec[i]) continue;
    if (++badDec <= 5) console.error(`DECODE MISMATCH line ${i + 1}: oracle ${show(want)}, shear ${show(dec[i])}`);
  }
  console.log(`bytelevel_oracle ${tokJson}: decode of ${ids.length} id lines: ${badDec} mismatches`);
  bad += badDec;
}
process.exit(bad ? 1 : 0);
