// Every kind of route at once on two models with several slots each: streamed
// and whole generations of the three APIs (some with n > 1 choices, tools or a
// schema), clients that leave mid-stream, and the inspection routes that read
// a model's providers from the HTTP handler threads while its slots generate
// (/tokenize, /detokenize, /apply-template, count_tokens, /api/show, /api/ps,
// /v1/models, /metrics). Under ThreadSanitizer (scripts/test.sh) this is the
// server's race hunt; everywhere it checks that each answer is whole and right
// in shape, the server stays healthy, and /metrics counts every request.
import { check, fail, postJson, startServer, stopServer } from './serve.mjs';

const server = await startServer(['--parallel', '3', '--threads', '2', process.env.ALLM_MODEL]);
const A = 'allm-tiny', B = 'allm-tiny-2';  // the same directory twice: two models, two lanes
let requests = 0;  // answered requests /metrics must count

async function get(path) {
  requests++;
  const r = await fetch(server.url + path);
  return { status: r.status, json: await r.json().catch(() => null), text: '' };
}
async function post(path, body) {
  requests++;
  return postJson(server.url + path, body);
}

// A streamed request read to its end; `leaveAfter` events: the client aborts.
async function stream(path, body, leaveAfter = Infinity) {
  requests++;
  const ac = new AbortController();
  const r = await fetch(server.url + path, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: ac.signal,
  });
  if (r.status !== 200) return { status: r.status, lines: [await r.text()] };
  const lines = [];
  let buf = '', left = false;
  try {
    for await (const chunk of r.body) {
      buf += Buffer.from(chunk).toString('utf8');
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) lines.push(line);
      }
      if (lines.length >= leaveAfter) {
        left = true;
        ac.abort();  // leaving the loop may throw the AbortError
        break;
      }
    }
  } catch (e) {
    if (!left || e.name !== 'AbortError') throw e;
  }
  return { status: 200, lines, left };
}

