// The chat page of `allm serve` (docs/server.md, "Chat page"): wires the DOM
// to the OpenAI routes (api.js), the Markdown renderer and localStorage.
import { ApiError, listModels, streamChat } from './api.js';
import { renderMarkdown } from './markdown.js';
import * as store from './store.js';

const $ = (id) => document.getElementById(id);
const ui = {
  sidebar: $('sidebar'), list: $('conversation-list'), newChat: $('new-chat'), exportBtn: $('export'),
  importBtn: $('import'), importFile: $('import-file'), toggleSidebar: $('toggle-sidebar'), model: $('model'),
  toggleSettings: $('toggle-settings'), settings: $('settings'), system: $('system'),
  settingsError: $('settings-error'), forgetKey: $('forget-key'), status: $('status'), messages: $('messages'),
  composer: $('composer'), attachments: $('attachments'), prompt: $('prompt'), attach: $('attach'),
  attachFile: $('attach-file'), stop: $('stop'), send: $('send'), keyDialog: $('key-dialog'), keyInput: $('api-key'),
};
const NUMERIC = ['temperature', 'top_p', 'top_k', 'min_p', 'repeat_penalty', 'max_tokens', 'seed'];
const INTEGER = new Set(['top_k', 'max_tokens', 'seed']);
const MAX_TEXT_ATTACHMENT = 512 * 1024;

const state = {
  conversations: store.loadConversations(),
  current: null,
  models: [],
  settings: store.loadSettings(),
  apiKey: store.apiKey(),
  pending: [],       // attachments of the message being written
  controller: null,  // AbortController of the reply being streamed
};

function setStatus(text, isError = false) {
  ui.status.textContent = text;
  ui.status.classList.toggle('error', isError);
}

function persist() {
  if (store.saveConversations(state.conversations))
    setStatus('The browser refused to store more conversations (storage full): export and delete some.', true);
}

function conversation() {
  return state.conversations.find((c) => c.id === state.current);
}

// ---- API key -------------------------------------------------------------

function askKey() {
  return new Promise((resolve) => {
    ui.keyInput.value = '';
    ui.keyDialog.addEventListener(
      'close',
      () => {
        state.apiKey = ui.keyInput.value.trim();
        store.setApiKey(state.apiKey);
        resolve(state.apiKey);
      },
      { once: true }
    );
    ui.keyDialog.showModal();
    ui.keyInput.focus();
  });
}

// Runs `fn(apiKey)`, asking for the key (once, then kept) on a 401.
async function withKey(fn) {
  try {
    return await fn(state.apiKey);
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401) throw e;
    const key = await askKey();
    if (!key) throw e;
    return fn(key);
  }
}

// ---- models --------------------------------------------------------------

async function loadModels() {
  try {
    state.models = await withKey(listModels);
  } catch (e) {
    setStatus('Could not list the models: ' + e.message, true);
    return;
  }
  ui.model.replaceChildren(
    ...state.models.map((m) => {
      const o = document.createElement('option');
      o.value = m.id;
      o.textContent = m.id + (m.vision ? ' (vision)' : '');
      return o;
    })
  );
  const c = conversation();
  if (c && state.models.some((m) => m.id === c.model)) ui.model.value = c.model;
  setStatus(state.models.length ? '' : 'The server serves no model.', !state.models.length);
}

function selectedModel() {
  return state.models.find((m) => m.id === ui.model.value);
}

// ---- settings ------------------------------------------------------------

function fillSettings() {
  for (const k of NUMERIC) $(k).value = state.settings[k] ?? '';
  $('extra').value = state.settings.extra ?? '';
}

function readSettings() {
  for (const k of NUMERIC) state.settings[k] = $(k).value;
  state.settings.extra = $('extra').value;
  store.saveSettings(state.settings);
}

