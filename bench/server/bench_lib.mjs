// What the server benchmarks share: a free loopback port, starting and
// stopping a server process, reading a streamed completion's SSE events, and
// medians and the load average for their reports.
import { createServer } from 'node:net';
import { loadavg } from 'node:os';

export const freePort = () => new Promise((resolve) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Median of the finite values (NaN when there are none).
export const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};

export const loadText = () => loadavg().map((x) => x.toFixed(2)).join(' ');

// Polls GET /health until 200; `log()` is the server's recent stderr, shown if
// the process exits or stays unhealthy for 300 s.
export async function waitHealthy(url, proc, log, name = 'server') {
  for (let i = 0; i < 3000; i++) {
    if (proc.exitCode !== null) throw new Error(`${name} exited (${proc.exitCode}):\n${log()}`);
    try {
      if ((await fetch(url + '/health')).status === 200) return;
    } catch { /* not listening yet */ }
    await sleep(100);
  }
  throw new Error(`${name} not healthy after 300 s:\n${log()}`);
}

// SIGTERM, then SIGKILL if the process has not exited within 10 s.
export async function stopServer({ proc }) {
  if (proc.exitCode !== null) return;
  const exited = new Promise((r) => proc.on('exit', r));
  proc.kill('SIGTERM');
  await Promise.race([exited, sleep(10000)]);
  if (proc.exitCode === null) proc.kill('SIGKILL');
}

// The JSON object of each `data: {...}` line of an SSE response body, as it arrives.
export async function* sseEvents(response) {
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of response.body) {
    buf += decoder.decode(chunk, { stream: true });
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line.startsWith('data: {')) yield JSON.parse(line.slice(6));
    }
  }
}
