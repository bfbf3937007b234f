// logprobs/top_logprobs (OpenAI chat and completions, Ollama), n > 1 choices
// and seed determinism across parallel slots, driven by the official clients.
// Oracles: the model's own logits from `allm logits` (log-softmax, greedy
// continuation computed here), and one request alone vs. the same request
// while others share the batch.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ALLM, MODEL, check, clients, expectError, fail, postJson, startServer, stopServer } from './serve.mjs';

const { OpenAI, Ollama } = clients();
const server = await startServer(['--parallel', '4']);
const base = server.url;
const openai = new OpenAI({ baseURL: base + '/v1', apiKey: 'unused', maxRetries: 0 });
const ollama = new Ollama({ host: base });
const model = 'allm-tiny';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'allm-sampling-'));

// Logits of the last position of `ids`, from `allm logits` (F32 [n, vocab]).
function lastLogits(ids) {
  const out = path.join(tmp, 'logits.safetensors');
  execFileSync(ALLM, ['logits', MODEL, '--tokens', ids.join(','), '--out', out, '--threads', '1']);
  const buf = fs.readFileSync(out);
  const n = Number(buf.readBigUInt64LE(0));
  const t = JSON.parse(buf.subarray(8, 8 + n).toString()).logits;
  const [rows, vocab] = t.shape;
  const start = 8 + n + t.data_offsets[0] + (rows - 1) * vocab * 4;
  const row = new Float32Array(buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + start + vocab * 4));
  return Array.from(row);
}

function logSoftmax(logits) {
  const m = Math.max(...logits);
  const lse = m + Math.log(logits.reduce((s, x) => s + Math.exp(x - m), 0));
  return logits.map((x) => x - lse);
}

function topK(lp, k) {
  return lp.map((v, id) => [id, v]).sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, k);
}

const detok = async (id) => (await postJson(base + '/detokenize', { model, tokens: [id] })).json.content;