// The request's sampling fields; throws an Error naming a bad field.
function requestParams() {
  const p = {};
  for (const k of NUMERIC) {
    const v = String(state.settings[k] ?? '').trim();
    if (!v) continue;
    const n = Number(v);
    if (!Number.isFinite(n) || (INTEGER.has(k) && !Number.isInteger(n))) throw new Error(`${k}: '${v}' is not a valid number`);
    p[k] = n;
  }
  const extra = String(state.settings.extra || '').trim();
  if (extra) {
    let j;
    try {
      j = JSON.parse(extra);
    } catch (e) {
      throw new Error('Extra request fields: ' + e.message);
    }
    if (!j || typeof j !== 'object' || Array.isArray(j)) throw new Error('Extra request fields must be a JSON object');
    Object.assign(p, j);
  }
  return p;
}

// ---- conversations list --------------------------------------------------

function renderList() {
  const sorted = [...state.conversations].sort((a, b) => b.updated - a.updated);
  ui.list.replaceChildren(
    ...sorted.map((c) => {
      const li = document.createElement('li');
      const open = document.createElement('button');
      open.type = 'button';
      open.className = 'open';
      open.textContent = c.title;
      if (c.id === state.current) open.setAttribute('aria-current', 'true');
      open.addEventListener('click', () => switchTo(c.id));
      const del = document.createElement('button');
      del.type = 'button';
      del.className = 'icon';
      del.textContent = '×';
      del.setAttribute('aria-label', 'Delete ' + c.title);
      del.addEventListener('click', () => {
        if (!confirm(`Delete "${c.title}"?`)) return;
        state.conversations = state.conversations.filter((x) => x.id !== c.id);
        persist();
        if (state.current === c.id) switchTo(state.conversations[0]?.id ?? null);
        else renderList();
      });
      li.append(open, del);
      return li;
    })
  );
}

function switchTo(id) {
  if (state.controller) state.controller.abort();
  state.current = id;
  store.setCurrentId(id);
  const c = conversation();
  ui.system.value = c?.system ?? '';
  if (c && state.models.some((m) => m.id === c.model)) ui.model.value = c.model;
  renderList();
  renderMessages();
  ui.sidebar.classList.remove('open');
  ui.toggleSidebar.setAttribute('aria-expanded', 'false');
}

function ensureConversation() {
  let c = conversation();
  if (!c) {
    c = store.newConversation(ui.model.value);
    c.system = ui.system.value;
    state.conversations.push(c);
    state.current = c.id;
    store.setCurrentId(c.id);
  }
  return c;
}

// ---- messages ------------------------------------------------------------

function button(label, onClick, aria) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  if (aria) b.setAttribute('aria-label', aria);
  b.addEventListener('click', onClick);
  return b;
}

function formatStats(s) {
  const parts = [];
  if (s.model) parts.push(s.model);
  if (s.ttft_ms != null) parts.push(`first token ${Math.round(s.ttft_ms)} ms`);
  if (s.tokens != null) parts.push(`${s.tokens} tokens`);
  if (s.tokens_per_s != null) parts.push(`${s.tokens_per_s.toFixed(1)} tokens/s`);
  if (s.stopped) parts.push('stopped');
  return parts.join(' · ');
}

function attachmentChips(atts) {
  const ul = document.createElement('ul');
  ul.className = 'chips';
  for (const a of atts) {
    const li = document.createElement('li');
    li.textContent = (a.kind === 'image' ? 'Image: ' : 'File: ') + a.name;
    ul.append(li);
  }
  return ul;
}

// Fills the body of an assistant message: reasoning, tool calls, answer, stats.
function fillAssistant(body, m) {
  const parts = [];
  if (m.reasoning) {
    const d = document.createElement('details');
    d.className = 'reasoning';
    if (m.reasoningOpen) d.open = true;
    d.addEventListener('toggle', () => (m.reasoningOpen = d.open));
    const s = document.createElement('summary');
    s.textContent = 'Reasoning';
    const inner = document.createElement('div');
    inner.append(renderMarkdown(m.reasoning));
    d.append(s, inner);
    parts.push(d);
  }
  for (const call of m.tool_calls || []) {
    const box = document.createElement('div');
    box.className = 'tool-call';
    const title = document.createElement('div');
    title.className = 'tool-name';
    title.textContent = 'Tool call: ' + (call.name || '?');
    const args = document.createElement('pre');
    let text = call.arguments || '';
    try {
      text = JSON.stringify(JSON.parse(text), null, 2);
    } catch {}
    args.textContent = text;
    box.append(title, args);
    parts.push(box);
  }
  const answer = document.createElement('div');
  answer.className = 'markdown';
  answer.append(renderMarkdown(m.content));
  parts.push(answer);
  if (m.error) {
    const e = document.createElement('p');
    e.className = 'error';
    e.textContent = m.error;
    parts.push(e);
  }
  if (m.stats) {
    const s = document.createElement('p');
    s.className = 'stats';
    s.textContent = formatStats(m.stats);
    parts.push(s);
  }
  body.replaceChildren(...parts);
}

