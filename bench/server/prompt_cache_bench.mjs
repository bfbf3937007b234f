// Time to first token of a request sharing a long prefix with an earlier one
// (the prompt cache), against the first request's, on allm serve.
// Usage: ALLM_BIN=build/bin/allm node bench/server/prompt_cache_bench.mjs MODEL [prefix_tokens=1000] [rounds=5]
// Each round starts from a fresh prefix (a different first word), sends
// request 1 (prefix + question A) and then request 2 (prefix + question B) on
// a --parallel 2 server, each streamed with max_tokens 1; prints the median
// time to first token of both, their ratio and the cached token counts.
import { spawn } from 'node:child_process';

const [model, prefixArg = '1000', roundsArg = '5'] = process.argv.slice(2);
const prefixTokens = Number(prefixArg), rounds = Number(roundsArg);
const threads = process.env.THREADS ?? '2';
if (!model) {
  console.error('usage: prompt_cache_bench.mjs MODEL [prefix_tokens] [rounds]');
  process.exit(2);
}

function start() {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.env.ALLM_BIN ?? 'allm', ['serve', model, '--port', '0', '--threads', threads,
      '--parallel', '2', '--log-format', 'off'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr.on('data', (d) => {
      err += d;
      const m = err.match(/listening on (http:\/\/\S+)\n/);
      if (m) resolve({ proc, url: m[1] });
    });
    proc.on('exit', () => reject(new Error(err)));
  });
}

async function post(url, path, body) {
  const r = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return r.json();
}

// Raw completion (no template): the prompt is exactly prefix + question.
async function ttft(url, modelId, prompt) {
  const t0 = performance.now();
  const r = await fetch(url + '/v1/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: modelId, prompt, max_tokens: 1, temperature: 0, stream: true,
      stream_options: { include_usage: true } }),
  });
  let first = null, usage = null;
  for await (const chunk of r.body) {
    if (first === null) first = performance.now() - t0;
    for (const line of Buffer.from(chunk).toString().split('\n'))
      if (line.startsWith('data: {') && line.includes('"usage":{')) usage = JSON.parse(line.slice(6)).usage;
  }
  return { ms: first, cached: usage?.prompt_tokens_details?.cached_tokens ?? 0, prompt: usage?.prompt_tokens ?? 0 };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const server = await start();
try {
  const modelId = (await (await fetch(server.url + '/v1/models')).json()).data[0].id;
  // A prefix of about prefixTokens tokens: grow a passage until it is that long.
  const words = 'the village lay quiet under a grey sky while the letters went back and forth between the houses'.split(' ');
  const prefixFor = async (round) => {
    let text = `Round ${round}.`;
    for (let i = 0; ; i++) {
      const next = text + ' ' + words[i % words.length];
      const n = (await post(server.url, '/tokenize', { model: modelId, content: next })).tokens.length;
      if (n > prefixTokens) return text;
      text = next;
    }
  };
  await ttft(server.url, modelId, 'Warm-up.');
  const first = [], second = [];
  let cached = 0, prompt = 0;
  for (let round = 0; round < rounds; round++) {
    const prefix = await prefixFor(round);
    first.push((await ttft(server.url, modelId, prefix + '\nQuestion: who wrote first?')).ms);
    const r2 = await ttft(server.url, modelId, prefix + '\nQuestion: who answered?');
    second.push(r2.ms);
    cached = r2.cached;
    prompt = r2.prompt;
  }
  const a = median(first), b = median(second);
  console.log(`prefix ~${prefixTokens} tokens, ${rounds} rounds, --threads ${threads}: ` +
              `first request TTFT ${a.toFixed(1)} ms, second ${b.toFixed(1)} ms (ratio ${(b / a).toFixed(3)}); ` +
              `second request: ${cached} of ${prompt} prompt tokens cached`);
} finally {
  server.proc.kill('SIGTERM');
}
