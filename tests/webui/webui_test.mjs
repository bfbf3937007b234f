// The chat page of allm serve in headless chromium (Debian's), driven by
// playwright-core: one server (the shipped model + a fixture model, with an
// API key), one browser. Each step leaves a screenshot in ALLM_SCREENSHOTS.
// Oracles: `allm run` on the same prompt (the streamed reply), the server's
// access log (cancellation), CommonMark's rendering of the Markdown cases.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ALLM, MODEL, startServer, stopServer } from '../server/serve.mjs';

const SECOND = process.env.ALLM_SECOND_MODEL;
const SHOTS = process.env.ALLM_SCREENSHOTS;
const KEY = 'webui-test-key';
const CHROMIUM = '/usr/bin/chromium';

function fail(msg) {
  console.error('FAIL: ' + msg);
  process.exitCode = 1;
  throw new Error(msg);
}
function check(cond, msg) {
  if (!cond) fail(msg);
  console.log('ok - ' + msg);
}

// axe-core's WCAG 2 A/AA rules over the page as it is now: [] when clean.
async function axeViolations(page) {
  const source = fs.readFileSync(path.join(process.env.ALLM_WEBUI_DRIVER, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  await page.evaluate(source);
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return r.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
}

function loadDriver() {
  const cache = process.env.ALLM_WEBUI_DRIVER;
  if (!cache || !fs.existsSync(path.join(cache, 'node_modules', 'playwright-core'))) {
    console.log('skipped: playwright-core is not installed (no npm?)');
    process.exit(77);
  }
  if (!fs.existsSync(CHROMIUM)) {
    console.log(`skipped: ${CHROMIUM} is missing (scripts/setup.sh installs Debian's chromium)`);
    process.exit(77);
  }
  return createRequire(path.join(cache, 'package.json'))('playwright-core');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(fn, what, timeoutMs = 30000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) fail('timed out waiting for ' + what);
    await sleep(50);
  }
}

// ---- checks over plain HTTP ------------------------------------------------

async function httpChecks(url) {
  const page = await fetch(url + '/', { headers: { accept: 'text/html,*/*' } });
  const csp = page.headers.get('content-security-policy') || '';
  check(page.status === 200 && page.headers.get('content-type').startsWith('text/html'),
    'GET / for a browser answers the page without the API key');
  check(/default-src 'none'/.test(csp) && /script-src 'self'(;|$)/.test(csp) && /connect-src 'self'(;|$)/.test(csp) &&
    !/unsafe-inline|unsafe-eval|\*|https?:/.test(csp), `the page's CSP allows its own origin only: ${csp}`);
  check(page.headers.get('x-content-type-options') === 'nosniff', 'assets are served with nosniff');
  const probe = await fetch(url + '/', { headers: { authorization: 'Bearer ' + KEY } });
  check(probe.status === 200 && (await probe.text()) === 'allm is running', "GET / without Accept: text/html keeps Ollama's probe answer");
  const js = await fetch(url + '/webui/js/app.js');
  check(js.status === 200 && js.headers.get('content-type').startsWith('text/javascript'), 'scripts are served as text/javascript');
  check((await fetch(url + '/webui/nope.js')).status === 404, 'a missing asset is 404');
  check((await fetch(url + '/v1/models')).status === 401, 'the API itself still needs the key');
  const models = await (await fetch(url + '/v1/models', { headers: { authorization: 'Bearer ' + KEY } })).json();
  return models.data.map((m) => m.id);
}

// ---- in-page unit checks of the renderer ---------------------------------

// Expected HTML is CommonMark's for the same input (raw HTML escaped, as
// with commonmark.js's safe mode), except links, which the page opens in a
// new tab without a referrer, and unsafe link targets, left as text.
const LINK = 'rel="noopener noreferrer nofollow" target="_blank"';
const MARKDOWN_CASES = [
  ['**bold** and *em* and `a<b`', '<p><strong>bold</strong> and <em>em</em> and <code>a&lt;b</code></p>'],
  ['# Title\n\ntext', '<h1>Title</h1><p>text</p>'],
  ['- one\n- two', '<ul><li>one</li><li>two</li></ul>'],
  ['3. c\n4. d', '<ol start="3"><li>c</li><li>d</li></ol>'],
  ['> quoted', '<blockquote><p>quoted</p></blockquote>'],
  // (CommonMark keeps the code's last newline; the page drops it.)
  ['```\n<b>x</b>\n```', '<pre><code>&lt;b&gt;x&lt;/b&gt;</code></pre>'],
  ['<img src=x onerror="window.__xss=1">', '<p>&lt;img src=x onerror="window.__xss=1"&gt;</p>'],
  ['<script>window.__xss=2</script>', '<p>&lt;script&gt;window.__xss=2&lt;/script&gt;</p>'],
  ['[a](javascript:alert(1))', '<p>[a](javascript:alert(1))</p>'],
  ['[site](https://example.org/x)', `<p><a href="https://example.org/x" ${LINK}>site</a></p>`],
  ['snake_case_name', '<p>snake_case_name</p>'],
  ['a.__b and c.__d', '<p>a.__b and c.__d</p>'],
  ['__strong__ _em_', '<p><strong>strong</strong> <em>em</em></p>'],
  ['a  \nb', '<p>a<br>b</p>'],
  ['***', '<hr>'],
];

async function rendererChecks(page) {
  const results = await page.evaluate(async (cases) => {
    const { renderMarkdown } = await import('./webui/js/markdown.js');
    const { ThinkSplitter } = await import('./webui/js/api.js');
    const { parseImport } = await import('./webui/js/store.js');
    const out = { html: [] };
    for (const [src] of cases) {
      const div = document.createElement('div');
      div.append(renderMarkdown(src));
      out.html.push(div.innerHTML);
    }
    const s = new ThinkSplitter();
    out.split = [...s.push('<th'), ...s.push('ink>why</thi'), ...s.push('nk>answer'), ...s.flush()];
    try {
      parseImport('{"conversations":[{"id":"a","messages":[{"role":"robot","content":"x"}]}]}', []);
      out.importError = null;
    } catch (e) {
      out.importError = e.message;
    }
    const code = document.createElement('div');
    code.append(renderMarkdown('```python\ndef f(): return "s"  # c\n```'));
    out.kinds = [...code.querySelectorAll('span')].map((s) => s.className + ':' + s.textContent);
    // A long reply re-rendered while it streams must stay cheap (linear).
    const long = 'Some *words* and a http://example.org link, with _stress_ on `code`. '.repeat(2000);
    const t0 = performance.now();
    const big = document.createElement('div');
    big.append(renderMarkdown(long));
    out.longMs = performance.now() - t0;
    out.longEm = big.querySelectorAll('em').length;
    // Openers without closers (a model stuck repeating "**a [b ") neither.
    const t1 = performance.now();
    renderMarkdown('**a [b ![c ~~d _e *f `g '.repeat(5000));
    out.unclosedMs = performance.now() - t1;
    return out;
  }, MARKDOWN_CASES);
  MARKDOWN_CASES.forEach(([src, want], i) =>
    check(results.html[i] === want, `markdown ${JSON.stringify(src)} -> ${results.html[i]}`));
  check(JSON.stringify(results.split) === JSON.stringify([{ kind: 'reasoning', text: 'why' }, { kind: 'content', text: 'answer' }]),
    '<think> tags cut across chunks split reasoning from the answer: ' + JSON.stringify(results.split));
  check(/conversations\[0\]/.test(results.importError || ''), 'a bad import names the conversation: ' + results.importError);
  check(JSON.stringify(results.kinds) === JSON.stringify(['tok-kw:def', 'tok-kw:return', 'tok-str:"s"', 'tok-com:# c']),
    'python is highlighted: ' + JSON.stringify(results.kinds));
  check(results.longEm === 4000 && results.longMs < 1000, `a 140 kB reply renders in ${Math.round(results.longMs)} ms`);
  check(results.unclosedMs < 1000, `a 125 kB reply of unclosed spans renders in ${Math.round(results.unclosedMs)} ms`);
}

// ---- the browser session ---------------------------------------------------

async function main() {
  const { chromium } = loadDriver();
  fs.mkdirSync(SHOTS, { recursive: true });
  const server = await startServer([SECOND, '--api-key', KEY]);
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'allm-webui-'));
  let browser;
  try {
    const ids = await httpChecks(server.url);
    check(ids.length === 2, 'the server lists the two models: ' + ids.join(', '));
    browser = await chromium.launchPersistentContext(userDir, {
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
        '--no-first-run', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1100, height: 800 },
    });
    const page = browser.pages()[0] || (await browser.newPage());
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // Failed requests are checked through their responses, every other console error counts.
    page.on('console', (m) => m.type() === 'error' && !/^Failed to load resource/.test(m.text()) && pageErrors.push(m.text()));
    const failures = [];
    page.on('response', (r) => r.status() >= 400 && failures.push(`${r.status()} ${new URL(r.url()).pathname}`));
    const requests = [];
    page.on('request', (r) => {
      if (r.url().endsWith('/v1/chat/completions')) requests.push(JSON.parse(r.postData()));
    });
    const shot = (name) => page.screenshot({ path: path.join(SHOTS, name + '.png') });
    const idle = () => page.waitForFunction(() => document.getElementById('stop').hidden && !document.getElementById('send').disabled);
    const lastReply = () => page.locator('#messages li.assistant').last();
    const sendMessage = async (text) => {
      await page.fill('#prompt', text);
      await page.press('#prompt', 'Enter');
    };
    const setSetting = async (id, value) => {
      if (!(await page.isVisible('#settings'))) await page.click('#toggle-settings');
      await page.fill('#' + id, value);
      await page.dispatchEvent('#settings', 'change');
    };

    // 1. Load: the page asks for the API key once, then lists the models.
    await page.goto(server.url + '/');
    await page.waitForSelector('#key-dialog[open]');
    await shot('01-api-key');
    await page.fill('#api-key', KEY);
    await page.press('#api-key', 'Enter');
    await page.waitForSelector('html[data-ready]');
    const options = await page.$$eval('#model option', (os) => os.map((o) => o.value));
    check(JSON.stringify(options) === JSON.stringify(ids), 'the model picker lists /v1/models: ' + options.join(', '));
    check(await page.getAttribute('label[for=model]', 'for') === 'model' && (await page.$$('#prompt')).length === 1 &&
      (await page.locator('label[for=prompt]').count()) === 1, 'the picker and the message box have labels');
    await rendererChecks(page);

    // 2. A message and its streamed reply; the stored text equals the same
    //    request answered whole by the API (temperature 0).
    await setSetting('temperature', '0');
    await setSetting('max_tokens', '24');
    await setSetting('system', 'You are brief.');
    const a11ySettings = await axeViolations(page);
    check(a11ySettings.length === 0, 'axe-core finds no WCAG 2.1 A/AA violation (settings open): ' + a11ySettings.join(' | '));
    await page.click('#toggle-settings');
    await shot('02-settings-closed');
    await page.focus('#prompt');
    await sendMessage('Tell me about Bath.');
    await idle();
    await shot('03-reply');
    const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('allm.conversations')));
    check(stored.length === 1 && stored[0].messages.length === 2, 'the conversation is kept in localStorage');
    const first = requests[0];
    check(first.stream === true && first.temperature === 0 && first.max_tokens === 24 && first.model === ids[0] &&
      first.messages[0].role === 'system' && first.messages[0].content === 'You are brief.',
      'the request carries the model, system prompt and sampling settings');
    // Oracle: `allm run` with the same model, prompt and settings (greedy,
    // cold cache like the server's first request).
    const run = spawnSync(ALLM, ['run', MODEL, '--system', 'You are brief.', 'Tell me about Bath.', '--temperature', '0',
      '--max-tokens', '24', '--threads', '1', '--json'], { encoding: 'utf8' });
    const whole = JSON.parse(run.stdout);
    const replyText = stored[0].messages[1].content;
    check(replyText.length > 0 && replyText === whole.text,
      'the streamed reply equals allm run\'s for the same prompt: ' + JSON.stringify(replyText) +
      (replyText === whole.text ? '' : ' vs ' + JSON.stringify(whole.text)));
    const stats = await lastReply().locator('.stats').textContent();
    check(/first token \d+ ms/.test(stats) && /\d+ tokens/.test(stats) && /tokens\/s/.test(stats) &&
      stats.includes(`${whole.usage.completion_tokens} tokens`), 'the reply shows time to first token and tokens/s: ' + stats);

    // 3. A long reply appears piece by piece, and Stop ends it: the server
    //    logs the client as gone and generated far fewer than asked.
    await setSetting('max_tokens', '900');
    await setSetting('extra', '{"ignore_eos": true}');
    await page.click('#toggle-settings');
    await page.evaluate(() => {
      window.__lengths = [];
      new MutationObserver(() => {
        const r = [...document.querySelectorAll('#messages li.assistant .markdown')].pop();
        const n = r ? r.textContent.length : 0;
        if (window.__lengths.at(-1) !== n) window.__lengths.push(n);
      }).observe(document.getElementById('messages'), { childList: true, subtree: true, characterData: true });
    });
    await sendMessage('Tell me a long story.');
    await page.waitForFunction(() => window.__lengths.filter((n) => n > 0).length >= 5);
    await shot('04-streaming');
    const lengths = await page.evaluate(() => window.__lengths.filter((n) => n > 0));
    // (Markdown may shorten a reply by a few characters when a `**` closes.)
    check(new Set(lengths).size >= 5 && lengths.at(-1) > lengths[0], 'the reply grows piece by piece: ' + lengths.slice(0, 8).join(', '));
    await page.click('#stop');
    await idle();
    const stoppedLen = (await lastReply().locator('.markdown').textContent()).length;
    await sleep(600);
    check((await lastReply().locator('.markdown').textContent()).length === stoppedLen, 'after Stop the reply does not grow');
    check(/stopped/.test(await lastReply().locator('.stats').textContent()), 'the reply is marked as stopped');
    await waitFor(() => /POST \/v1\/chat\/completions 200 .*completion=(\d+) \(client gone\)/.test(server.stderr), 'the access log');
    const done = Number(server.stderr.match(/POST \/v1\/chat\/completions 200 .*completion=(\d+) \(client gone\)/)[1]);
    check(done < 900, `the server cancelled the generation (${done} of 900 tokens)`);
    await shot('05-stopped');

    // 4. Reload: the conversation is still there, and no key is asked again.
    await page.reload();
    await page.waitForSelector('html[data-ready]');
    check(!(await page.isVisible('#key-dialog')), 'the API key is asked only once');
    const titles = await page.$$eval('#conversation-list .open', (b) => b.map((x) => x.textContent));
    check(titles.length === 1 && titles[0] === 'Tell me about Bath.', 'after a reload the conversation is listed: ' + titles);
    await page.click('#conversation-list .open');
    check((await page.locator('#messages li.msg').count()) === 4, 'the reloaded conversation has its 4 turns');
    check((await page.locator('#messages li.assistant .markdown').first().textContent()).length > 0, 'with its replies');
    await shot('06-reloaded');

    // 5. A text file attached is inlined into the user turn.
    await setSetting('extra', '');
    await setSetting('max_tokens', '8');
    await page.click('#toggle-settings');
    await page.setInputFiles('#attach-file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('The secret word is ZEBRA-42.\n') });
    await page.waitForSelector('#attachments li');
    await shot('07-attached');
    const before = requests.length;
    await sendMessage('What does the file say?');
    await idle();
    const sent = requests[before].messages.at(-1);
    check(typeof sent.content === 'string' && sent.content.startsWith('What does the file say?') &&
      sent.content.includes('notes.txt') && sent.content.includes('The secret word is ZEBRA-42.'),
      'the text file is inlined into the message: ' + JSON.stringify(sent.content));
    check((await page.locator('#messages li.user').last().locator('.chips li').textContent()).includes('notes.txt'),
      'the turn shows its attachment');
    check((await page.locator('#attachments li').count()) === 0, 'the composer is cleared');
    await shot('08-attachment-reply');

    // 6. A new chat with the other model (the fixture's context is 256 tokens).
    await page.click('#new-chat');
    check((await page.locator('#messages li').count()) === 0 && (await page.evaluate(() => document.activeElement.id)) === 'prompt',
      'New chat empties the page and focuses the message box');
    await page.selectOption('#model', ids[1]);
    await sendMessage('Hello there');
    await idle();
    check(requests.at(-1).model === ids[1], 'the request names the model picked: ' + requests.at(-1).model);
    check((await lastReply().locator('.stats').textContent()).startsWith(ids[1]) &&
      (await lastReply().locator('.error').count()) === 0 && (await lastReply().locator('.markdown').textContent()).length > 0,
      'the other model replies, and the reply says which model wrote it');
    check((await page.locator('#conversation-list .open').count()) === 2, 'both conversations are listed');
    check(server.stderr.includes(`model=${ids[1]}`), 'the server ran the other model');
    await shot('09-switched-model');

    // 7. Regenerate resends the conversation up to that reply.
    const turns = await page.locator('#messages li.msg').count();
    await lastReply().getByRole('button', { name: /Regenerate/ }).click();
    await idle();
    check(requests.at(-1).messages.filter((m) => m.role !== 'system').length === turns - 1 &&
      (await page.locator('#messages li.msg').count()) === turns, 'Regenerate replaces the last reply');

    // 8. Edit rewrites a turn and replies anew; later turns are dropped.
    await page.locator('#messages li.user').last().getByRole('button', { name: /Edit/ }).click();
    await page.fill('#messages li.user textarea', 'Hello again');
    await page.getByRole('button', { name: 'Save and send' }).click();
    await idle();
    const edited = requests.at(-1).messages.filter((m) => m.role !== 'system');
    check(edited.length === 1 && edited[0].content === 'Hello again' && (await page.locator('#messages li.msg').count()) === 2 &&
      (await page.locator('#messages li.user .markdown').textContent()) === 'Hello again', 'Edit resends the rewritten turn');

    // 9. Export downloads every conversation; importing the file adds them again.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
    const exported = JSON.parse(fs.readFileSync(await download.path(), 'utf8'));
    check(exported.format === 'allm-webui-conversations' && exported.conversations.length === 2 &&
      exported.conversations.some((c) => c.messages.some((m) => m.content === 'Hello again')), 'Export writes both conversations');
    await page.setInputFiles('#import-file', { name: 'export.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(exported)) });
    await page.waitForFunction(() => document.querySelectorAll('#conversation-list .open').length === 4);
    check(/Imported 2 conversation/.test(await page.textContent('#status')), 'Import adds them under new ids');

    // 10. Images: refused for a text-only model; sent as an image_url part
    //     to a model whose /v1/models entry lists vision (no served model has
    //     it, so the list is answered with one more entry).
    const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
    await page.setInputFiles('#attach-file', { name: 'dot.png', mimeType: 'image/png', buffer: png });
    check(/dot\.png: the model .* does not take images/.test(await page.textContent('#status')) &&
      (await page.locator('#attachments li').count()) === 0, 'an image is refused for a text-only model');
    await page.route('**/v1/models', async (route) => {
      const response = await route.fetch();
      const json = await response.json();
      json.data.push({ id: 'vision-model', object: 'model', owned_by: 'test', capabilities: ['vision'] });
      await route.fulfill({ response, json });
    });
    await page.reload();
    await page.waitForSelector('html[data-ready]');
    await page.selectOption('#model', 'vision-model');
    await page.setInputFiles('#attach-file', { name: 'dot.png', mimeType: 'image/png', buffer: png });
    await page.waitForSelector('#attachments li');

    // 11. Script injection, reasoning and tool calls in a reply: served as
    //    the stream a model would send (the tiny model does not write them).
    const events = [
      { reasoning_content: 'Thinking <b>hard</b>.' },
      { content: 'Here: <img src=x onerror="window.__xss=1"> and ' },
      { content: '<script>window.__xss=2</script> [x](javascript:window.__xss=3)\n\n```js\nconst a = 1;\n```' },
      { tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '"Bath"}' } }] },
    ];
    const sse = events.map((d) => 'data: ' + JSON.stringify({ choices: [{ index: 0, delta: d, finish_reason: null }] }) + '\n\n').join('') +
      'data: ' + JSON.stringify({ choices: [], usage: { completion_tokens: 5 } }) + '\n\ndata: [DONE]\n\n';
    await page.route('**/v1/chat/completions', (route) =>
      route.fulfill({ status: 200, headers: { 'content-type': 'text/event-stream' }, body: sse }));
    await sendMessage('Show me some HTML.');
    await idle();
    await page.unroute('**/v1/chat/completions');
    await page.unroute('**/v1/models');
    const withImage = requests.at(-1);
    const parts = withImage.messages.at(-1).content;
    check(withImage.model === 'vision-model' && Array.isArray(parts) && parts[0].type === 'text' &&
      parts[0].text === 'Show me some HTML.' && parts[1].type === 'image_url' &&
      parts[1].image_url.url === 'data:image/png;base64,' + png.toString('base64'), 'the image is sent as an image_url part');
    const reply = lastReply();
    const text = await reply.locator('.markdown').textContent();
    check(text.includes('<img src=x onerror="window.__xss=1">') && text.includes('<script>window.__xss=2</script>'),
      'HTML in a reply is shown as text: ' + JSON.stringify(text));
    check((await page.locator('#messages img, #messages script, #messages a[href^="javascript"]').count()) === 0 &&
      (await page.evaluate(() => window.__xss)) === undefined, 'and nothing of it runs or becomes an element');
    check((await reply.locator('code .tok-kw').first().textContent()) === 'const', 'code in a reply is highlighted');
    const details = reply.locator('details.reasoning');
    check((await details.count()) === 1 && !(await details.getAttribute('open')) &&
      (await details.textContent()).includes('Thinking <b>hard</b>.'), 'reasoning is shown collapsed, as text');
    check((await reply.locator('.tool-call .tool-name').textContent()) === 'Tool call: get_weather' &&
      JSON.parse(await reply.locator('.tool-call pre').textContent()).city === 'Bath', 'a tool call is shown as such');
    await details.locator('summary').click();
    await shot('10-injection-reasoning-tools');

    // 12. Phone width: one column, nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 800 });
    check(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'no horizontal scrolling at 390 px');
    check(!(await page.isVisible('#sidebar')) && (await page.isVisible('#toggle-sidebar')), 'the conversation list folds away');
    await shot('11-phone');
    const a11yPhone = await axeViolations(page);
    check(a11yPhone.length === 0, 'axe-core finds no WCAG 2.1 A/AA violation (phone width, rich reply): ' + a11yPhone.join(' | '));
    await page.click('#toggle-sidebar');
    await page.waitForSelector('#sidebar.open');
    await sleep(300);  // the slide-in transition
    await shot('12-phone-conversations');

    check(JSON.stringify(failures) === JSON.stringify(['401 /v1/models']), 'the only failed request is the first, keyless one: ' + failures.join(', '));
    check(pageErrors.length === 0, 'no script error or CSP violation in the page: ' + pageErrors.join(' | '));
  } finally {
    if (browser) await browser.close();
    await stopServer(server);
    fs.rmSync(userDir, { recursive: true, force: true });
  }

  // --no-webui: the page is not served, the API is.
  const bare = await startServer(['--no-webui']);
  try {
    const r = await fetch(bare.url + '/', { headers: { accept: 'text/html' } });
    check(r.status === 200 && (await r.text()) === 'allm is running', '--no-webui: GET / is the plain probe answer');
    check((await fetch(bare.url + '/webui/js/app.js')).status === 404, '--no-webui: no page assets');
  } finally {
    await stopServer(bare);
  }
  console.log('screenshots in ' + SHOTS);
}

main().catch((e) => {
  if (!process.exitCode) console.error(e);
  process.exit(1);
});