function messageItem(c, m, index) {
  const li = document.createElement('li');
  li.className = 'msg ' + m.role;
  li.dataset.index = index;
  const head = document.createElement('div');
  head.className = 'msg-head';
  const who = document.createElement('h2');
  who.textContent = m.role === 'user' ? 'You' : 'Assistant';
  head.append(who);
  const body = document.createElement('div');
  body.className = 'msg-body';
  const busy = !!state.controller;
  if (m.role === 'user') {
    if (m.attachments?.length) body.append(attachmentChips(m.attachments));
    const text = document.createElement('div');
    text.className = 'markdown';
    text.append(renderMarkdown(m.content));
    body.append(text);
    if (!busy) head.append(button('Edit', () => editTurn(li, c, index), `Edit message ${index + 1}`));
  } else {
    fillAssistant(body, m);
    if (!busy) head.append(button('Regenerate', () => regenerate(c, index), `Regenerate reply ${index + 1}`));
  }
  li.append(head, body);
  return li;
}

function renderMessages() {
  const c = conversation();
  ui.messages.replaceChildren(...(c ? c.messages.map((m, i) => messageItem(c, m, i)) : []));
}

function scrollToEnd() {
  const el = document.scrollingElement;
  if (el.scrollHeight - el.scrollTop - el.clientHeight < 200) el.scrollTop = el.scrollHeight;
}

function editTurn(li, c, index) {
  const m = c.messages[index];
  const body = li.querySelector('.msg-body');
  const area = document.createElement('textarea');
  area.value = m.content;
  area.rows = Math.min(12, m.content.split('\n').length + 1);
  area.setAttribute('aria-label', 'Edited message');
  const save = button('Save and send', () => {
    c.messages = c.messages.slice(0, index + 1);
    c.messages[index] = { ...m, content: area.value };
    c.updated = Date.now();
    persist();
    respond(c);
  });
  const cancel = button('Cancel', () => renderMessages());
  area.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') renderMessages();
  });
  const row = document.createElement('div');
  row.className = 'row';
  row.append(save, cancel);
  body.replaceChildren(area, row);
  area.focus();
}

function regenerate(c, index) {
  c.messages = c.messages.slice(0, index);
  persist();
  respond(c);
}

// ---- sending -------------------------------------------------------------

// A stored message as OpenAI content: text files inlined as fenced blocks,
// images as image_url parts.
function apiMessage(m) {
  if (m.role === 'assistant') return { role: 'assistant', content: m.content };
  let text = m.content;
  const images = [];
  for (const a of m.attachments || []) {
    if (a.kind === 'image') images.push({ type: 'image_url', image_url: { url: a.dataUrl } });
    else text += `\n\nFile ${a.name}:\n\`\`\`\n${a.text.replace(/\n$/, '')}\n\`\`\``;
  }
  if (!images.length) return { role: 'user', content: text };
  return { role: 'user', content: [{ type: 'text', text }, ...images] };
}

function setBusy(busy) {
  ui.stop.hidden = !busy;
  ui.send.disabled = busy;
  ui.messages.setAttribute('aria-busy', String(busy));
}

