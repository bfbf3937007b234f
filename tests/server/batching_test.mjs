// --parallel N: generations of several clients decode together (continuous
// batching through the provider). Oracle: at temperature 0 every one of 8
// concurrent completions on a fresh server (every slot cold, like a fresh
// process) equals `allm run --raw` of the same prompt, and the forward passes
// really carried several sequences (/metrics).
import { execFileSync } from 'node:child_process';
import { ALLM, MODEL, check, fail, postJson, startServer, stopServer } from './serve.mjs';

const prompt = 'It was a truth universally acknowledged';
const solo = execFileSync(ALLM, ['run', MODEL, '--raw', prompt, '--temperature', '0', '--max-tokens', '24', '--threads', '1'],
  { encoding: 'utf8' }).replace(/\n$/, '');
check(solo.length > 0, `allm run --raw: ${JSON.stringify(solo)}`);

const server = await startServer(['--parallel', '8']);
try {
  const rs = await Promise.all(Array.from({ length: 8 }, () =>
    postJson(server.url + '/v1/completions', { model: 'allm-tiny', prompt, temperature: 0, max_tokens: 24 })));
  check(rs.every((r) => r.status === 200), '8 concurrent completions answered');
  const texts = rs.map((r) => r.json.choices[0].text);
  check(texts.every((t) => t === solo), 'each equals the solo run of allm run (batched forward == solo forward)');
  const metrics = await (await fetch(server.url + '/metrics')).text();
  const calls = Number(metrics.match(/allm_batched_forward_calls_total (\d+)/)?.[1]);
  const seqs = Number(metrics.match(/allm_batched_sequences_total (\d+)/)?.[1]);
  check(/allm_slots 8/.test(metrics), '8 slots');
  check(calls > 0 && seqs / calls > 2, `forward passes carried several sequences (${calls} passes, ${(seqs / calls).toFixed(1)} sequences each)`);

  // A new request joins while others decode: all finish with their full length.
  const long = Array.from({ length: 3 }, (_, i) => postJson(server.url + '/v1/chat/completions',
    { model: 'allm-tiny', messages: [{ role: 'user', content: `Story ${i}` }], max_tokens: 120, ignore_eos: true }));
  await new Promise((r) => setTimeout(r, 50));
  const late = await postJson(server.url + '/v1/chat/completions',
    { model: 'allm-tiny', messages: [{ role: 'user', content: 'Late' }], max_tokens: 5, ignore_eos: true });
  const done = await Promise.all(long);
  check(late.status === 200 && late.json.usage.completion_tokens === 5 &&
        done.every((r) => r.json.usage.completion_tokens === 120), 'a request joining running ones completes, and they do too');
} catch (e) {
  console.error(server.stderr);
  fail(e.stack);
} finally {
  const st = await stopServer(server);
  if (st.code !== 0) fail(`server exit ${JSON.stringify(st)}`);
}
console.log('all batching checks passed');