try {
  // ------------------------------------------------- completions logprobs
  const prompt = 'It was a truth universally acknowledged';
  const steps = 5, k = 3;
  const comp = await openai.completions.create({ model, prompt, temperature: 0, max_tokens: steps, logprobs: k, ignore_eos: true,
                                                repeat_penalty: 1 });  // no penalty: greedy picks the top token
  const lp = comp.choices[0].logprobs;
  check(lp && lp.tokens.length === steps && lp.token_logprobs.length === steps && lp.top_logprobs.length === steps &&
        lp.text_offset.length === steps, `completions logprobs: ${steps} tokens with their log-probabilities`);
  check(lp.tokens.join('') === comp.choices[0].text, 'the tokens spell the reply');
  check(lp.text_offset.every((o, i) => o === lp.tokens.slice(0, i).join('').length), 'text_offset counts from the reply start');

  // The oracle: the model's logits for the prompt and the greedy continuation.
  let ids = (await postJson(base + '/tokenize', { model, content: prompt, add_special: true })).json.tokens;
  let worst = 0;
  for (let s = 0; s < steps; s++) {
    const want = topK(logSoftmax(lastLogits(ids)), k);
    const got = Object.entries(lp.top_logprobs[s]).sort((a, b) => b[1] - a[1]);
    check(got.length === k, `step ${s}: ${k} alternatives`);
    for (let j = 0; j < k; j++) {
      if (got[j][0] !== (await detok(want[j][0]))) fail(`step ${s}: alternative ${j} is ${JSON.stringify(got[j][0])}, the logits say ${JSON.stringify(await detok(want[j][0]))}`);
      worst = Math.max(worst, Math.abs(got[j][1] - want[j][1]));
    }
    worst = Math.max(worst, Math.abs(lp.token_logprobs[s] - want[0][1]));  // greedy: the chosen one is the top
    ids = [...ids, want[0][0]];
  }
  check(worst < 1e-3, `log-probabilities equal log-softmax of allm logits (max diff ${worst.toExponential(2)})`);

  // ------------------------------------------------------- chat logprobs
  const messages = [{ role: 'user', content: 'Tell me about the weather in the village.' }];
  const chatParams = { model, messages, temperature: 0, max_tokens: 12, logprobs: true, top_logprobs: 2, repeat_penalty: 1 };
  const chat = await openai.chat.completions.create(chatParams);
  const content = chat.choices[0].logprobs.content;
  check(content.length === chat.usage.completion_tokens, `chat logprobs: one entry per completion token (${content.length})`);
  check(content.every((e) => e.logprob <= 0 && e.top_logprobs.length === 2 && e.top_logprobs[0].logprob >= e.top_logprobs[1].logprob &&
        e.token === e.top_logprobs[0].token && Math.abs(e.logprob - e.top_logprobs[0].logprob) < 1e-6 &&
        Buffer.from(e.bytes).toString() === e.token), 'greedy: each token is its top alternative; bytes spell the token');
  const stream = await openai.chat.completions.create({ ...chatParams, stream: true });
  const streamed = [];
  for await (const c of stream) for (const e of c.choices[0]?.logprobs?.content ?? []) streamed.push(e);
  // (Within float noise: the streamed request starts from the cached prefix.)
  check(streamed.length === content.length && streamed.every((e, i) => e.token === content[i].token &&
        Math.abs(e.logprob - content[i].logprob) < 1e-4 &&
        e.top_logprobs.every((t, j) => t.token === content[i].top_logprobs[j].token)),
        'streamed logprobs equal the whole reply\'s');
  const plainChat = await openai.chat.completions.create({ model, messages, temperature: 0, max_tokens: 4 });
  check(plainChat.choices[0].logprobs === null, 'no logprobs unless asked');

  await expectError(openai.chat.completions.create({ model, messages, top_logprobs: 2 }), 400, 'top_logprobs without logprobs');
  await expectError(openai.chat.completions.create({ model, messages, logprobs: true, top_logprobs: 21 }), 400, 'top_logprobs 21');

  // Ollama: logprobs / top_logprobs on /api/chat and /api/generate.
  const och = await ollama.chat({ model, messages, stream: false, logprobs: true, top_logprobs: 2,
                                  options: { temperature: 0, num_predict: 12, repeat_penalty: 1 } });
  check(och.message.content === chat.choices[0].message.content && och.logprobs?.length === content.length &&
        och.logprobs.every((e, i) => e.token === content[i].token && Math.abs(e.logprob - content[i].logprob) < 1e-4 &&
                           e.top_logprobs.length === 2),
        'Ollama chat logprobs equal the OpenAI route\'s');
  let ogLp = [];
  for await (const part of await ollama.generate({ model, prompt, raw: true, stream: true, logprobs: true,
                                                   options: { temperature: 0, num_predict: steps, repeat_penalty: 1 } }))
    ogLp.push(...(part.logprobs ?? []));
  check(ogLp.length === steps && ogLp.every((e, i) => e.token === lp.tokens[i] && Math.abs(e.logprob - lp.token_logprobs[i]) < 1e-4),
        'Ollama generate (streamed) logprobs equal the completions route\'s');

  // ------------------------------------------------------------ n choices
  const nParams = { model, messages, temperature: 1.0, max_tokens: 16, n: 3, seed: 42 };
  const a = await openai.chat.completions.create(nParams);
  const b = await openai.chat.completions.create(nParams);
  check(a.choices.length === 3 && a.choices.every((c, i) => c.index === i), 'n 3: three choices, indexed');
  check(JSON.stringify(a.choices) === JSON.stringify(b.choices), 'n 3 with a seed: the same choices again');
  check(new Set(a.choices.map((c) => c.message.content)).size > 1, 'the choices differ from each other');
  const one = await openai.chat.completions.create({ ...nParams, n: 1, seed: 43 });
  check(one.choices[0].message.content === a.choices[1].message.content, 'choice i uses seed + i');
  const nStream = await openai.chat.completions.create({ ...nParams, stream: true, stream_options: { include_usage: true } });
  const texts = ['', '', ''];
  const finishes = [null, null, null];
  let usage = null;
  for await (const c of nStream) {
    if (c.usage) usage = c.usage;
    for (const ch of c.choices) {
      texts[ch.index] += ch.delta?.content ?? '';
      if (ch.finish_reason) finishes[ch.index] = ch.finish_reason;
    }
  }
  check(texts.every((t, i) => t === a.choices[i].message.content) && finishes.every((f, i) => f === a.choices[i].finish_reason),
        'n 3 streamed: each index streams the text of its choice');
  check(usage && usage.completion_tokens === a.usage.completion_tokens && usage.prompt_tokens === a.usage.prompt_tokens,
        `usage counts the prompt once and every choice's tokens (${JSON.stringify(a.usage)})`);
  await expectError(openai.chat.completions.create({ model, messages, n: 0 }), 400, 'n 0');
  await expectError(openai.chat.completions.create({ model, messages, n: 17 }), 400, 'n 17');

  // ------------------------------------- seed determinism across the slots
  const seeded = { model, messages, temperature: 0.9, top_p: 0.95, max_tokens: 24, seed: 7 };
  const alone = (await openai.chat.completions.create(seeded)).choices[0].message.content;
  const others = [1, 2, 3].map((s) => openai.chat.completions.create({ ...seeded, seed: 100 + s,
    messages: [{ role: 'user', content: `A different question, number ${s}.` }] }));
  const together = await Promise.all([openai.chat.completions.create(seeded), openai.chat.completions.create(seeded), ...others]);
  const stats = await (await fetch(base + '/metrics')).text();
  const merged = Number(stats.match(/allm_batched_forward_calls_total (\d+)/)?.[1] ?? 0);
  check(together.slice(0, 2).every((r) => r.choices[0].message.content === alone),
        `same seed, same reply alone and while batched with 4 others (${merged} merged forward calls)`);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
  const { code } = await stopServer(server);
  if (code !== 0) fail(`server exited with ${code}:\n${server.stderr}`);
}
console.log('sampling: all checks passed');
