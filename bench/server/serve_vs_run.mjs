// What `allm serve` adds for one client: one streaming client of `allm serve
// --parallel 1` against `allm run` in-process on the same model, prompt length,
// reply length and threads, the sides taken in turn (the order alternates each
// round), medians and serve/run ratios printed. Optionally llama.cpp's
// llama-server (-np 1) as a third side, for allm serve / llama-server.
//
// Usage:
//   ALLM_BIN=build/bin/allm node bench/server/serve_vs_run.mjs MODEL [options]
//   --threads N      compute threads on every side (default 2)
//   --tokens N       reply tokens (ignore_eos, temperature 0; default 64)
//   --prompt N       prompt tokens, about (default 100)
//   --rounds N       rounds (default 5)
//   --repeats N      requests (serve, llama-server: on one server start) or runs
//                    (allm run) per side and round; the round's figure is their
//                    median (default 3)
//   --cpus LIST      pin every side with `taskset -c LIST` (e.g. 0,1)
//   --peer PATH      also llama-server (a hand build; never built here)
//   --peer-args "A"  extra llama-server arguments (e.g. "--no-repack")
//
// Measured per side and round, each with a prompt of its own (nothing of it
// cached anywhere):
//   serve  time to first token: from sending a streamed raw /v1/completions to
//          the first text event arriving (HTTP, tokenization, prefill, first
//          sample, SSE; the server is warmed up by an 8-token request first);
//          decode: (reply tokens - 1) / (last event - first event)
//   run    `allm run --raw --stats`: time to first token = its prefill time
//          (the forward passes over the prompt only: no tokenization, no
//          process start, so the comparison is strict on serve); decode = its
//          decode steps / decode time
// Load average is printed with every round: on a shared machine read the ratios.
import { spawn, execFile } from 'node:child_process';
import { freePort, loadText as load, median, sleep, sseEvents, stopServer, waitHealthy } from './bench_lib.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const threads = opt('threads', '2');
const tokens = Number(opt('tokens', '64'));
const promptTokens = Number(opt('prompt', '100'));
const rounds = Number(opt('rounds', '5'));
const repeats = Number(opt('repeats', '3'));
const cpus = opt('cpus', null);
const peer = opt('peer', null);
const peerArgs = (opt('peer-args', '') ?? '').split(' ').filter(Boolean);
const allmBin = process.env.ALLM_BIN ?? 'allm';
const model = args[0];
if (!model || !(tokens > 1) || !(promptTokens > 0) || !(rounds > 0) || !(repeats > 0)) {
  console.error('usage: ALLM_BIN=PATH node serve_vs_run.mjs MODEL [--threads N] [--tokens N] [--prompt N] ' +
                '[--rounds N] [--repeats N] [--cpus LIST] [--peer LLAMA_SERVER] [--peer-args "..."]');
  process.exit(2);
}
const pinned = (bin, argv) => (cpus ? ['taskset', ['-c', cpus, bin, ...argv]] : [bin, argv]);
const ctx = 2048;  // llama-server's; allm serve and allm run both take config context_length

async function startServer(side) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const [bin, argv] = side === 'serve'
    ? pinned(allmBin, ['serve', model, '--port', String(port), '--threads', threads, '--parallel', '1',
        '--log-format', 'json', '--no-webui'])  // the access log's ttft_ms: time to first token inside the server
    : pinned(peer, ['-m', model, '--host', '127.0.0.1', '--port', String(port), '-t', threads, '-tb', threads,
        '-np', '1', '-c', String(ctx), '--no-webui', ...peerArgs]);
  const proc = spawn(bin, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const server = { proc, url, id: null, ttfts: [] };
  proc.stderr.on('data', (d) => {
    err = (err + d).slice(-4000);
    for (const m of String(d).matchAll(/^\{.*"route":"\/v1\/completions".*$/gm)) {
      const t = JSON.parse(m[0]).ttft_ms;
      if (typeof t === 'number') server.ttfts.push(t);
    }
  });
  await waitHealthy(url, proc, () => err, side);
  server.id = (await (await fetch(url + '/v1/models')).json()).data[0].id;
  return server;
}

async function stream(server, prompt, maxTokens) {
  const t0 = performance.now();
  const r = await fetch(server.url + '/v1/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: server.id, prompt, max_tokens: maxTokens, temperature: 0, ignore_eos: true,
      stream: true, stream_options: { include_usage: true } }),
  });
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
  let first = null, last = null, events = 0, usage = null;
  for await (const j of sseEvents(r)) {
    if (j.usage) usage = j.usage;
    if (j.choices?.length && typeof j.choices[0].text === 'string' && j.choices[0].text !== '') {
      const now = performance.now();
      if (first === null) first = now;
      last = now;
      events++;
    }
  }
  const completion = usage?.completion_tokens ?? events;
  return { ttft: first - t0, decode: (completion - 1) / ((last - first) / 1000), prompt: usage?.prompt_tokens,
           completion, cached: usage?.prompt_tokens_details?.cached_tokens ?? 0 };
}

const words = ('the village lay quiet under a grey sky while the letters went back and forth between the ' +
               'houses and nobody could say who had written first or why the answers took so long').split(' ');
const passage = (label, n) => {
  let t = label;
  for (let i = 0; i < n; i++) t += ' ' + words[(i * 7) % words.length];
  return t;
};

