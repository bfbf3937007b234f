// Embeddings against sentence-transformers' own vectors (tests/data/models/
// qwen3-embedding/reference.safetensors: each text alone and as one padded
// batch): `allm embed`, then allm serve's /v1/embeddings through the official
// OpenAI client (base64 by default, and floats), /api/embed and
// /api/embeddings through the Ollama client, and the errors.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ALLM, check, clients, expectError, fail, postJson, startServer, stopServer } from './serve.mjs';

const EMBED = process.env.ALLM_EMBED_MODEL;
const TINY = process.env.ALLM_TINY_MODEL;
const TOL = 1e-4;

function readSafetensors(file) {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString());
  const out = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (t.dtype !== 'F32') fail(`${name}: expected F32`);
    const [a, b] = t.data_offsets;
    const bytes = buf.subarray(8 + n + a, 8 + n + b);
    const f = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    const [rows, cols] = t.shape;
    out[name] = Array.from({ length: rows }, (_, i) => Array.from(f.subarray(i * cols, (i + 1) * cols)));
  }
  return out;
}

const ref = readSafetensors(path.join(EMBED, 'reference.safetensors'));
const { texts } = JSON.parse(fs.readFileSync(path.join(EMBED, 'reference_texts.json'), 'utf8'));
const dim = ref.embeddings[0].length;

