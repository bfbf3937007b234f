// Writes reference cases with HF tokenizers' own code (Node binding):
//   node hf_cases.js NODE_MODULES TOKENIZER_JSON TEXTS_JSONL > CASES_JSONL
// Each input line {"text": ...} becomes {"text", "ids", "ids_with_special_tokens",
// "decoded", "decoded_skip_special"} — the format of the test fixtures.
const path = require('path');
const fs = require('fs');
const { Tokenizer } = require(path.resolve(process.argv[2], 'tokenizers'));

async function main() {
  const tok = Tokenizer.fromFile(process.argv[3]);
  const lines = fs.readFileSync(process.argv[4], 'utf8').split('\n').filter((l) => l.length > 0);
  for (const line of lines) {
    const text = JSON.parse(line).text;
    const plain = await tok.encode(text, null, { addSpecialTokens: false });
    const special = await tok.encode(text, null, { addSpecialTokens: true });
    const ids = plain.getIds();
    process.stdout.write(JSON.stringify({
      text,
      ids,
      ids_with_special_tokens: special.getIds(),
      decoded: await tok.decode(ids, false),
      decoded_skip_special: await tok.decode(ids, true),
    }) + '\n');
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
