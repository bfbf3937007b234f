// allm serve against llama.cpp's llama-server on the same GGUF file, the two
// taken in turn (each round starts one server, measures everything, stops it,
// then the other; the order alternates), so machine load hits both alike.
//
// Usage:
//   LLAMA_SERVER=/path/to/llama-server ALLM_BIN=build/bin/allm \
//     node bench/server/compare_llama_server.mjs MODEL.gguf [options]
//   --threads N   compute threads on both sides (default 2)
//   --clients N   concurrent clients = slots on both sides (default 8)
//   --tokens N    tokens each client asks for (ignore_eos, default 64)
//   --prefix N    shared-prefix length of the prompt-cache case (default 1000)
//   --rounds N    rounds; medians are printed (default 3)
//   --peer PATH   the llama-server binary (or LLAMA_SERVER); it is never built here
//   --peer-args "A B"  extra llama-server arguments (e.g. "--no-repack")
//   --peer none   allm only (no ratios against the peer)
//   --log-dir DIR where each server's stderr goes, one file per server and
//                 round (default: a new directory under the system's temp
//                 directory; printed at the start, and named again with the
//                 file's last lines when a request fails)
//
// Every request is a raw streamed /v1/completions (no chat template, so both
// tokenize the same text), temperature 0. Measured per side:
//   one client     time to first token of a ~100-token prompt, decode tok/s, and
//                  tok/s end to end (tokens / time from request to last token)
//   N clients      N such requests at once: aggregate tok/s end to end (all
//                  tokens / time from the requests to the last token: it holds
//                  the prefill of all N prompts), aggregate decode tok/s while
//                  all N stream (tokens arriving between the last client's first
//                  token and the first client's last, over that window), mean
//                  time to first token
//   prompt cache   request A = fresh ~prefix-token text + question 1 (nothing to
//                  reuse: cache off), then B = the same text + question 2: B's time
//                  to first token against A's
// and, for allm only, `allm run` in-process on the one-client prompt (--stats).
// The ratios printed are allm against the peer measured in the same run.
import { spawn, execFile } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
const clients = Number(opt('clients', '8'));
const tokens = Number(opt('tokens', '64'));
const prefixTokens = Number(opt('prefix', '1000'));
const rounds = Number(opt('rounds', '3'));
const peerOpt = opt('peer', process.env.LLAMA_SERVER);
const peer = peerOpt === 'none' ? null : peerOpt;
const peerArgs = (opt('peer-args', '') ?? '').split(' ').filter(Boolean);
const allmBin = process.env.ALLM_BIN ?? 'allm';
const logDirOpt = opt('log-dir', null);
const model = args[0];
if (!model || !peerOpt) {
  console.error('usage: LLAMA_SERVER=PATH node compare_llama_server.mjs MODEL.gguf [--threads N] [--clients N] ' +
                '[--tokens N] [--prefix N] [--rounds N] [--peer PATH]');
  process.exit(2);
}
const ctxPerSlot = 2048;
if (prefixTokens + 64 > ctxPerSlot || 200 + tokens > ctxPerSlot) {
  console.error(`--prefix and --tokens must fit a ${ctxPerSlot}-token context`);
  process.exit(2);
}

// Each server's stderr goes to its own file (allm's access log in it: one line
// per request), kept after the run: a request that fails (a closed socket, an
// HTTP error) is reported with the file and its last lines, and whether the
// server had exited (code or signal) or was still running.
const logDir = logDirOpt ?? mkdtempSync(join(tmpdir(), 'allm-compare-'));
mkdirSync(logDir, { recursive: true });
const tailOf = (path) => {
  try {
    return readFileSync(path, 'utf8').slice(-4000);
  } catch {
    return '';
  }
};

async function startServer(side, round) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const argv = side === 'allm'
    ? [allmBin, ['serve', model, '--port', String(port), '--threads', threads, '--parallel', String(clients),
        '--ctx', String(ctxPerSlot), '--log-format', 'text', '--no-webui']]
    : [peer, ['-m', model, '--host', '127.0.0.1', '--port', String(port), '-t', threads, '-tb', threads,
        '-np', String(clients), '-cb', '-c', String(ctxPerSlot * clients), '--no-webui', ...peerArgs]];
  const log = join(logDir, `${side}-round${round + 1}.stderr.log`);
  const fd = openSync(log, 'w');
  const proc = spawn(argv[0], argv[1], { stdio: ['ignore', 'ignore', fd] });
  closeSync(fd);  // the child has its own copy
  let exit = null;
  proc.on('exit', (code, signal) => { exit = signal ? `killed by ${signal}` : `exited with code ${code}`; });
  await waitHealthy(url, proc, () => tailOf(log), side);
  const id = (await (await fetch(url + '/v1/models')).json()).data[0].id;
  return { proc, url, id, log, state: () => exit ?? 'still running' };
}

