// Loads models/allm-tiny/tokenizer.json with Hugging Face tokenizers (the Rust library through its
// Node binding) and checks it against reference.json and a few round trips.
// Usage: npm install tokenizers@0.23.2 && node tools/train/check_tokenizer.js [checkpoint folder]
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

const folder = process.argv[2] || path.join(__dirname, '..', '..', 'models', 'allm-tiny');
const reference = JSON.parse(fs.readFileSync(path.join(__dirname, 'reference.json'), 'utf8'));

(async () => {
  const tokenizer = Tokenizer.fromFile(path.join(folder, 'tokenizer.json'));
  const encoded = await tokenizer.encode(reference.prompt, null, { addSpecialTokens: false });
  if (JSON.stringify(encoded.getIds()) !== JSON.stringify(reference.prompt_ids)) {
    console.error(`FAIL: ${reference.prompt} -> ${encoded.getIds()}, reference ${reference.prompt_ids}`);
    process.exit(1);
  }
  const texts = [
    '<|im_start|>user\nGood morning!<|im_end|>\n<|im_start|>assistant\n',
    'Café naïve — “quotes” and 1,024 numbers.\n\n\tTabs too.',
  ];
  for (const text of texts) {
    const ids = (await tokenizer.encode(text, null, { addSpecialTokens: false })).getIds();
    const decoded = await tokenizer.decode(ids, false);
    if (decoded !== text.normalize('NFC')) {
      console.error(`FAIL: round trip of ${JSON.stringify(text)} gave ${JSON.stringify(decoded)}`);
      process.exit(1);
    }
    if (text.startsWith('<|im_start|>') && (ids[0] !== 1 || !ids.includes(2))) {
      console.error(`FAIL: special tokens not recognised: ${ids}`);
      process.exit(1);
    }
  }
  console.log('ok  tokenizers loads tokenizer.json, matches reference.json, round-trips text');
})();
