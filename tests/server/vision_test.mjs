// allm serve with a vision model (tests/data/vision/gemma3, qwen2_5_vl): images through
// each API — OpenAI image_url data URLs, Anthropic base64 image blocks (both
// interleaved with the text as the case has them), Ollama images (placed by
// `[img]` in the text, or before it where the case has them first) — reach the model as transformers' processor would give them: the
// prompt has the processor's token count, the first reply token's
// log-probabilities (OpenAI, Ollama) equal log-softmax of transformers'
// logits at the prompt's last position within 1e-3, and the greedy reply is
// transformers' greedy continuation. http(s) image URLs are refused without
// --allow-image-urls; bad base64 is a 400 naming the field; /api/show lists
// "vision".
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { check, clients, expectError, fail, postJson, startServer, stopServer } from './serve.mjs';

const { OpenAI, Anthropic, Ollama } = clients();
const dir = process.env.ALLM_VISION_DIR;
const ref = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8'));
const b64 = (name) => fs.readFileSync(path.join(dir, name)).toString('base64');

// reference.safetensors: F32/I32 tensors by name.
const st = fs.readFileSync(path.join(dir, 'reference.safetensors'));
const headerLen = Number(st.readBigUInt64LE(0));
const header = JSON.parse(st.subarray(8, 8 + headerLen).toString('utf8'));
function tensor(name) {
  const { dtype, shape, data_offsets: [a, b] } = header[name];
  const bytes = st.subarray(8 + headerLen + a, 8 + headerLen + b);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = [];
  for (let i = 0; i < bytes.byteLength / 4; i++) out.push(dtype === 'I32' ? view.getInt32(4 * i, true) : view.getFloat32(4 * i, true));
  return { shape, values: out };
}
function lastLogSoftmax(caseId) {
  const { shape: [n, v], values } = tensor(caseId + '.logits');
  const row = values.slice((n - 1) * v, n * v);
  const mx = Math.max(...row);
  const lse = mx + Math.log(row.reduce((s, x) => s + Math.exp(x - mx), 0));
  return row.map((x) => x - lse);
}

const server = await startServer();
const model = path.basename(process.env.ALLM_MODEL);
// Every reference case through OpenAI and Anthropic, its user turn's parts in
// the case's order (text and images interleaved: an API's parts keep their
// place up to the chat template); through Ollama, each image where an `[img]`
// stands in the message's text, or with no placeholder where the case has its
// images first (Ollama puts the images an `[img]` does not place before the text).
const cases = ref.cases.map((c) => {
  const parts = c.messages.at(-1).content;
  const kinds = parts.map((p) => p.type);
  let k = 0;
  return {
    id: c.id,
    system: c.messages[0].role === 'system' ? c.messages[0].content : null,
    images: c.images,
    parts: parts.map((p) => (p.type === 'image' ? { image: c.images[k++] } : { text: p.text })),
    imagesFirst: kinds.every((t, i) => t === (i === kinds.length - 1 ? 'text' : 'image')),
    text: parts.filter((p) => p.type === 'text').map((p) => p.text).join(''),
    // Ollama's content: `[img]` where each image goes (text parts next to each
    // other joined by a newline, as the OpenAI route joins them).
    placeholders: parts.map((p, i) => (p.type === 'image' ? '[img]' : (i > 0 && parts[i - 1].type === 'text' ? '\n' : '') + p.text))
      .join(''),
    promptTokens: tensor(c.id + '.input_ids').values.length,
    // The reply a correct model must give: all of it, or (where the reference says
    // how far its margins allow) the part before the first near-tie or stop token.
    greedyText: c.decisive_text ?? c.greedy_text,
    prefixOnly: c.decisive_text !== undefined,
    logprobs: lastLogSoftmax(c.id),
  };
});
const firstImagesFirst = cases.find((c) => c.imagesFirst);
// A reply that ends inside a character (a byte-level token holding its first
// bytes) streams without that partial character; transformers' decode shows it as U+FFFD.
const sameReply = (c, text) => {
  const want = c.prefixOnly ? c.greedyText.replace(/\uFFFD+$/u, '') : c.greedyText;
  return c.prefixOnly ? text.startsWith(want) : text === want;
};
const detok = async (id) => (await postJson(server.url + '/detokenize', { model, tokens: [id] })).json.content;