// One streamed raw completion: time to first token, decode rate, usage.
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
  const times = [];  // arrival of each text event
  for await (const j of sseEvents(r)) {
    if (j.usage) usage = j.usage;
    if (j.choices?.length && typeof j.choices[0].text === 'string') {
      const now = performance.now();
      if (first === null) first = now;
      last = now;
      events++;
      times.push(now);
    }
  }
  const completion = usage?.completion_tokens ?? events;
  return {
    ttft: first - t0,
    decode: completion > 1 && last > first ? (completion - 1) / ((last - first) / 1000) : NaN,
    e2e: last > t0 ? completion / ((last - t0) / 1000) : NaN,
    first,
    times,
    completion,
    cached: usage?.prompt_tokens_details?.cached_tokens ?? null,
    prompt: usage?.prompt_tokens ?? null,
    end: last,
  };
}

const words = ('the village lay quiet under a grey sky while the letters went back and forth between the ' +
               'houses and nobody could say who had written first or why the answers took so long').split(' ');
const passage = (label, n) => {
  let t = label;
  for (let i = 0; i < n; i++) t += ' ' + words[i % words.length];
  return t;
};
// Text of about `target` tokens: one /tokenize, then the word count scaled.
async function textOfTokens(server, label, target) {
  const probe = passage(label, target);
  const r = await fetch(server.url + '/tokenize', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: server.id, content: probe }),
  });
  const n = (await r.json()).tokens.length;
  return passage(label, Math.max(1, Math.round(target * target / n)));
}

async function measureServer(side, round) {
  const server = await startServer(side, round);
  try {
    await stream(server, 'Warm-up: once upon a time', 8);
    const prompt = await textOfTokens(server, `Story ${round}.`, 100);
    const one = await stream(server, prompt, tokens);
    const t0 = performance.now();
    const many = await Promise.all(Array.from({ length: clients }, (_, i) =>
      stream(server, prompt.replace(`Story ${round}.`, `Story ${round}-${i}.`), tokens)));
    const wall = (Math.max(...many.map((m) => m.end)) - t0) / 1000;
    // The window in which all N stream: from the last first token to the first last token.
    const from = Math.max(...many.map((m) => m.first)), to = Math.min(...many.map((m) => m.end));
    const inWindow = many.reduce((a, m) => a + m.times.filter((t) => t > from && t <= to).length, 0);
    const prefix = await textOfTokens(server, `Chapter ${round} (${side}).`, prefixTokens);
    const cold = await stream(server, prefix + '\nQuestion: who wrote first?', 1);
    const warm = await stream(server, prefix + '\nQuestion: who answered?', 1);
    return {
      one_ttft: one.ttft, one_decode: one.decode, one_e2e: one.e2e,
      many_tps: many.reduce((a, m) => a + m.completion, 0) / wall,
      many_decode: to > from ? inWindow / ((to - from) / 1000) : NaN,
      many_ttft: many.reduce((a, m) => a + m.ttft, 0) / many.length,
      cold_ttft: cold.ttft, warm_ttft: warm.ttft, cache_ratio: warm.ttft / cold.ttft,
      cached: warm.cached, prompt: warm.prompt, one_prompt: one.prompt, one_text: prompt,
    };
  } catch (e) {
    await sleep(500);  // let an exiting server's last words and exit status arrive
    const cause = e.cause ? ` (${e.cause.code ?? e.cause.message ?? e.cause})` : '';
    throw new Error(`${side}, round ${round + 1}: ${e.message}${cause}; the server ${server.state()}; ` +
                    `its stderr: ${server.log}\n--- last lines ---\n${tailOf(server.log)}`);
  } finally {
    await stopServer(server);
  }
}

// allm run in-process on the same prompt: prefill time stands for its time to first token.
function measureRun(prompt) {
  return new Promise((resolve, reject) => {
    execFile(allmBin, ['run', model, prompt, '--raw', '--max-tokens', String(tokens), '--ignore-eos',
      '--temperature', '0', '--threads', threads, '--stats'], { maxBuffer: 1 << 24 }, (e, _out, err) => {
      if (e) return reject(new Error(err));
      const m = err.match(/prompt (\d+) tokens \((\d+) processed\) ([\d.]+) tok\/s \| reply (\d+) tokens ([\d.]+) tok\/s/);
      if (!m) return reject(new Error(`no --stats line in: ${err}`));
      resolve({ run_ttft: (Number(m[2]) / Number(m[3])) * 1000, run_decode: Number(m[5]), run_prompt: Number(m[1]) });
    });
  });
}

