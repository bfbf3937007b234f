// Starts `allm serve` on a free loopback port for a test and stops it.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import fs from 'node:fs';

export const ALLM = process.env.ALLM_BIN;
export const MODEL = process.env.ALLM_MODEL;

// Servers still running when the test exits (a failed check) are killed.
const running = new Set();
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

export function fail(msg) {
  console.error('FAIL: ' + msg);
  process.exit(1);
}

export function check(cond, msg) {
  if (!cond) fail(msg);
  console.log('ok - ' + msg);
}

// The official clients, installed by fetch_clients.sh; exits 77 (skip) without them.
export function clients() {
  const cache = process.env.ALLM_CLIENT_CACHE;
  if (!cache || !fs.existsSync(path.join(cache, 'node_modules', 'openai'))) {
    console.log('skipped: the API clients are not installed (no npm?)');
    process.exit(77);
  }
  const require = createRequire(path.join(cache, 'package.json'));
  return {
    OpenAI: require('openai').OpenAI ?? require('openai').default,
    Anthropic: require('@anthropic-ai/sdk').Anthropic ?? require('@anthropic-ai/sdk').default,
    Ollama: require('ollama').Ollama,
  };
}

// Resolves once "allm serve: listening on http://H:P" is on stderr.
export function startServer(extraArgs = [], env = {}) {
  return new Promise((resolve, reject) => {
    const threads = extraArgs.includes('--threads') ? [] : ['--threads', '1'];
    const proc = spawn(ALLM, ['serve', MODEL, '--port', '0', ...threads, ...extraArgs], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const server = { proc, stderr: '', url: null, exited: null };
    running.add(proc);
    const timer = setTimeout(() => reject(new Error('server did not start:\n' + server.stderr)), 60000);
    proc.stderr.on('data', (d) => {
      server.stderr += d.toString();
      const m = server.stderr.match(/allm serve: listening on (http:\/\/\S+)\n/);
      if (m && !server.url) {
        server.url = m[1];
        clearTimeout(timer);
        resolve(server);
      }
    });
    proc.on('exit', (code, signal) => {
      running.delete(proc);
      server.exited = { code, signal };
      if (!server.url) {
        clearTimeout(timer);
        reject(new Error(`server exited (${code}, ${signal}) before listening:\n${server.stderr}`));
      }
    });
  });
}

// SIGTERM once (the server then drains and exits 0).
export function terminate(server) {
  server.terminated = true;
  server.proc.kill('SIGTERM');
}

export function stopServer(server) {
  return new Promise((resolve) => {
    if (server.exited) return resolve(server.exited);
    server.proc.on('exit', (code, signal) => resolve({ code, signal }));
    if (!server.terminated) terminate(server);
  });
}

export async function postJson(url, body, headers = {}) {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: r.status, headers: r.headers, text, json };
}

// An official client's call that must fail with this HTTP status; returns the error.
export async function expectError(promise, status, what) {
  try {
    await promise;
  } catch (e) {
    const got = e.status ?? e.status_code;
    if (got !== status) fail(`${what}: expected HTTP ${status}, got ${got} (${e.message})`);
    return e;
  }
  fail(`${what}: expected HTTP ${status}, got a success`);
}
