// allm serve's safety: size limits and timeouts on raw sockets, malformed
// input in each API's error shape, the JSON nesting limit, API keys, CORS,
// the queue bound, model-path refusal, the utility routes, and SIGTERM drain.
import net from 'node:net';
import { MODEL, check, fail, postJson, startServer, stopServer, terminate } from './serve.mjs';

// Sends `head` (and optionally more later) on a raw socket; resolves with
// what came back and when, once the server closes or `waitMs` passes.
function rawRequest(url, head, { waitMs = 5000 } = {}) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const t0 = Date.now();
    const sock = net.connect(Number(port), hostname, () => sock.write(head));
    let data = '';
    let firstByteMs = null;
    const done = () => resolve({ data, firstByteMs, closedMs: Date.now() - t0 });
    sock.on('data', (d) => {
      if (firstByteMs === null) firstByteMs = Date.now() - t0;
      data += d.toString();
    });
    sock.on('close', done);
    sock.on('error', () => {});
    setTimeout(() => sock.destroy(), waitMs);
  });
}

const key = 'test-secret-key-123';
// Under the sanitizers generation is 10-20 times slower: the SIGTERM drain below
// (320 tokens in flight) gets longer than the default 30 s to finish them.
const drain = process.env.ALLM_SANITIZED === '1' ? ['--drain-timeout', '300'] : [];
const server = await startServer(['--header-timeout', '2', '--queue', '1', '--api-key', key,
  '--cors-origin', 'http://allowed.example', '--max-json-depth', '16', ...drain], { ALLM_API_KEY: '' });