const chat = (model, i, extra = {}) => ({
  model, messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: `Question ${i}: why?` }],
  max_tokens: 12 + (i % 5), temperature: 0.7, seed: i, ...extra,
});
const weather = [{ type: 'function', function: { name: 'weather', description: 'Weather of a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];

const kinds = [
  async (i, m) => {  // OpenAI chat streamed, usage at the end
    const r = await stream('/v1/chat/completions', { ...chat(m, i), stream: true, stream_options: { include_usage: true } });
    if (r.lines.at(-1) !== 'data: [DONE]') return `chat stream ${i} did not end with [DONE]: ${r.lines.at(-1)}`;
    const usage = JSON.parse(r.lines.at(-2).slice(6)).usage;
    if (!(usage?.completion_tokens > 0)) return `chat stream ${i}: no usage in the last chunk`;
  },
  async (i, m) => {  // OpenAI completion, two choices
    const r = await post('/v1/completions', { model: m, prompt: `Once ${i}`, max_tokens: 8, n: 2, temperature: 1, seed: i });
    if (r.status !== 200 || r.json.choices.length !== 2) return `completion n=2 ${i}: ${r.status} ${r.text.slice(0, 200)}`;
  },
  async (i, m) => {  // a client that leaves after a few events (its generation is cancelled)
    const r = await stream('/v1/completions', { model: m, prompt: `Leave ${i}`, max_tokens: 200, ignore_eos: true, stream: true }, 3);
    if (r.status !== 200 || !r.left) return `leaving client ${i}: ${r.status}`;
  },
  async (i, m) => {  // Anthropic streamed: message_start first, message_stop last
    const r = await stream('/v1/messages', { model: m, max_tokens: 10, stream: true, system: 'Be brief.',
      messages: [{ role: 'user', content: `Hello ${i}` }] });
    const events = r.lines.filter((l) => l.startsWith('event: ')).map((l) => l.slice(7));
    if (events[0] !== 'message_start' || events.at(-1) !== 'message_stop') return `messages stream ${i}: ${events.join(',')}`;
  },
  async (i, m) => {  // Anthropic count_tokens (renders on the model's first slot's provider)
    const r = await post('/v1/messages/count_tokens', { model: m, messages: [{ role: 'user', content: `Count ${i}` }] });
    if (r.status !== 200 || !(r.json.input_tokens > 0)) return `count_tokens ${i}: ${r.status} ${r.text.slice(0, 200)}`;
  },
  async (i, m) => {  // Ollama chat NDJSON stream, done last
    const r = await stream('/api/chat', { model: m, messages: [{ role: 'user', content: `Hi ${i}` }],
      options: { num_predict: 8, seed: i } });
    const last = JSON.parse(r.lines.at(-1));
    if (!last.done || !(last.eval_count > 0)) return `ollama chat ${i}: ${r.lines.at(-1)}`;
  },
  async (i, m) => {  // tools: the reply is parsed for calls (preview of the prompt on the first slot)
    const r = await post('/v1/chat/completions', { ...chat(m, i), tools: weather, max_tokens: 10 });
    if (r.status !== 200 || !r.json.choices?.[0]?.message) return `tools ${i}: ${r.status} ${r.text.slice(0, 200)}`;
  },
  async (i, m) => {  // constrained by a schema
    const r = await post('/v1/chat/completions', { ...chat(m, i), max_tokens: 24,
      response_format: { type: 'json_schema', json_schema: { name: 'n', schema: { type: 'object',
        properties: { n: { type: 'integer' } }, required: ['n'] } } } });
    if (r.status !== 200) return `json_schema ${i}: ${r.status} ${r.text.slice(0, 200)}`;
  },
  async (i, m) => {  // tokenize / detokenize round trip
    const t = await post('/tokenize', { model: m, content: `Round trip ${i}`, with_pieces: true });
    if (t.status !== 200) return `tokenize ${i}: ${t.status}`;
    const d = await post('/detokenize', { model: m, tokens: t.json.tokens.map((x) => x.id) });
    if (d.status !== 200 || d.json.content !== `Round trip ${i}`) return `detokenize ${i}: ${d.text.slice(0, 200)}`;
  },
  async (i, m) => {  // the chat template
    const r = await post('/apply-template', { model: m, messages: [{ role: 'user', content: `Template ${i}` }] });
    if (r.status !== 200 || !r.json.prompt.includes(`Template ${i}`)) return `apply-template ${i}: ${r.text.slice(0, 200)}`;
  },
  async (i, m) => {  // model listings and metrics
    const [models, ps, show, tags, metrics] = await Promise.all([get('/v1/models'), get('/api/ps'),
      post('/api/show', { model: m }), get('/api/tags'),
      (async () => ({ status: (await fetch(server.url + '/metrics')).status }))()]);  // not counted: /metrics
    if (models.json?.data?.length !== 2 || ps.status !== 200 || show.status !== 200 || tags.status !== 200 ||
        metrics.status !== 200)
      return `listings ${i}: ${models.status} ${ps.status} ${show.status} ${tags.status} ${metrics.status}`;
  },
];

try {
  const total = 66, width = 12;
  const errors = [];
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < total) {
      const i = next++;
      const err = await kinds[i % kinds.length](i, i % 2 ? B : A).catch((e) => `request ${i} threw: ${e.stack}`);
      if (err) errors.push(err);
    }
  }));
  if (errors.length) fail(`${errors.length} of ${total} requests went wrong:\n${errors.join('\n')}\n${server.stderr}`);
  check(true, `${total} mixed requests (${kinds.length} kinds, 2 models x 3 slots, ${width} at once) all answered whole`);
  requests++;
  check((await fetch(server.url + '/health')).status === 200, 'the server is still healthy');
  // Every exchange ended and was counted, the leaving clients' too (theirs
  // end when the generation notices, so this may take a moment).
  let counted = -1;
  for (let tries = 0; tries < 300 && counted !== requests; tries++) {
    if (tries) await new Promise((r) => setTimeout(r, 100));
    const text = await (await fetch(server.url + '/metrics')).text();
    counted = [...text.matchAll(/^allm_requests_total\{route="([^"]*)",status="\d+"\} (\d+)$/gm)]
      .filter((m) => m[1] !== '/metrics').reduce((a, m) => a + Number(m[2]), 0);
  }
  check(counted === requests, `/metrics counts every request (${counted} of ${requests})`);
} catch (e) {
  console.error(server.stderr);
  fail(e.stack);
} finally {
  const st = await stopServer(server);
  if (st.code !== 0) fail(`server exit ${JSON.stringify(st)}:\n${server.stderr}`);
}
check(true, 'SIGTERM: exit 0');