// The median of a side's repeats, key by key.
function medianOf(runs) {
  const out = {};
  for (const k of Object.keys(runs[0])) out[k] = median(runs.map((r) => r[k]));
  return out;
}

async function measureServer(side, label, words) {
  const server = await startServer(side);
  try {
    await stream(server, 'Warm-up: once upon a time', 8);
    const runs = [];
    for (let r = 0; r < repeats; r++) {
      const one = await stream(server, passage(`${r} ${label}`, words), tokens);
      if (side === 'serve') {  // the access log line is written as the exchange ends
        for (let i = 0; i < 50 && server.ttfts.length < r + 2; i++) await sleep(20);
        one.in_server_ttft = server.ttfts[r + 1] ?? NaN;  // [0]: the warm-up
      }
      runs.push(one);
    }
    return medianOf(runs);
  } finally {
    await stopServer(server);
  }
}

function runOnce(label, words) {
  const [bin, argv] = pinned(allmBin, ['run', model, passage(label, words), '--raw', '--max-tokens', String(tokens),
    '--ignore-eos', '--temperature', '0', '--threads', threads, '--stats']);
  return new Promise((resolve, reject) => {
    execFile(bin, argv, { maxBuffer: 1 << 24 }, (e, _out, err) => {
      if (e) return reject(new Error(err));
      const m = err.match(/prompt (\d+) tokens \((\d+) processed\) ([\d.]+) tok\/s \| reply (\d+) tokens ([\d.]+) tok\/s/);
      if (!m) return reject(new Error(`no --stats line in: ${err}`));
      resolve({ ttft: (Number(m[2]) / Number(m[3])) * 1000, decode: Number(m[5]), prompt: Number(m[1]),
                completion: Number(m[4]), cached: 0 });
    });
  });
}

async function measureRun(label, words) {
  const runs = [];
  for (let r = 0; r < repeats; r++) runs.push(await runOnce(`${r} ${label}`, words));
  return medianOf(runs);
}

// Words per token of this model's tokenizer, from one serve run's usage.
const probe = await (async () => {
  const server = await startServer('serve');
  try {
    const r = await fetch(server.url + '/tokenize', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: server.id, content: passage('Story 0.', promptTokens) }),
    });
    return (await r.json()).tokens.length;
  } finally {
    await stopServer(server);
  }
})();
const words_ = Math.max(1, Math.round(promptTokens * promptTokens / probe));

console.log(`model ${model}; --threads ${threads}; prompt ~${promptTokens} tokens, reply ${tokens} tokens; ` +
            `${rounds} rounds x ${repeats} repeats${cpus ? `; pinned to cpus ${cpus}` : ''}${peer ? `; llama-server ${peer} ${peerArgs.join(' ')}` : ''}`);
const sides = peer ? ['serve', 'run', 'peer'] : ['serve', 'run'];
const results = Object.fromEntries(sides.map((s) => [s, []]));
for (let round = 0; round < rounds; round++) {
  const order = round % 2 ? [...sides].reverse() : sides;
  const loadBefore = load();
  const parts = [];
  for (const side of order) {
    // The repeat's number first: no request shares a prefix with an earlier one.
    const label = `Story ${round}-${sides.indexOf(side)}.`;  // same length: same token count
    const r = side === 'run' ? await measureRun(label, words_) : await measureServer(side, label, words_);
    results[side].push(r);
    parts.push(`${side} ttft ${r.ttft.toFixed(1)} ms decode ${r.decode.toFixed(2)} tok/s (prompt ${r.prompt}, ` +
               `reply ${r.completion}${r.cached ? `, ${r.cached} cached` : ''})`);
  }
  console.log(`round ${round + 1} (load ${loadBefore} -> ${load()}): ${parts.join('; ')}`);
}

const med = (side, key) => median(results[side].map((x) => x[key]));
// Per-round ratios (the two sides of one round saw about the same load), then their median.
const ratio = (a, b, key) => median(results[a].map((x, i) => x[key] / results[b][i][key]));
console.log(`\nmedians of ${rounds} rounds (each the median of ${repeats} repeats) (load average at end ${load()})`);
console.log('| measure | ' + sides.map((s) => ({ serve: 'allm serve', run: 'allm run', peer: 'llama-server' })[s]).join(' | ') +
            ' | serve / run' + (peer ? ' | serve vs llama-server (>1: allm better)' : '') + ' |');
console.log('|---|' + sides.map(() => '---|').join('') + '---|' + (peer ? '---|' : ''));
for (const [label, key, higherBetter] of [['time to first token (ms)', 'ttft', false], ['decode tok/s', 'decode', true]]) {
  let line = `| ${label} | ${sides.map((s) => med(s, key).toFixed(key === 'ttft' ? 1 : 2)).join(' | ')} | ` +
             `${ratio('serve', 'run', key).toFixed(3)}`;
  if (peer) line += ` | ${(higherBetter ? ratio('serve', 'peer', key) : ratio('peer', 'serve', key)).toFixed(2)}x`;
  console.log(line + ' |');
}
const inServer = med('serve', 'in_server_ttft');
console.log(`\nallm serve's time to first token inside the server (access log ttft_ms: request read -> first text ` +
            `handed to the connection): ${inServer.toFixed(1)} ms; the client sees it ${(med('serve', 'ttft') - inServer).toFixed(1)} ms later`);
console.log('serve / run: median of the per-round ratios (time to first token: > 1 means serve is slower; ' +
            'decode: < 1 means serve is slower)');