console.log(`model ${model}; llama-server ${peer} ${peerArgs.join(' ')}; --threads ${threads}, ${clients} clients x ${tokens} tokens, prefix ~${prefixTokens} ` +
            `tokens, ${rounds} rounds; load average at start ${load()}; servers' stderr in ${logDir}`);
const results = { allm: [], peer: [], run: [] };
for (let round = 0; round < rounds; round++) {
  const order = round % 2 ? ['peer', 'allm'] : ['allm', 'peer'];
  for (const side of order) {
    if (side === 'peer' && !peer) continue;
    results[side].push(await measureServer(side === 'allm' ? 'allm' : 'llama', round));
  }
  results.run.push(await measureRun(results.allm.at(-1).one_text));  // allm serve's one-client prompt
  const nan = { one_ttft: NaN, one_decode: NaN, many_tps: NaN, many_decode: NaN, cold_ttft: NaN, warm_ttft: NaN };
  const a = results.allm.at(-1), p = results.peer.at(-1) ?? nan, r = results.run.at(-1);
  console.log(`round ${round + 1} (load ${load()}): ` +
    `1 client ttft ${a.one_ttft.toFixed(0)}/${p.one_ttft.toFixed(0)} ms, decode ${a.one_decode.toFixed(1)}/` +
    `${p.one_decode.toFixed(1)} tok/s; ${clients} clients ${a.many_tps.toFixed(1)}/${p.many_tps.toFixed(1)} tok/s ` +
    `(all streaming ${a.many_decode.toFixed(1)}/${p.many_decode.toFixed(1)}); ` +
    `cache ${a.cold_ttft.toFixed(0)}->${a.warm_ttft.toFixed(0)} / ${p.cold_ttft.toFixed(0)}->${p.warm_ttft.toFixed(0)} ms ` +
    `(allm/llama-server); allm run ttft ${r.run_ttft.toFixed(0)} ms decode ${r.run_decode.toFixed(1)} tok/s`);
}

const med = (side, key) => median(results[side].map((x) => x[key]));
const rows = [
  ['one client: time to first token (ms)', 'one_ttft', false],
  ['one client: decode tok/s', 'one_decode', true],
  ['one client: tok/s end to end', 'one_e2e', true],
  [`${clients} clients: aggregate tok/s end to end`, 'many_tps', true],
  [`${clients} clients: aggregate decode tok/s while all stream`, 'many_decode', true],
  [`${clients} clients: mean time to first token (ms)`, 'many_ttft', false],
  ['prompt cache: cold request time to first token (ms)', 'cold_ttft', false],
  ['prompt cache: shared-prefix request time to first token (ms)', 'warm_ttft', false],
  ['prompt cache: shared / cold', 'cache_ratio', false],
];
console.log(`\nmedians of ${rounds} rounds (load average at end ${load()})`);
console.log('| measure | allm serve | llama-server | allm vs llama-server (>1: allm better) |');
console.log('|---|---|---|---|');
for (const [label, key, higherBetter] of rows) {
  const a = med('allm', key), p = med('peer', key);
  const ratio = higherBetter ? a / p : p / a;
  const fmt = (x) => (key === 'cache_ratio' ? x.toFixed(3) : x.toFixed(1));
  console.log(`| ${label} | ${fmt(a)} | ${fmt(p)} | ${ratio.toFixed(2)}x |`);
}
const a1 = med('allm', 'one_ttft'), d1 = med('allm', 'one_decode');
const rt = med('run', 'run_ttft'), rd = med('run', 'run_decode');
console.log(`\nallm serve vs allm run in-process, one client: time to first token ${a1.toFixed(1)} vs ` +
            `${rt.toFixed(1)} ms (serve/run ${(a1 / rt).toFixed(3)}), decode ${d1.toFixed(1)} vs ${rd.toFixed(1)} ` +
            `tok/s (serve/run ${(d1 / rd).toFixed(3)})`);
const one = med('allm', 'one_decode');
// Like with like: end to end against end to end, decode against decode.
const scale = (side) => `${(med(side, 'many_tps') / med(side, 'one_e2e')).toFixed(2)}x end to end, ` +
  `${(med(side, 'many_decode') / med(side, 'one_decode')).toFixed(2)}x decoding (all ${clients} streaming / one client)`;
console.log(`allm ${clients} clients against one: ${scale('allm')}; ` +
            `aggregate end to end / one client decode ${(med('allm', 'many_tps') / one).toFixed(2)}x`);
if (peer) console.log(`llama-server ${clients} clients against one: ${scale('peer')}`);
const last = results.allm.at(-1);
console.log(`allm's shared-prefix request: ${last.cached} of ${last.prompt} prompt tokens cached; one-client prompt ` +
            `${last.one_prompt} tokens (allm run: ${results.run.at(-1).run_prompt})`);
