// Conversations and settings in the browser's localStorage, and their export
// and import as JSON. Nothing leaves the browser except requests to the server.

const KEY_CONVERSATIONS = 'allm.conversations';
const KEY_CURRENT = 'allm.current';
const KEY_SETTINGS = 'allm.settings';
const KEY_API = 'allm.apiKey';
export const EXPORT_FORMAT = 'allm-webui-conversations';

export const DEFAULT_SETTINGS = {
  temperature: '',
  top_p: '',
  top_k: '',
  min_p: '',
  repeat_penalty: '',
  max_tokens: '',
  seed: '',
  extra: '',
};

function read(key, fallback) {
  try {
    const v = localStorage.getItem(key);
    return v === null ? fallback : JSON.parse(v);
  } catch {
    return fallback;
  }
}

function write(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
    return null;
  } catch (e) {
    return e;  // quota: the caller says so
  }
}

export function newId() {
  return Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
}

export function newConversation(model) {
  const now = Date.now();
  return { id: newId(), title: 'New chat', created: now, updated: now, model, system: '', messages: [] };
}

export function loadConversations() {
  const list = read(KEY_CONVERSATIONS, []);
  return Array.isArray(list) ? list.filter(validConversation) : [];
}

export function saveConversations(list) {
  return write(KEY_CONVERSATIONS, list);
}

export function currentId() {
  return read(KEY_CURRENT, null);
}

export function setCurrentId(id) {
  write(KEY_CURRENT, id);
}

export function loadSettings() {
  return { ...DEFAULT_SETTINGS, ...read(KEY_SETTINGS, {}) };
}

export function saveSettings(s) {
  write(KEY_SETTINGS, s);
}

export function apiKey() {
  return read(KEY_API, '');
}

export function setApiKey(k) {
  if (k) write(KEY_API, k);
  else localStorage.removeItem(KEY_API);
}

function validConversation(c) {
  return (
    c && typeof c === 'object' && typeof c.id === 'string' && Array.isArray(c.messages) &&
    c.messages.every((m) => m && (m.role === 'user' || m.role === 'assistant') && typeof m.content === 'string')
  );
}

export function exportJson(list) {
  return JSON.stringify({ format: EXPORT_FORMAT, version: 1, conversations: list }, null, 2);
}

// Parses an export; throws an Error naming what is wrong. Conversations with
// an id already present get a new id, so an import never overwrites.
export function parseImport(text, existing) {
  let j;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new Error('not JSON: ' + e.message);
  }
  const list = Array.isArray(j) ? j : j?.conversations;
  if (!Array.isArray(list)) throw new Error("expected an object with a 'conversations' array");
  const ids = new Set(existing.map((c) => c.id));
  return list.map((c, i) => {
    if (!validConversation(c))
      throw new Error(`conversations[${i}]: needs an 'id' and 'messages' of {role: user|assistant, content: string}`);
    const copy = { ...c, title: String(c.title || 'Imported chat'), system: String(c.system || '') };
    if (ids.has(copy.id)) copy.id = newId();
    ids.add(copy.id);
    return copy;
  });
}