// Streams the assistant's reply to the conversation's last user turn.
async function respond(c) {
  let params;
  try {
    readSettings();
    params = requestParams();
    ui.settingsError.textContent = '';
  } catch (e) {
    ui.settingsError.textContent = e.message;
    setStatus(e.message, true);
    return;
  }
  const model = ui.model.value;
  c.model = model;
  c.system = ui.system.value;
  const messages = [];
  if (c.system.trim()) messages.push({ role: 'system', content: c.system });
  messages.push(...c.messages.map(apiMessage));
  const reply = { role: 'assistant', content: '', reasoning: '', tool_calls: [], stats: null };
  c.messages.push(reply);
  const controller = new AbortController();
  state.controller = controller;
  setBusy(true);
  renderMessages();
  const li = ui.messages.lastElementChild;
  const body = li.querySelector('.msg-body');
  setStatus('Generating…');

  const started = performance.now();
  let first = null;
  let last = null;
  let chunks = 0;
  let usage = null;
  let frame = 0;
  const paint = () => {
    frame = 0;
    fillAssistant(body, reply);
    scrollToEnd();
  };
  const onEvent = (ev) => {
    if (ev.type === 'content' || ev.type === 'reasoning' || ev.type === 'tool_call') {
      last = performance.now();
      if (first === null) first = last;
    }
    if (ev.type === 'content') {
      reply.content += ev.text;
      chunks++;
    } else if (ev.type === 'reasoning') {
      reply.reasoning += ev.text;
      chunks++;
    } else if (ev.type === 'tool_call') {
      const t = (reply.tool_calls[ev.index] ??= { id: '', name: '', arguments: '' });
      if (ev.id) t.id = ev.id;
      if (ev.name) t.name += ev.name;
      if (ev.arguments) t.arguments += ev.arguments;
    } else if (ev.type === 'usage') usage = ev.usage;
    if (!frame) frame = requestAnimationFrame(paint);
  };
  try {
    await withKey((apiKey) => streamChat({ model, messages, params, apiKey, signal: controller.signal, onEvent }));
    setStatus('');
  } catch (e) {
    if (e.name === 'AbortError') setStatus('Stopped.');
    else {
      reply.error = e.message;
      setStatus('The reply failed: ' + e.message, true);
    }
  }
  if (frame) cancelAnimationFrame(frame);
  const tokens = usage?.completion_tokens ?? chunks;
  reply.stats = { model, stopped: controller.signal.aborted || undefined };
  if (first !== null) {
    reply.stats.ttft_ms = first - started;
    reply.stats.tokens = tokens;
    // Decode speed: the tokens after the first over the time after the first.
    // When they all arrived at once (a short reply in one network read), that
    // span measures nothing: then all tokens over the whole request.
    if (tokens > 1 && last - first >= 20) reply.stats.tokens_per_s = ((tokens - 1) * 1000) / (last - first);
    else if (last > started) reply.stats.tokens_per_s = (tokens * 1000) / (last - started);
  }
  reply.tool_calls = reply.tool_calls.filter(Boolean);
  if (!reply.tool_calls.length) delete reply.tool_calls;
  if (!reply.reasoning) delete reply.reasoning;
  c.updated = Date.now();
  if (state.controller === controller) state.controller = null;
  setBusy(false);
  persist();
  renderList();
  if (state.current === c.id) renderMessages();
}

async function send() {
  const text = ui.prompt.value;
  if (state.controller || (!text.trim() && !state.pending.length)) return;
  if (!ui.model.value) {
    setStatus('No model to send to.', true);
    return;
  }
  const c = ensureConversation();
  if (!c.messages.length) c.title = (text.trim() || state.pending[0].name).split('\n')[0].slice(0, 60);
  c.messages.push({ role: 'user', content: text, attachments: state.pending.length ? state.pending : undefined });
  c.updated = Date.now();
  state.pending = [];
  renderAttachments();
  ui.prompt.value = '';
  persist();
  renderList();
  await respond(c);
}

// ---- attachments ---------------------------------------------------------

function renderAttachments() {
  ui.attachments.replaceChildren(
    ...state.pending.map((a, i) => {
      const li = document.createElement('li');
      const name = document.createElement('span');
      name.textContent = (a.kind === 'image' ? 'Image: ' : 'File: ') + a.name;
      li.append(name, button('×', () => {
        state.pending.splice(i, 1);
        renderAttachments();
      }, 'Remove ' + a.name));
      return li;
    })
  );
}