try {
  const openai = new OpenAI({ baseURL: server.url + '/v1', apiKey: 'unused', maxRetries: 0 });
  const anthropic = new Anthropic({ baseURL: server.url, apiKey: 'unused', maxRetries: 0 });
  const ollama = new Ollama({ host: server.url });

  for (const c of cases) {
    // ------------------------------------------------------------- OpenAI
    const messages = [];
    if (c.system) messages.push({ role: 'system', content: c.system });
    messages.push({ role: 'user', content: c.parts.map((p) => (p.image
      ? { type: 'image_url', image_url: { url: 'data:image/png;base64,' + b64(p.image) } }
      : { type: 'text', text: p.text })) });
    const r1 = await openai.chat.completions.create({ model, messages, temperature: 0, max_tokens: 16, logprobs: true,
                                                      top_logprobs: 3, repeat_penalty: 1 });
    check(r1.usage.prompt_tokens === c.promptTokens, `OpenAI ${c.id}: ${c.promptTokens} prompt tokens, as the processor makes them`);
    check(sameReply(c, r1.choices[0].message.content), `OpenAI ${c.id}: the greedy reply is transformers'`);
    const want = c.logprobs.map((v, id) => [id, v]).sort((a, b) => b[1] - a[1]).slice(0, 3);
    const got = r1.choices[0].logprobs.content[0].top_logprobs;
    let worst = 0;
    for (let j = 0; j < 3; j++) {
      if (got[j].token !== (await detok(want[j][0]))) fail(`OpenAI ${c.id}: alternative ${j} is ${JSON.stringify(got[j].token)}`);
      worst = Math.max(worst, Math.abs(got[j].logprob - want[j][1]));
    }
    check(worst < 1e-3, `OpenAI ${c.id}: first-token log-probabilities are transformers' (max diff ${worst.toExponential(2)})`);

    // ---------------------------------------------------------- Anthropic
    // repeat_penalty (llama.cpp's extension, as on the OpenAI route): Qwen2.5-VL's
    // generation_config sets 1.05, transformers' greedy reference had none.
    const r2 = await anthropic.messages.create({ model, max_tokens: 16, temperature: 0, repeat_penalty: 1,
      ...(c.system ? { system: c.system } : {}),
      messages: [{ role: 'user', content: c.parts.map((p) => (p.image
        ? { type: 'image', source: { type: 'base64', media_type: 'image/png', data: b64(p.image) } }
        : { type: 'text', text: p.text })) }] });
    const anthropicPrompt = r2.usage.input_tokens + (r2.usage.cache_read_input_tokens ?? 0);  // input_tokens: the uncached part
    check(anthropicPrompt === c.promptTokens, `Anthropic ${c.id}: ${c.promptTokens} input tokens (${anthropicPrompt})`);
    check(sameReply(c, r2.content[0].text), `Anthropic ${c.id}: the greedy reply is transformers' (${JSON.stringify(r2.content[0].text)})`);

    // ------------------------------------------------------------- Ollama
    const om = [];
    if (c.system) om.push({ role: 'system', content: c.system });
    om.push({ role: 'user', content: c.imagesFirst ? c.text : c.placeholders, images: c.images.map(b64) });
    const r3 = await ollama.chat({ model, messages: om, stream: false, logprobs: true, top_logprobs: 1,
                                   options: { temperature: 0, num_predict: 16, repeat_penalty: 1 } });
    check(r3.prompt_eval_count === c.promptTokens, `Ollama ${c.id}: ${c.promptTokens} prompt tokens`);
    check(sameReply(c, r3.message.content), `Ollama ${c.id}: the greedy reply is transformers'`);
    const first = r3.logprobs?.[0];
    check(first && Math.abs(first.logprob - want[0][1]) < 1e-3, `Ollama ${c.id}: the first token's log-probability is transformers'`);
  }

  // Ollama's placement rules beyond the reference cases, against OpenAI parts in
  // the order Ollama gives them: images an `[img]` does not place go before the
  // text (here image_b, then "Look:", image_a, " now"), and an `[img]` beyond the
  // images stays text. Same prompt: same token count and first-token log-probability.
  const [imgA, imgB] = [cases[0].images[0], cases.find((c) => c.images.length > 1)?.images[1] ?? cases[0].images[0]];
  const oaiImage = (f) => ({ type: 'image_url', image_url: { url: 'data:image/png;base64,' + b64(f) } });
  for (const [label, content, images, parts] of [
    ['a leftover image goes first', 'Look:[img] now', [imgA, imgB], [oaiImage(imgB), { type: 'text', text: 'Look:' }, oaiImage(imgA), { type: 'text', text: ' now' }]],
    ['an [img] beyond the images stays text', 'A[img]B[img]', [imgA], [{ type: 'text', text: 'A' }, oaiImage(imgA), { type: 'text', text: 'B[img]' }]],
  ]) {
    const o = await ollama.chat({ model, messages: [{ role: 'user', content, images: images.map(b64) }], stream: false, logprobs: true,
                                  options: { temperature: 0, num_predict: 1, repeat_penalty: 1 } });
    const p = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: parts }], temperature: 0, max_tokens: 1,
                                                     logprobs: true, repeat_penalty: 1 });
    const d = Math.abs(o.logprobs[0].logprob - p.choices[0].logprobs.content[0].logprob);
    check(o.prompt_eval_count === p.usage.prompt_tokens && d < 1e-4,
          `Ollama: ${label} (${o.prompt_eval_count}/${p.usage.prompt_tokens} prompt tokens, log-probability diff ${d.toExponential(1)})`);
  }

  // The SDK sends repeat_penalty to /v1/messages: an invalid one is refused there.
  const e0 = await expectError(anthropic.messages.create({ model, max_tokens: 4, repeat_penalty: 0,
    messages: [{ role: 'user', content: 'hi' }] }), 400, 'repeat_penalty 0 on /v1/messages');
  check(/'repeat_penalty' must be positive/.test(e0.error?.error?.message), `Anthropic repeat_penalty is read (${e0.error?.error?.message})`);

  // Ollama /api/generate takes images too, placed by `[img]` in the prompt.
  const c0 = cases.find((c) => !c.imagesFirst) ?? firstImagesFirst;
  const g = await ollama.generate({ model, prompt: c0.imagesFirst ? c0.text : c0.placeholders, images: c0.images.map(b64), stream: false,
                                    ...(c0.system ? { system: c0.system } : {}),
                                    options: { temperature: 0, num_predict: 16, repeat_penalty: 1 } });
  check(g.prompt_eval_count === c0.promptTokens && sameReply(c0, g.response), `Ollama generate with an image (${c0.id}: ${JSON.stringify(g.response)})`);

  // Refusals: URLs without --allow-image-urls, bad base64, not an image.
  const e1 = await expectError(openai.chat.completions.create({ model, messages: [{ role: 'user', content: [
    { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }, { type: 'text', text: 'hi' }] }] }), 400, 'an http URL');
  check(/allow-image-urls/.test(e1.message), `an http(s) image URL needs --allow-image-urls (${e1.message})`);
  const e2 = await expectError(anthropic.messages.create({ model, max_tokens: 4, messages: [{ role: 'user', content: [
    { type: 'image', source: { type: 'base64', media_type: 'image/png', data: '***' } }] }] }), 400, 'bad base64');
  check(/source\.data is not valid base64/.test(e2.error?.error?.message), `bad base64 names the field (${e2.error?.error?.message})`);
  const e3 = await expectError(openai.chat.completions.create({ model, messages: [{ role: 'user', content: [
    { type: 'image_url', image_url: { url: 'data:image/png;base64,' + Buffer.from('not a png at all').toString('base64') } }] }] }),
    400, 'bytes that are no image');
  check(/not a PNG or JPEG image/.test(e3.message), `bytes that are no image: 400 saying so (${e3.message})`);

  const show = await postJson(server.url + '/api/show', { model });
  check(show.json.capabilities.includes('vision'), '/api/show lists vision');
} finally {
  const { code } = await stopServer(server);
  if (code !== 0) fail(`server exited with ${code}:\n${server.stderr}`);
}

