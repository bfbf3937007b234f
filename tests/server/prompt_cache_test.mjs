// The prompt cache shared across slots: with --parallel 2, a request whose
// prompt shares a prefix with an earlier one (on either slot) reuses its KV
// (usage.prompt_tokens_details.cached_tokens, Anthropic's
// cache_read_input_tokens) and answers as a server with the sharing off does.
import { check, clients, fail, postJson, startServer, stopServer } from './serve.mjs';

const { OpenAI, Anthropic } = clients();
const model = 'allm-tiny';
// A long shared system prompt (an agent's instructions), then different questions.
const system = Array.from({ length: 12 }, (_, i) =>
  `Rule ${i + 1}: answer in the manner of a polite letter, mention the weather, and keep to the village.`).join(' ');
const ask = (q) => ({ model, temperature: 0, max_tokens: 12, messages: [{ role: 'system', content: system }, { role: 'user', content: q }] });

async function withServer(args, fn) {
  const server = await startServer(args);
  try {
    return await fn(server.url);
  } finally {
    const { code } = await stopServer(server);
    if (code !== 0) fail(`server exited with ${code}:\n${server.stderr}`);
  }
}

const prefixTokens = await withServer([], async (base) =>
  (await postJson(base + '/tokenize', { model, content: system })).json.tokens.length);

const shared = await withServer(['--parallel', '2'], async (base) => {
  const openai = new OpenAI({ baseURL: base + '/v1', apiKey: 'unused', maxRetries: 0 });
  const anthropic = new Anthropic({ baseURL: base, apiKey: 'unused', maxRetries: 0 });
  const first = await openai.chat.completions.create(ask('Who came to dinner?'));
  check(first.usage.prompt_tokens_details.cached_tokens === 0, 'a cold server: nothing cached');
  // Two at once: both slots busy, so one of them runs on the slot that never
  // saw the system prompt — it can only reuse the other slot's sequence.
  const [a, b] = await Promise.all([openai.chat.completions.create(ask('What did they eat?')),
                                    openai.chat.completions.create(ask('What did they eat?'))]);
  for (const [name, r] of [['a', a], ['b', b]]) {
    const cached = r.usage.prompt_tokens_details.cached_tokens;
    check(cached >= prefixTokens && cached < r.usage.prompt_tokens,
          `request ${name} reuses the shared prefix: ${cached} of ${r.usage.prompt_tokens} prompt tokens cached (system prompt ${prefixTokens})`);
  }
  check(a.choices[0].message.content === b.choices[0].message.content, 'both slots answer alike');
  const msg = await anthropic.messages.create({ model, max_tokens: 12, temperature: 0, system,
                                                messages: [{ role: 'user', content: 'Was it raining?' }] });
  check(msg.usage.cache_read_input_tokens >= prefixTokens &&
        msg.usage.input_tokens + msg.usage.cache_read_input_tokens > prefixTokens,
        `Anthropic reports cache_read_input_tokens ${msg.usage.cache_read_input_tokens}`);
  const metrics = await (await fetch(base + '/metrics')).text();
  const cachedTotal = Number(metrics.match(/allm_prompt_cached_tokens_total (\d+)/)?.[1]);
  check(cachedTotal >= 3 * prefixTokens, `/metrics counts the cached tokens (${cachedTotal})`);
  const gauge = (name) => Number(metrics.match(new RegExp(`^${name} (\\d+)$`, 'm'))?.[1]);
  check(gauge('allm_kv_cache_bytes') > 0 && gauge('allm_prompt_cache_sequences') >= 2 && gauge('allm_prompt_cache_bytes') > 0,
        `/metrics reports KV use (${gauge('allm_kv_cache_bytes')} bytes, ${gauge('allm_prompt_cache_sequences')} kept sequences)`);
  return a.choices[0].message.content;
});

const unshared = await withServer(['--parallel', '2', '--prompt-cache', '0'], async (base) => {
  const openai = new OpenAI({ baseURL: base + '/v1', apiKey: 'unused', maxRetries: 0 });
  await openai.chat.completions.create(ask('Who came to dinner?'));
  const [a, b] = await Promise.all([openai.chat.completions.create(ask('What did they eat?')),
                                    openai.chat.completions.create(ask('What did they eat?'))]);
  const cached = [a, b].map((r) => r.usage.prompt_tokens_details.cached_tokens).sort((x, y) => x - y);
  check(cached[0] === 0, `--prompt-cache 0: the slot that did not see the prefix prefills all of it (cached ${cached})`);
  return a.choices[0].message.content;
});
check(shared === unshared, `the same reply with and without the shared cache (${JSON.stringify(shared)})`);
console.log('prompt cache: all checks passed');
