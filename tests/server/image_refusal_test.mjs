// A text-only model given an image (OpenAI image_url part, Anthropic image
// block, Ollama images) answers a clear 400 in each API's shape naming the
// part, never a reply that silently ignores the image.
import { check, clients, expectError, fail, startServer, stopServer } from './serve.mjs';

const { OpenAI, Anthropic, Ollama } = clients();
const server = await startServer();
const model = 'allm-tiny';
// A 1x1 PNG.
const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
try {
  const openai = new OpenAI({ baseURL: server.url + '/v1', apiKey: 'unused', maxRetries: 0 });
  const e1 = await expectError(openai.chat.completions.create({ model, messages: [{ role: 'user', content: [
    { type: 'text', text: 'What is this?' },
    { type: 'image_url', image_url: { url: 'data:image/png;base64,' + png } }] }] }), 400, 'OpenAI image_url part');
  check(e1.param === 'messages' && /content\[1\].*image_url.*text only/.test(e1.message),
        `OpenAI: 400 naming the part (${e1.message})`);

  const anthropic = new Anthropic({ baseURL: server.url, apiKey: 'unused', maxRetries: 0 });
  const e2 = await expectError(anthropic.messages.create({ model, max_tokens: 8, messages: [{ role: 'user', content: [
    { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
    { type: 'text', text: 'What is this?' }] }] }), 400, 'Anthropic image block');
  check(e2.error?.error?.type === 'invalid_request_error' && /image.*text only/.test(e2.error?.error?.message),
        `Anthropic: invalid_request_error naming the block (${e2.error?.error?.message})`);

  const ollama = new Ollama({ host: server.url });
  const e3 = await expectError(ollama.chat({ model, stream: false, messages: [{ role: 'user', content: 'What is this?', images: [png] }] }),
                               400, 'Ollama images');
  check(/images.*text only/.test(e3.error ?? e3.message), `Ollama: 400 naming images (${e3.error ?? e3.message})`);
} finally {
  const { code } = await stopServer(server);
  if (code !== 0) fail(`server exited with ${code}:\n${server.stderr}`);
}
console.log('image refusal: all checks passed');