function maxDiff(a, b) {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

// Every vector within TOL of both references (alone and batched).
function matchesReference(vectors, what) {
  check(vectors.length === texts.length, `${what}: one vector per text`);
  let worst = 0;
  for (let i = 0; i < texts.length; i++)
    worst = Math.max(worst, maxDiff(vectors[i], ref.embeddings[i]), maxDiff(vectors[i], ref.embeddings_batched[i]));
  check(worst <= TOL, `${what}: matches sentence-transformers within ${TOL} (max abs diff ${worst.toExponential(2)})`);
}

// ------------------------------------------------------------------ CLI
const cli = JSON.parse(execFileSync(ALLM, ['embed', EMBED, ...texts, '--json', '--threads', '1']).toString());
check(cli.object === 'list' && cli.data.every((d, i) => d.object === 'embedding' && d.index === i),
      'allm embed --json prints the OpenAI response shape');
matchesReference(cli.data.map((d) => d.embedding), 'allm embed');
check(cli.usage.prompt_tokens > 0 && cli.usage.total_tokens === cli.usage.prompt_tokens, 'allm embed --json usage');

const plain = execFileSync(ALLM, ['embed', EMBED, texts[1], '--threads', '1']).toString().trim().split(/\s+/).map(Number);
check(maxDiff(plain, ref.embeddings[1]) <= TOL, 'allm embed prints the vector as numbers on one line');

// Matryoshka truncation: the first 16 values, normalised again (the model normalises).
const short = execFileSync(ALLM, ['embed', EMBED, texts[0], '--dimensions', '16', '--threads', '1']).toString().trim().split(/\s+/).map(Number);
const head = ref.embeddings[0].slice(0, 16);
const norm = Math.hypot(...head);
check(short.length === 16 && maxDiff(short, head.map((x) => x / norm)) <= TOL, '--dimensions 16 keeps 16 values, renormalised');

function cliFails(args, code, what) {
  try {
    execFileSync(ALLM, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e.stderr.toString();
    check(e.status === code, `${what}: exit ${code} (${err.trim()})`);
    return err;
  }
  fail(`${what}: expected exit ${code}, got success`);
}
const notEmbedding = cliFails(['embed', TINY, 'hello'], 6, 'a model without modules.json');
check(/not an embedding model/.test(notEmbedding), 'the error says it is not an embedding model');
cliFails(['embed', EMBED, 'hello', '--dimensions', String(dim + 1)], 2, '--dimensions beyond the model');
cliFails(['embed', EMBED, 'x '.repeat(400), '--no-truncate'], 7, '--no-truncate with a text over max_seq_length');

// ----------------------------------------------------------------- server
const { OpenAI, Ollama } = clients();
const server = await startServer([TINY]);  // ALLM_MODEL (served first) is the embedding model
try {
  const base = server.url;
  const openai = new OpenAI({ baseURL: base + '/v1', apiKey: 'unused', maxRetries: 0 });
  const ollama = new Ollama({ host: base });
  const models = (await openai.models.list()).data.map((m) => m.id);
  const model = models.find((id) => id.includes('embedding'));
  check(model && models.includes('allm-tiny'), `both models listed (${models})`);

  const viaClient = await openai.embeddings.create({ model, input: texts });  // the client asks for base64
  matchesReference(viaClient.data.map((d) => Array.from(d.embedding)), 'OpenAI client embeddings.create');
  check(viaClient.usage.prompt_tokens === cli.usage.prompt_tokens && viaClient.model === model,
        `usage.prompt_tokens ${viaClient.usage.prompt_tokens} as the CLI's`);
  const floats = await openai.embeddings.create({ model, input: texts, encoding_format: 'float' });
  matchesReference(floats.data.map((d) => d.embedding), 'encoding_format float');
  const single = await openai.embeddings.create({ model, input: texts[2], dimensions: 8, encoding_format: 'float' });
  check(single.data.length === 1 && single.data[0].embedding.length === 8 &&
        Math.abs(Math.hypot(...single.data[0].embedding) - 1) < 1e-5, 'dimensions 8: 8 values, unit length');

  // Token-array input: the ids of the text as the model sees it give the same vector.
  const tok = await postJson(base + '/tokenize', { model, content: '<|im_start|>user\n' + texts[3] + '<|im_end|>\n' });
  const byIds = await openai.embeddings.create({ model, input: [tok.json.tokens], encoding_format: 'float' });
  check(maxDiff(byIds.data[0].embedding, ref.embeddings[3]) <= TOL, 'input as token ids');

  const ol = await ollama.embed({ model, input: texts });
  matchesReference(ol.embeddings, 'Ollama client embed');
  check(ol.prompt_eval_count === cli.usage.prompt_tokens && ol.total_duration > 0, 'Ollama embed counts and durations');
  const shown = await ollama.show({ model });
  check(shown.capabilities.includes('embedding') && !shown.capabilities.includes('completion') &&
        Object.entries(shown.model_info).some(([k, v]) => k.endsWith('.embedding_length') && v === dim),
        `Ollama show: capability "embedding", embedding_length ${dim}`);
  const legacy = await ollama.embeddings({ model, prompt: texts[4] });
  check(maxDiff(legacy.embedding, ref.embeddings[4]) <= TOL, 'Ollama client embeddings (/api/embeddings)');

  // Errors, each in its API's shape.
  const e1 = await expectError(openai.embeddings.create({ model: 'allm-tiny', input: 'hi' }), 400, 'a chat model');
  check(/not an embedding model/.test(e1.message), `OpenAI error names the problem (${e1.message})`);
  await expectError(openai.embeddings.create({ model, input: '' }), 400, 'empty input');
  await expectError(openai.embeddings.create({ model, input: [] }), 400, 'empty input list');
  await expectError(openai.embeddings.create({ model, input: 'hi', dimensions: dim + 1 }), 400, 'dimensions too large');
  await expectError(openai.embeddings.create({ model: 'no-such-model', input: 'hi' }), 404, 'unknown model');
  const bad = await postJson(base + '/v1/embeddings', { model, input: [1.5] });
  check(bad.status === 400 && bad.json?.error?.param === 'input', 'a non-integer token id: 400 naming input');
  const tooLong = await postJson(base + '/api/embed', { model, input: 'x '.repeat(400), truncate: false });
  check(tooLong.status === 400 && typeof tooLong.json?.error === 'string', `truncate false, too long: Ollama 400 (${tooLong.json?.error})`);
  const cut = await postJson(base + '/api/embed', { model, input: 'x '.repeat(400) });
  check(cut.status === 200 && cut.json.prompt_eval_count === 128, 'truncate (default): cut to max_seq_length 128');
  await expectError(ollama.embed({ model: 'allm-tiny', input: 'hi' }), 400, 'Ollama embed on a chat model');
} finally {
  const { code } = await stopServer(server);
  if (code !== 0) fail(`server exited with ${code}:\n${server.stderr}`);
}
console.log('embeddings: all checks passed');
