// Aggregate decode speed of allm serve under concurrent clients.
// Usage: ALLM_BIN=build/bin/allm node bench/server/concurrent_bench.mjs MODEL [clients=8] [tokens=128] [parallel...]
// For each --parallel value: starts the server, warms up, then `clients`
// concurrent requests of `tokens` tokens each (ignore_eos, temperature 0);
// prints aggregate tokens/s and the mean time to first token.
import { spawn } from 'node:child_process';

const [model, clientsArg = '8', tokensArg = '128', ...parallels] = process.argv.slice(2);
const clients = Number(clientsArg), tokens = Number(tokensArg);
const threads = process.env.THREADS ?? '2';
if (!model) {
  console.error('usage: concurrent_bench.mjs MODEL [clients] [tokens] [parallel...]');
  process.exit(2);
}

function start(parallel) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.env.ALLM_BIN ?? 'allm', ['serve', model, '--port', '0', '--threads', threads,
      '--parallel', String(parallel), '--log-format', 'off'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr.on('data', (d) => {
      err += d;
      const m = err.match(/listening on (http:\/\/\S+)\n/);
      if (m) resolve({ proc, url: m[1] });
    });
    proc.on('exit', () => reject(new Error(err)));
  });
}

async function one(url, i) {
  const t0 = performance.now();
  const r = await fetch(url + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: one.model, stream: true, max_tokens: tokens, ignore_eos: true, temperature: 0,
      messages: [{ role: 'user', content: `Tell me story number ${i}.` }], stream_options: { include_usage: true } }),
  });
  let ttft = null, text = '', usage = null;
  for await (const chunk of r.body) {
    if (ttft === null) ttft = performance.now() - t0;
    text += new TextDecoder().decode(chunk);
  }
  for (const line of text.split('\n'))
    if (line.startsWith('data: {')) usage = JSON.parse(line.slice(6)).usage ?? usage;
  return { ttft, completion: usage?.completion_tokens ?? 0 };
}

for (const parallel of parallels.length ? parallels : ['1', String(clients)]) {
  const { proc, url } = await start(parallel);
  const m = (await (await fetch(url + '/v1/models')).json()).data[0].id;
  one.model = m;
  await Promise.all(Array.from({ length: Math.min(clients, Number(parallel)) }, (_, i) => one(url, i)));  // warm-up
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: clients }, (_, i) => one(url, i)));
  const s = (performance.now() - t0) / 1000;
  const total = results.reduce((a, r) => a + r.completion, 0);
  const ttft = results.reduce((a, r) => a + r.ttft, 0) / results.length;
  console.log(`parallel ${parallel}: ${clients} clients x ${tokens} tokens: ${(total / s).toFixed(1)} tok/s aggregate, ` +
    `mean time to first token ${ttft.toFixed(0)} ms (${total} tokens in ${s.toFixed(2)} s)`);
  proc.kill('SIGTERM');
  await new Promise((r) => proc.on('exit', r));
}