const base = server.url;
const auth = { authorization: 'Bearer ' + key };
const model = 'allm-tiny';
try {
  // ------------------------------------------------------------- API keys
  let r = await postJson(base + '/v1/chat/completions', { model, messages: [{ role: 'user', content: 'hi' }] });
  check(r.status === 401 && r.json?.error?.type === 'authentication_error', 'no key: 401 in OpenAI shape');
  r = await postJson(base + '/v1/messages', { model, max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] },
    { 'x-api-key': 'wrong' });
  check(r.status === 401 && r.json?.type === 'error' && r.json?.error?.type === 'authentication_error', 'wrong x-api-key: 401 in Anthropic shape');
  r = await postJson(base + '/v1/messages', { model, max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] },
    { 'x-api-key': key });
  check(r.status === 200, 'x-api-key accepted on /v1/messages');
  r = await postJson(base + '/api/chat', { model, stream: false, messages: [{ role: 'user', content: 'hi' }] });
  check(r.status === 401 && typeof r.json?.error === 'string', 'no key: 401 in Ollama shape');
  const health = await fetch(base + '/health');
  check(health.status === 200 && (await health.json()).status === 'ok', '/health needs no key');

  // ------------------------------------------------------ malformed input
  r = await postJson(base + '/v1/chat/completions', '{"model": "allm-tiny", "messages": [', auth);
  check(r.status === 400 && r.json?.error?.type === 'invalid_request_error' && /malformed JSON/.test(r.json.error.message),
        'malformed JSON: 400 in OpenAI shape');
  r = await postJson(base + '/v1/messages', '[1, 2', { 'x-api-key': key });
  check(r.status === 400 && r.json?.error?.type === 'invalid_request_error', 'malformed JSON: 400 in Anthropic shape');
  r = await postJson(base + '/api/generate', 'not json', auth);
  check(r.status === 400 && typeof r.json?.error === 'string', 'malformed JSON: 400 in Ollama shape');
  r = await postJson(base + '/v1/chat/completions', '{"a":' + '['.repeat(100000) + ']'.repeat(100000) + '}', auth);
  check(r.status === 400 && /nesting/.test(r.json?.error?.message), 'deep nesting: 400 (limit 16), no crash');
  r = await postJson(base + '/v1/chat/completions', { model, messages: 'hello' }, auth);
  check(r.status === 400 && r.json?.error?.param === 'messages', 'messages of the wrong type: 400 naming it');
  r = await postJson(base + '/v1/chat/completions', { model, messages: [{ role: 'user', content: 'x' }], max_tokens: -3 }, auth);
  check(r.status === 400 && r.json?.error?.param === 'max_tokens', 'negative max_tokens: 400 naming it');
  r = await postJson(base + '/api/chat', { model, stream: false, messages: [{ role: 'user', content: 'x' }], options: { num_predikt: 3 } }, auth);
  check(r.status === 400 && /num_predikt/.test(r.json?.error), 'unknown Ollama option: 400 naming it');
  r = await postJson(base + '/api/generate', { model, prompt: 'x', format: { type: 'object', properties: { a: { not: {} } } } }, auth);
  check(r.status === 400 && /'not'/.test(r.json?.error), 'Ollama format with a schema keyword it cannot honour: a 400 naming it, not dropped');

  // ------------------------------------------------------- size limits
  const huge = await rawRequest(base, 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
    'Authorization: Bearer ' + key + '\r\nContent-Length: 4294967296\r\n\r\n{');
  check(/^HTTP\/1\.1 413/.test(huge.data) && huge.firstByteMs < 1000, `4 GB Content-Length refused at once (413 after ${huge.firstByteMs} ms)`);
  const bigHead = await rawRequest(base, 'GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ' + 'a'.repeat(40000) + '\r\n\r\n');
  check(/^HTTP\/1\.1 431/.test(bigHead.data), 'a 40 kB header: 431');

  // A client trickling its headers neither blocks others nor holds on past the header timeout.
  const { hostname, port } = new URL(base);
  const slow = net.connect(Number(port), hostname);
  slow.on('error', () => {});
  const slowClosed = new Promise((res) => slow.on('close', () => res(Date.now())));
  const slowStart = Date.now();
  slow.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n');
  const trickle = setInterval(() => slow.write('X-Slow: a\r\n'), 300);
  const t0 = Date.now();
  const meanwhile = await fetch(base + '/v1/models', { headers: auth });
  check(meanwhile.status === 200 && Date.now() - t0 < 1500, `a slow-headers client does not block others (${Date.now() - t0} ms)`);
  const closedAt = await slowClosed;
  clearInterval(trickle);
  check(closedAt - slowStart < 5000, `the slow-headers client is dropped at the header timeout (${closedAt - slowStart} ms)`);

  // ------------------------------------------------------------- CORS
  const pre = await fetch(base + '/v1/chat/completions', { method: 'OPTIONS', headers: {
    origin: 'http://allowed.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });
  check(pre.status === 204 && pre.headers.get('access-control-allow-origin') === 'http://allowed.example', 'CORS preflight for the allowed origin');
  const other = await fetch(base + '/v1/models', { headers: { ...auth, origin: 'http://evil.example' } });
  check(other.status === 200 && other.headers.get('access-control-allow-origin') === null, 'no CORS headers for other origins');

  // ------------------------------------------------------ model names
  r = await postJson(base + '/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'x' }] }, auth);
  check(r.status === 200, 'the model path the server was started with is accepted');
  r = await postJson(base + '/v1/chat/completions', { model: '/etc', messages: [{ role: 'user', content: 'x' }] }, auth);
  check(r.status === 404 && /allow-any-model-path/.test(r.json?.error?.message), 'an arbitrary path is refused (404)');
  r = await postJson(base + '/v1/chat/completions', { model: MODEL + '/../allm-tiny', messages: [{ role: 'user', content: 'x' }] }, auth);
  check(r.status === 404, 'another spelling of a path is refused too');

  // ---------------------------------------------------------- utility routes
  const text = 'Mr. Darcy walked into the room.';
  r = await postJson(base + '/tokenize', { content: text }, auth);
  check(Array.isArray(r.json?.tokens) && r.json.tokens.length > 3, `/tokenize: ${r.json?.tokens?.length} tokens`);
  const back = await postJson(base + '/detokenize', { tokens: r.json.tokens }, auth);
  check(back.json?.content === text, '/detokenize inverts /tokenize');
  const tpl = await postJson(base + '/apply-template', { messages: [{ role: 'user', content: text }] }, auth);
  const count = await postJson(base + '/v1/messages/count_tokens', { model, messages: [{ role: 'user', content: text }] }, auth);
  check(tpl.json?.prompt.includes(text) && tpl.json.tokens === count.json?.input_tokens,
        '/apply-template renders the chat template (same token count as count_tokens)');
  r = await postJson(base + '/detokenize', { tokens: [99999999] }, auth);
  check(r.status === 400, '/detokenize of an id outside the vocabulary: 400');
  const metrics = await (await fetch(base + '/metrics', { headers: auth })).text();
  check(/allm_requests_total\{route="\/v1\/chat\/completions",status="200"\} \d+/.test(metrics) &&
        /allm_queue_depth 0/.test(metrics) && /allm_completion_tokens_total \d+/.test(metrics), '/metrics in Prometheus text');

  // ----------------------------------- the queue bound, then SIGTERM drains
  const long = (n) => postJson(base + '/v1/chat/completions',
    { model, messages: [{ role: 'user', content: 'Tell a story.' }], max_tokens: n, ignore_eos: true, temperature: 0 }, auth);
  const running = long(300);
  await new Promise((res) => setTimeout(res, 100));
  const queued = long(20);
  await new Promise((res) => setTimeout(res, 100));
  r = await long(5);
  check(r.status === 503 && r.headers.get('retry-after') === '1' && r.json?.error?.code === 'server_overloaded',
        'a full queue: 503 with Retry-After');
  terminate(server);
  const [a, b] = await Promise.all([running, queued]);
  check(a.status === 200 && a.json.usage.completion_tokens === 300 && b.status === 200 && b.json.usage.completion_tokens === 20,
        'SIGTERM: the running and the queued request both finish');
  const st = await stopServer(server);
  check(st.code === 0, 'then the server exits 0');
  check(!server.stderr.includes(key), 'the API key never appears in the log');
} catch (e) {
  console.error(server.stderr);
  fail(e.stack);
} finally {
  if (!server.exited) server.proc.kill('SIGKILL');
}
console.log('all limit checks passed');
