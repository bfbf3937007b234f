// The server's public OpenAI routes, nothing else: GET v1/models and a
// streamed POST v1/chat/completions read as server-sent events. Paths are
// relative to the page, so the page also works behind a path prefix.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function headers(apiKey) {
  const h = { 'content-type': 'application/json' };
  if (apiKey) h.authorization = 'Bearer ' + apiKey;
  return h;
}

async function errorOf(response) {
  const text = await response.text();
  let message = text || response.statusText;
  try {
    const j = JSON.parse(text);
    message = j.error?.message || j.message || message;
  } catch {}
  return new ApiError(response.status, `${response.status}: ${message}`);
}

// [{id, vision}] of /v1/models. A model counts as having vision when its
// entry lists it (capabilities: ["vision"], or modalities including "image").
export async function listModels(apiKey) {
  const r = await fetch('v1/models', { headers: headers(apiKey) });
  if (!r.ok) throw await errorOf(r);
  const body = await r.json();
  return (body.data || []).map((m) => ({
    id: m.id,
    vision:
      (Array.isArray(m.capabilities) && m.capabilities.includes('vision')) ||
      (Array.isArray(m.modalities) && m.modalities.includes('image')) ||
      (Array.isArray(m.input_modalities) && m.input_modalities.includes('image')),
  }));
}

// Splits streamed text into answer and reasoning at <think>...</think>, also
// when a tag is cut between two chunks.
export class ThinkSplitter {
  constructor() {
    this.inThink = false;
    this.pending = '';
  }
  // Returns [{kind: 'content'|'reasoning', text}].
  push(text) {
    let s = this.pending + text;
    this.pending = '';
    const out = [];
    while (s) {
      const tag = this.inThink ? '</think>' : '<think>';
      const at = s.indexOf(tag);
      if (at >= 0) {
        if (at > 0) out.push({ kind: this.inThink ? 'reasoning' : 'content', text: s.slice(0, at) });
        this.inThink = !this.inThink;
        s = s.slice(at + tag.length);
        continue;
      }
      // Keep a tail that may be the start of the tag for the next chunk.
      let keep = 0;
      for (let k = Math.min(tag.length - 1, s.length); k > 0; k--)
        if (tag.startsWith(s.slice(s.length - k))) {
          keep = k;
          break;
        }
      const emit = s.slice(0, s.length - keep);
      if (emit) out.push({ kind: this.inThink ? 'reasoning' : 'content', text: emit });
      this.pending = s.slice(s.length - keep);
      break;
    }
    return out;
  }
  flush() {
    const rest = this.pending;
    this.pending = '';
    return rest ? [{ kind: this.inThink ? 'reasoning' : 'content', text: rest }] : [];
  }
}

// Streams one chat completion. Calls onEvent with
//   {type: 'content'|'reasoning', text}, {type: 'tool_call', index, id, name, arguments} (pieces),
//   {type: 'usage', usage}, {type: 'finish', reason}.
// Resolves when the stream ends; rejects with ApiError (HTTP or in-stream
// error) or the AbortError of `signal`.
export async function streamChat({ model, messages, params, apiKey, signal, onEvent }) {
  const body = { ...params, model, messages, stream: true, stream_options: { include_usage: true } };
  const r = await fetch('v1/chat/completions', {
    method: 'POST',
    headers: headers(apiKey),
    body: JSON.stringify(body),
    signal,
  });
  if (!r.ok) throw await errorOf(r);
  const splitter = new ThinkSplitter();
  const emit = (parts) => parts.forEach((p) => onEvent({ type: p.kind, text: p.text }));
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let cut;
    while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, '');
      const data = event
        .split(/\r?\n/)
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, ''))
        .join('\n');
      if (!data) continue;
      if (data === '[DONE]') {
        emit(splitter.flush());
        return;
      }
      let chunk;
      try {
        chunk = JSON.parse(data);
      } catch {
        throw new ApiError(0, 'the server sent an event that is not JSON: ' + data.slice(0, 200));
      }
      if (chunk.error) throw new ApiError(0, chunk.error.message || JSON.stringify(chunk.error));
      if (chunk.usage) onEvent({ type: 'usage', usage: chunk.usage });
      for (const choice of chunk.choices || []) {
        const d = choice.delta || {};
        if (d.reasoning_content) onEvent({ type: 'reasoning', text: d.reasoning_content });
        if (d.content) emit(splitter.push(d.content));
        for (const call of d.tool_calls || [])
          onEvent({
            type: 'tool_call',
            index: call.index ?? 0,
            id: call.id,
            name: call.function?.name,
            arguments: call.function?.arguments,
          });
        if (choice.finish_reason) onEvent({ type: 'finish', reason: choice.finish_reason });
      }
    }
  }
  emit(splitter.flush());
}