// With --allow-image-urls the server fetches an http(s) image itself (here from
// a loopback HTTP server): the same prompt as the inline image; a 404 is a 400.
const files = http.createServer((req, res) => {
  if (req.url === '/image_a.png' || req.url === '/image_b.png') {
    res.writeHead(200, { 'content-type': 'image/png' });
    res.end(fs.readFileSync(path.join(dir, req.url.slice(1))));
  } else {
    res.writeHead(404);
    res.end('no such image');
  }
});
await new Promise((resolve) => files.listen(0, '127.0.0.1', resolve));
const filesUrl = `http://127.0.0.1:${files.address().port}`;
const fetching = await startServer(['--allow-image-urls']);
try {
  const openai = new OpenAI({ baseURL: fetching.url + '/v1', apiKey: 'unused', maxRetries: 0 });
  const c = firstImagesFirst;
  const r = await openai.chat.completions.create({ model, temperature: 0, max_tokens: 16, repeat_penalty: 1, messages: [
    ...(c.system ? [{ role: 'system', content: c.system }] : []),
    { role: 'user', content: [...c.images.map((f) => ({ type: 'image_url', image_url: { url: `${filesUrl}/${f}` } })),
                              { type: 'text', text: c.text }] }] });
  check(r.usage.prompt_tokens === c.promptTokens && sameReply(c, r.choices[0].message.content),
        '--allow-image-urls: a fetched image gives the inline image\'s prompt and reply');
  const e = await expectError(openai.chat.completions.create({ model, messages: [{ role: 'user', content: [
    { type: 'image_url', image_url: { url: filesUrl + '/missing.png' } }] }] }), 400, 'a URL answering 404');
  check(/HTTP 404/.test(e.message), `a URL answering 404 is a 400 saying so (${e.message})`);
} finally {
  files.close();
  const { code } = await stopServer(fetching);
  if (code !== 0) fail(`server exited with ${code}:\n${fetching.stderr}`);
}
console.log('vision: all checks passed');
