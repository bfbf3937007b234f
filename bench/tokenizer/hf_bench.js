// The HF side of the tokenizer benchmark: HF tokenizers' Rust code through its
// Node binding, one chunk at a time (one thread), as the C++ side does.
//   node hf_bench.js NODE_MODULES TOKENIZER_JSON CORPUS_FILE
// CORPUS_FILE holds the chunks separated by NUL bytes. Prints one JSON line:
// load and encode seconds, bytes, token count and a checksum of the ids.
const path = require('path');
const fs = require('fs');
const { Tokenizer } = require(path.resolve(process.argv[2], 'tokenizers'));

async function main() {
  let t0 = process.hrtime.bigint();
  const tok = Tokenizer.fromFile(process.argv[3]);
  const loadS = Number(process.hrtime.bigint() - t0) / 1e9;
  const chunks = fs.readFileSync(process.argv[4], 'utf8').split('\0');
  let bytes = 0;
  for (const c of chunks) bytes += Buffer.byteLength(c, 'utf8');
  const results = [];
  t0 = process.hrtime.bigint();
  for (const c of chunks) {
    const enc = await tok.encode(c, null, { addSpecialTokens: false });
    results.push(enc.getIds());
  }
  const encodeS = Number(process.hrtime.bigint() - t0) / 1e9;
  let tokens = 0;
  let checksum = 0;
  for (const ids of results) {
    tokens += ids.length;
    for (const id of ids) checksum = (Math.imul(checksum, 31) + id) >>> 0;
  }
  process.stdout.write(JSON.stringify({ load_s: loadS, encode_s: encodeS, bytes, tokens, checksum }) + '\n');
}
main().catch((e) => { console.error(e); process.exit(1); });