function readAs(file, how) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(r.result);
    r.onerror = () => reject(r.error);
    if (how === 'url') r.readAsDataURL(file);
    else r.readAsText(file);
  });
}

async function addFiles(files) {
  for (const f of files) {
    if (f.type.startsWith('image/')) {
      if (!selectedModel()?.vision) {
        setStatus(`${f.name}: the model ${ui.model.value} does not take images.`, true);
        continue;
      }
      state.pending.push({ kind: 'image', name: f.name, dataUrl: await readAs(f, 'url') });
      continue;
    }
    if (f.size > MAX_TEXT_ATTACHMENT) {
      setStatus(`${f.name}: ${f.size} bytes, over the ${MAX_TEXT_ATTACHMENT}-byte limit for text files.`, true);
      continue;
    }
    const text = await readAs(f, 'text');
    if (text.includes('\u0000')) {
      setStatus(`${f.name}: not a text file.`, true);
      continue;
    }
    state.pending.push({ kind: 'text', name: f.name, text });
  }
  renderAttachments();
}

// ---- export / import -----------------------------------------------------

function exportAll() {
  const blob = new Blob([store.exportJson(state.conversations)], { type: 'application/json' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = 'allm-conversations.json';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

async function importFile(file) {
  try {
    const added = store.parseImport(await readAs(file, 'text'), state.conversations);
    state.conversations.push(...added);
    persist();
    renderList();
    setStatus(`Imported ${added.length} conversation(s) from ${file.name}.`);
  } catch (e) {
    setStatus(`${file.name}: ${e.message}`, true);
  }
}

// ---- wiring --------------------------------------------------------------

function toggle(btn, panel, cls) {
  const open = btn.getAttribute('aria-expanded') !== 'true';
  btn.setAttribute('aria-expanded', String(open));
  if (cls) panel.classList.toggle(cls, open);
  else panel.hidden = !open;
}

ui.composer.addEventListener('submit', (e) => {
  e.preventDefault();
  send();
});
ui.prompt.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    send();
  }
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && state.controller && !ui.keyDialog.open) state.controller.abort();
});
ui.stop.addEventListener('click', () => state.controller?.abort());
ui.newChat.addEventListener('click', () => {
  switchTo(null);
  ui.prompt.focus();
});
ui.attach.addEventListener('click', () => ui.attachFile.click());
ui.attachFile.addEventListener('change', async () => {
  await addFiles([...ui.attachFile.files]);
  ui.attachFile.value = '';
});
ui.exportBtn.addEventListener('click', exportAll);
ui.importBtn.addEventListener('click', () => ui.importFile.click());
ui.importFile.addEventListener('change', async () => {
  if (ui.importFile.files[0]) await importFile(ui.importFile.files[0]);
  ui.importFile.value = '';
});
ui.toggleSettings.addEventListener('click', () => toggle(ui.toggleSettings, ui.settings));
ui.toggleSidebar.addEventListener('click', () => {
  toggle(ui.toggleSidebar, ui.sidebar, 'open');
  if (ui.sidebar.classList.contains('open')) ui.newChat.focus();  // keyboard users land in the list
});
ui.settings.addEventListener('change', () => {
  readSettings();
  const c = conversation();
  if (c) {
    c.system = ui.system.value;
    persist();
  }
  try {
    requestParams();
    ui.settingsError.textContent = '';
  } catch (e) {
    ui.settingsError.textContent = e.message;
  }
});
ui.model.addEventListener('change', () => {
  const c = conversation();
  if (c) {
    c.model = ui.model.value;
    persist();
  }
});
ui.forgetKey.addEventListener('click', () => {
  state.apiKey = '';
  store.setApiKey('');
  setStatus('The API key is forgotten.');
});
document.addEventListener('dragover', (e) => e.preventDefault());
document.addEventListener('drop', (e) => {
  e.preventDefault();
  if (e.dataTransfer?.files?.length) addFiles([...e.dataTransfer.files]);
});

fillSettings();
state.current = state.conversations.some((c) => c.id === store.currentId()) ? store.currentId() : null;
switchTo(state.current);
loadModels().then(() => document.documentElement.setAttribute('data-ready', 'true'));
