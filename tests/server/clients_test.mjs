// allm serve driven by the official OpenAI, Anthropic and Ollama clients.
// Oracles: at temperature 0 the three APIs and their streamed forms must give
// the same text for the same conversation (one engine, one template); token
// counts must agree across APIs; errors must come back in each API's shape.
import { ALLM, MODEL, check, clients, expectError, fail, startServer, stopServer } from './serve.mjs';

const { OpenAI, Anthropic, Ollama } = clients();
const server = await startServer(['--log-format', 'json']);
const base = server.url;
const openai = new OpenAI({ baseURL: base + '/v1', apiKey: 'unused', maxRetries: 0 });
const anthropic = new Anthropic({ baseURL: base, apiKey: 'unused', maxRetries: 0 });
const ollama = new Ollama({ host: base });

try {
  // ---------------------------------------------------------------- OpenAI
  const models = await openai.models.list();
  const ids = models.data.map((m) => m.id);
  check(ids.includes('allm-tiny') && models.data[0].object === 'model', `models.list lists allm-tiny (${ids})`);
  const model = 'allm-tiny';

  const messages = [{ role: 'user', content: 'Tell me about the weather in the village.' }];
  const params = { model, messages, temperature: 0, max_tokens: 40 };
  // Every comparison below runs with the prompt's prefix already in the KV
  // cache (one warm-up request first): greedy text can differ between a cold
  // prefill and a cached prefix where the model's top-2 logits nearly tie.
  await openai.chat.completions.create(params);
  const plain = await openai.chat.completions.create(params);
  const reply = plain.choices[0].message.content;
  check(typeof reply === 'string' && reply.length > 0, `chat reply: ${JSON.stringify(reply)}`);
  check(plain.object === 'chat.completion' && ['stop', 'length'].includes(plain.choices[0].finish_reason),
        'chat completion shape and finish_reason');
  const u = plain.usage;
  check(u.prompt_tokens > 0 && u.completion_tokens > 0 && u.total_tokens === u.prompt_tokens + u.completion_tokens,
        `chat usage adds up (${JSON.stringify(u)})`);

  const stream = await openai.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
  let streamed = '';
  let chunks = [];
  for await (const c of stream) chunks.push(c);
  for (const c of chunks) streamed += c.choices[0]?.delta?.content ?? '';
  check(streamed === reply, 'streamed text equals the plain reply at temperature 0');
  const last = chunks[chunks.length - 1];
  check(last.choices.length === 0 && last.usage && last.usage.completion_tokens === u.completion_tokens &&
        last.usage.prompt_tokens === u.prompt_tokens, 'usage in the last chunk, with choices []');
  check(chunks[chunks.length - 2].choices[0].finish_reason === plain.choices[0].finish_reason,
        'finish_reason in the chunk before the usage chunk');

  // The prompt cache: a follow-up turn re-uses the conversation's prefix.
  const followup = await openai.chat.completions.create({
    model, temperature: 0, max_tokens: 8,
    messages: [...messages, { role: 'assistant', content: reply }, { role: 'user', content: 'And tomorrow?' }],
  });
  const cached = followup.usage.prompt_tokens_details?.cached_tokens;
  check(cached > 0 && cached < followup.usage.prompt_tokens,
        `second request reports cached_tokens (${cached} of ${followup.usage.prompt_tokens})`);

  const prompt = 'It was a truth universally acknowledged';
  await openai.completions.create({ model, prompt, temperature: 0, max_tokens: 24 });  // warm-up, as above
  const comp = await openai.completions.create({ model, prompt, temperature: 0, max_tokens: 24 });
  check(comp.object === 'text_completion' && comp.choices[0].text.length > 0, `completion: ${JSON.stringify(comp.choices[0].text)}`);
  let compStreamed = '';
  for await (const c of await openai.completions.create({ model, prompt, temperature: 0, max_tokens: 24, stream: true }))
    compStreamed += c.choices[0]?.text ?? '';
  check(compStreamed === comp.choices[0].text, 'streamed completion equals the plain one');

  let e = await expectError(openai.chat.completions.create({ ...params, temperature: 'hot' }), 400, 'wrong type');
  check(e.error?.type === 'invalid_request_error' && e.param === 'temperature', 'wrong type: OpenAI error shape naming the param');
  e = await expectError(openai.chat.completions.create({ ...params, temperature: 7 }), 400, 'out of range');
  check(e.param === 'temperature', 'out-of-range temperature names the param');
  e = await expectError(openai.chat.completions.create({ ...params, model: 'no-such-model' }), 404, 'unknown model');
  check(e.code === 'model_not_found', 'unknown model: 404 model_not_found');
  e = await expectError(openai.chat.completions.create({ ...params, logit_bias: { 5: 10 } }), 400, 'logit_bias');
  check(e.param === 'logit_bias' && /not supported/.test(e.message), 'logit_bias: a clear 400 naming it (not silently dropped)');
  e = await expectError(openai.chat.completions.create({ ...params, n: 99 }), 400, 'n=99');
  check(e.param === 'n', 'n out of range: 400 naming n');
  e = await expectError(openai.chat.completions.create({ model, messages: [] }), 400, 'empty messages');
  check(e.param === 'messages', 'empty messages: 400 naming messages');

  // 8 concurrent streams all complete, each with the same text.
  const many = await Promise.all(Array.from({ length: 8 }, async () => {
    let t = '';
    for await (const c of await openai.chat.completions.create({ ...params, stream: true })) t += c.choices[0]?.delta?.content ?? '';
    return t;
  }));
  check(many.every((t) => t === reply), '8 concurrent streams complete with the plain reply');

  // ------------------------------------------------------------- Anthropic
  const msg = await anthropic.messages.create({ model, max_tokens: 40, temperature: 0, messages });
  check(msg.type === 'message' && msg.role === 'assistant' && msg.content[0].type === 'text', 'Anthropic message shape');
  check(msg.content[0].text === reply, 'Anthropic text equals the OpenAI reply (same engine and template)');
  check(['end_turn', 'max_tokens'].includes(msg.stop_reason), `stop_reason ${msg.stop_reason}`);
  check(msg.usage.input_tokens + msg.usage.cache_read_input_tokens === u.prompt_tokens &&
        msg.usage.output_tokens === u.completion_tokens, 'Anthropic usage matches OpenAI usage');

  const events = [];
  const ms = anthropic.messages.stream({ model, max_tokens: 40, temperature: 0, messages });
  for await (const ev of ms) events.push(ev.type);
  const final = await ms.finalMessage();
  const order = events.join(' ');
  check(/^message_start content_block_start (ping )?(content_block_delta )+content_block_stop message_delta message_stop$/.test(order),
        `Anthropic streaming event order: ${order.replace(/(content_block_delta )+/, 'content_block_delta* ')}`);
  check(final.content[0].text === reply && final.stop_reason === msg.stop_reason, 'streamed Anthropic message equals the plain one');

  const count = await anthropic.messages.countTokens({ model, messages });
  check(count.input_tokens === u.prompt_tokens, `count_tokens equals the prompt's tokens (${count.input_tokens})`);

  const word = reply.split(' ').filter((w) => w.length > 2)[1] ?? reply.split(' ')[0];
  const stopped = await anthropic.messages.create({ model, max_tokens: 40, temperature: 0, messages, stop_sequences: [word] });
  check(stopped.stop_reason === 'stop_sequence' && stopped.stop_sequence === word &&
        stopped.content[0].text === reply.slice(0, reply.indexOf(word)), `stop_sequences: stopped before "${word}"`);

  const beta = await fetch(base + '/v1/messages?beta=true', {
    method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'anthropic-beta': 'x' },
    body: JSON.stringify({ model, max_tokens: 5, messages }) });
  check(beta.status === 200, '/v1/messages?beta=true is accepted');

  e = await expectError(anthropic.messages.create({ model, messages }), 400, 'missing max_tokens');
  check(e.error?.type === 'error' && e.error?.error?.type === 'invalid_request_error', 'Anthropic error shape');
  e = await expectError(anthropic.messages.create({ model: 'no-such-model', max_tokens: 5, messages }), 404, 'Anthropic unknown model');
  check(e.error?.error?.type === 'not_found_error', 'Anthropic 404 is not_found_error');

  // ---------------------------------------------------------------- Ollama
  const oc = await ollama.chat({ model, messages, stream: false, options: { temperature: 0, num_predict: 40 } });
  check(oc.message.role === 'assistant' && oc.message.content === reply && oc.done === true,
        'Ollama chat equals the OpenAI reply');
  check(oc.prompt_eval_count === u.prompt_tokens && oc.eval_count === u.completion_tokens, 'Ollama counts match');
  let ocs = '';
  let lastPart;
  for await (const part of await ollama.chat({ model, messages, stream: true, options: { temperature: 0, num_predict: 40 } })) {
    ocs += part.message.content;
    lastPart = part;
  }
  check(ocs === reply && lastPart.done && lastPart.done_reason, 'Ollama streamed chat (NDJSON) equals the reply');
  const og = await ollama.generate({ model, prompt: messages[0].content, stream: false, options: { temperature: 0, num_predict: 40 } });
  check(og.response === reply, 'Ollama generate (templated prompt) equals the chat reply');
  const raw = await ollama.generate({ model, prompt, raw: true, stream: false, options: { temperature: 0, num_predict: 24 } });
  check(raw.response === comp.choices[0].text, 'Ollama raw generate equals the OpenAI completion');
  const tags = await ollama.list();
  check(tags.models.some((m) => m.name === model && m.size > 0), 'Ollama tags lists the model with its size');
  const show = await ollama.show({ model });
  check(show.details.family === 'qwen3' && show.model_info['qwen3.context_length'] > 0, 'Ollama show: family and context length');
  const ps = await ollama.ps();
  check(ps.models.some((m) => m.name === model), 'Ollama ps lists the loaded model');
  const version = await (await fetch(base + '/api/version')).json();
  check(typeof version.version === 'string' && version.version.length > 0, `Ollama version ${version.version}`);
  e = await expectError(ollama.chat({ model: 'no-such-model', messages, stream: false }), 404, 'Ollama unknown model');
  check(/not found/.test(e.error ?? e.message), 'Ollama 404 says not found');

  // ----------------------------------------------- a vanished client frees its slot
  const abort = new AbortController();
  const long = await openai.chat.completions.create(
    { model, messages, temperature: 0, max_tokens: 900, ignore_eos: true, stream: true }, { signal: abort.signal });
  try {
    for await (const c of long) {
      if (c.choices[0]?.delta?.content) break;  // leaving the loop aborts the request
    }
  } catch {}
  abort.abort();
  const t0 = Date.now();
  const after = await openai.chat.completions.create({ ...params, max_tokens: 4 });
  check(after.choices[0].message.content.length > 0, `the next request ran (${Date.now() - t0} ms after the abort)`);
  await new Promise((r) => setTimeout(r, 200));
  // The access log (--log-format json): the aborted request ended, cancelled,
  // before the request that followed it ran.
  const records = server.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const afterAt = records.findLastIndex((r) => r.route === '/v1/chat/completions' && r.completion_tokens === 4);
  const gone = records.slice(0, afterAt).findLast((r) => r.client_gone);
  check(gone && gone.completion_tokens < 900, `the vanished client's generation was cancelled (${gone?.completion_tokens} of 900 tokens)`);

  // ------------------------------- 200 requests at 16-way concurrency, RSS steady
  const fs = await import('node:fs');
  const rss = () => Number(fs.readFileSync(`/proc/${server.proc.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]);
  const burst = async (n) => {
    let next = 0;
    let errors = 0;
    await Promise.all(Array.from({ length: 16 }, async (_, w) => {
      while (next < n) {
        const i = next++;
        try {
          if (i % 2) {
            let t = '';
            for await (const c of await openai.chat.completions.create({ model, messages: [{ role: 'user', content: `Question ${i}?` }], max_tokens: 4, stream: true }))
              t += c.choices[0]?.delta?.content ?? '';
          } else {
            await anthropic.messages.create({ model, max_tokens: 4, messages: [{ role: 'user', content: `Question ${i}?` }] });
          }
        } catch (e) {
          errors++;
          console.error(e.message);
        }
      }
    }));
    return errors;
  };
  // Warm-up: allocator pools, thread stacks, and the shared prompt cache filled
  // to its bound (64 sequences kept, the least recently used replaced after that).
  await burst(80);
  const before = rss();
  const errors = await burst(200);
  const afterRss = rss();
  check(errors === 0, '200 requests at 16-way concurrency, no error');
  if (process.env.ALLM_SANITIZED === '1')  // LeakSanitizer checks for leaks there instead
    console.log(`skip - RSS growth (${before} kB -> ${afterRss} kB): AddressSanitizer holds freed memory in quarantine`);
  else check(afterRss < before * 1.1, `RSS growth under 10% (${before} kB -> ${afterRss} kB)`);
} finally {
  const st = await stopServer(server);
  if (st.code !== 0) fail(`server exit: ${JSON.stringify(st)}\n${server.stderr}`);
}
console.log('all client checks passed');
