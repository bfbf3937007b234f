// Tool calls over HTTP, through the official OpenAI, Anthropic and Ollama
// clients, on the shipped random-weight model given a real chat template
// (Qwen2.5's, from tests/data/jinja/llama_cpp, Hermes-style <tool_call> tags):
//  - tool_choice required / a named function / Anthropic any / tool: the reply
//    is a call of an offered tool whose arguments validate against its
//    parameters schema (ajv), finish_reason "tool_calls" / stop_reason "tool_use";
//  - streamed calls (OpenAI tool_calls deltas, Anthropic input_json_delta)
//    arrive in several argument fragments, as the model writes them, and
//    reassemble to the calls the same seed gives unstreamed;
//  - a forced call cut off by max_tokens after it started streaming: the call
//    stays as sent (its fragments the start of a JSON object), its text follows
//    as content exactly as unstreamed, finish_reason length / stop_reason
//    max_tokens, the Anthropic tool_use block stopped before the text block;
//  - a reply that writes a call while tool_choice is auto (steered by a GBNF
//    grammar, since random weights never would) comes back as a call;
//  - earlier calls and tool results go back through the template the way
//    transformers renders them (the fixture's own rendering is the oracle);
//  - Ollama message.tool_calls, with --tool-call-format llama3 (a call is then a
//    JSON object, which Ollama's format schema can force);
//  - errors: 400s naming the tool / the conflict.
// Env: as the other server tests, plus ALLM_AJV_CACHE and ALLM_TEMPLATE_DIR. Exit 77 = skipped.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// A model directory: the shipped model's files plus Qwen2.5's chat template.
const modelDir = fs.mkdtempSync(path.join(os.tmpdir(), 'allm-tools-'));
for (const f of fs.readdirSync(process.env.ALLM_MODEL))
  fs.symlinkSync(path.join(process.env.ALLM_MODEL, f), path.join(modelDir, f));
fs.copyFileSync(path.join(process.env.ALLM_TEMPLATE_DIR, 'Qwen-Qwen2.5-7B-Instruct.jinja'),
                path.join(modelDir, 'chat_template.jinja'));
process.env.ALLM_MODEL = modelDir;
process.on('exit', () => fs.rmSync(modelDir, { recursive: true, force: true }));
const { check, clients, expectError, fail, postJson, startServer, stopServer } = await import('./serve.mjs');

const ajvCache = process.env.ALLM_AJV_CACHE;
if (!fs.existsSync(path.join(ajvCache, 'node_modules/ajv/package.json'))) {
  console.log('skipped: ajv is not installed (no npm?)');
  process.exit(77);
}
const { OpenAI, Anthropic, Ollama } = clients();
const Ajv = createRequire(path.join(ajvCache, 'package.json'))('ajv');
const ajv = new Ajv({ strict: false, allErrors: true });

const weather = {
  type: 'object',
  properties: {
    city: { type: 'string', minLength: 1, maxLength: 20 },
    unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
    days: { type: 'integer', minimum: 1, maximum: 7 },
  },
  required: ['city', 'unit'],
  additionalProperties: false,
};
const clock = { type: 'object', properties: { tz: { type: 'string', pattern: '^[A-Z][a-z]{1,8}/[A-Z][a-z]{1,8}$' } }, required: ['tz'], additionalProperties: false };
const schemaOf = { get_weather: weather, get_time: clock };
const tools = [
  { type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: weather } },
  { type: 'function', function: { name: 'get_time', description: 'Time in a zone', parameters: clock } },
];
const anthropicTools = tools.map((t) => ({ name: t.function.name, description: t.function.description, input_schema: t.function.parameters }));
const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];
const sampling = { temperature: 1, max_tokens: 400 };

function validCall(name, args, what) {
  check(name in schemaOf, `${what}: calls an offered tool (${name})`);
  const value = typeof args === 'string' ? JSON.parse(args) : args;
  const validate = ajv.compile(schemaOf[name]);
  check(validate(value), `${what}: arguments validate (${ajv.errorsText(validate.errors)}): ${JSON.stringify(value)}`);
  return value;
}

let server = await startServer();
try {
  const openai = new OpenAI({ baseURL: server.url + '/v1', apiKey: 'unused', maxRetries: 0 });
  const models = await openai.models.list();
  const id = models.data[0].id;

  // tool_choice required: one call (parallel_tool_calls false), several seeds; then the same seed streamed.
  for (const seed of [1, 2, 3]) {
    const r = await openai.chat.completions.create({ model: id, messages, tools, tool_choice: 'required',
                                                     parallel_tool_calls: false, seed, ...sampling });
    const c = r.choices[0];
    check(c.finish_reason === 'tool_calls', `required seed ${seed}: finish_reason tool_calls (${c.finish_reason})`);
    check(c.message.tool_calls?.length === 1, `required seed ${seed}: one call`);
    const call = c.message.tool_calls[0];
    check(call.type === 'function' && /^call_/.test(call.id), `required seed ${seed}: id and type`);
    validCall(call.function.name, call.function.arguments, `required seed ${seed}`);
    check(!c.message.content, `required seed ${seed}: no content beside the call`);

    const stream = await openai.chat.completions.create({ model: id, messages, tools, tool_choice: 'required',
                                                          parallel_tool_calls: false, seed, ...sampling, stream: true });
    const calls = [];
    let finish = null, content = '';
    for await (const chunk of stream) {
      const d = chunk.choices[0]?.delta ?? {};
      content += d.content ?? '';
      for (const tc of d.tool_calls ?? []) {
        if (!calls[tc.index]) {
          check(tc.id && tc.type === 'function' && tc.function?.name, `streamed seed ${seed}: first delta of call ${tc.index} has id, type, name`);
          calls[tc.index] = { name: tc.function.name, arguments: tc.function.arguments ?? '', fragments: 0 };
        } else {
          check(!tc.id && !tc.function?.name, `streamed seed ${seed}: later deltas carry arguments only`);
          check(tc.function?.arguments, `streamed seed ${seed}: an argument delta is not empty`);
          calls[tc.index].arguments += tc.function?.arguments ?? '';
          calls[tc.index].fragments++;
        }
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    check(finish === 'tool_calls' && content === '', `streamed seed ${seed}: finish_reason tool_calls, no content`);
    check(calls.length === 1 && calls[0].fragments > 1,
          `streamed seed ${seed}: the arguments arrive in several fragments as they are written (${calls[0]?.fragments})`);
    check(calls[0].name === call.function.name && calls[0].arguments === call.function.arguments,
          `streamed seed ${seed}: the deltas reassemble to the unstreamed call`);
    validCall(calls[0].name, calls[0].arguments, `streamed seed ${seed}`);
  }

  // Parallel calls allowed: one or more, each valid.
  for (const seed of [4, 5]) {
    const r = await openai.chat.completions.create({ model: id, messages, tools, tool_choice: 'required', seed, ...sampling });
    const c = r.choices[0];
    if (c.finish_reason === 'length') continue;  // random weights may write many calls
    check(c.finish_reason === 'tool_calls' && c.message.tool_calls.length >= 1, `parallel seed ${seed}: ${c.message.tool_calls.length} call(s)`);
    c.message.tool_calls.forEach((tc, i) => validCall(tc.function.name, tc.function.arguments, `parallel seed ${seed} call ${i}`));
  }

  // A named function.
  for (const seed of [6, 7]) {
    const r = await openai.chat.completions.create({ model: id, messages, tools, seed, ...sampling,
                                                     tool_choice: { type: 'function', function: { name: 'get_time' } } });
    const calls = r.choices[0].message.tool_calls ?? [];
    check(r.choices[0].finish_reason === 'tool_calls', `named get_time seed ${seed}: finish_reason tool_calls (${r.choices[0].finish_reason}: ${JSON.stringify(r.choices[0].message)})`);
    check(calls.length >= 1 && calls.every((tc) => tc.function.name === 'get_time'), `named get_time seed ${seed}: calls it`);
    validCall('get_time', calls[0].function.arguments, `named get_time seed ${seed}`);
  }

  // tool_choice auto: a reply that writes a call (steered by a grammar) is a call, not text.
  const gbnf = 'root ::= "Let me check.\\n<tool_call>\\n{\\"name\\": \\"get_weather\\", \\"arguments\\": {\\"city\\": \\"" [A-Z] [a-z]{2,6} "\\", \\"unit\\": \\"celsius\\"}}\\n</tool_call>"\n';
  for (const stream of [false, true]) {
    let content = '', args = '', name = '', finish = '';
    if (stream) {
      for await (const chunk of await openai.chat.completions.create({ model: id, messages, tools, seed: 8, ...sampling, grammar: gbnf, stream: true })) {
        const d = chunk.choices[0]?.delta ?? {};
        content += d.content ?? '';
        for (const tc of d.tool_calls ?? []) {
          name ||= tc.function?.name ?? '';
          args += tc.function?.arguments ?? '';
        }
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
    } else {
      const r = await openai.chat.completions.create({ model: id, messages, tools, seed: 8, ...sampling, grammar: gbnf });
      content = r.choices[0].message.content ?? '';
      name = r.choices[0].message.tool_calls?.[0]?.function.name ?? '';
      args = r.choices[0].message.tool_calls?.[0]?.function.arguments ?? '';
      finish = r.choices[0].finish_reason;
    }
    check(content.trim() === 'Let me check.' && !content.includes('<tool_call>'), `auto${stream ? ' streamed' : ''}: the text before the call is content (${JSON.stringify(content)})`);
    check(name === 'get_weather' && finish === 'tool_calls', `auto${stream ? ' streamed' : ''}: the written call is a tool call`);
    validCall(name, args, `auto${stream ? ' streamed' : ''}`);
  }

  // Earlier calls and results go back through the template as transformers renders them.
  const fixture = JSON.parse(fs.readFileSync(path.join(process.env.ALLM_TEMPLATE_DIR, 'Qwen-Qwen2.5-7B-Instruct.cases.json'), 'utf8'));
  const oracle = fixture.find((c) => !c.add_generation_prompt && c.messages.some((m) => m.tool_calls) && c.messages.length === 3);
  const history = oracle.messages.map((m) => m.tool_calls
    ? { ...m, tool_calls: m.tool_calls.map((tc) => ({ ...tc, function: { ...tc.function, arguments: JSON.stringify(tc.function.arguments) } })) }
    : m);
  const rendered = await postJson(server.url + '/apply-template', { model: id, messages: history, tools: oracle.tools });
  check(rendered.status === 200, 'apply-template with tool calls and results: 200');
  const prompt = rendered.json.prompt;
  const expected = oracle.rendered;
  const from = expected.indexOf('<|im_start|>assistant');
  check(prompt.includes(expected.slice(from)), `tool call and tool result rendered as transformers does:\n${prompt.slice(prompt.indexOf('<|im_start|>assistant'))}`);
  const follow = await openai.chat.completions.create({ model: id, messages: history, tools, seed: 9, ...sampling, max_tokens: 8 });
  check(follow.choices[0].message.role === 'assistant', 'a turn after a tool result runs');

  // Anthropic: any / tool, whole and streamed; tool_use and tool_result blocks going back.
  const anthropic = new Anthropic({ baseURL: server.url, apiKey: 'unused', maxRetries: 0 });
  for (const seed of [10, 11]) {
    const tool_choice = seed === 10 ? { type: 'any', disable_parallel_tool_use: true } : { type: 'tool', name: 'get_weather', disable_parallel_tool_use: true };
    const base = { model: id, max_tokens: 200, temperature: 1, messages, tools: anthropicTools, tool_choice };
    // The Messages API takes no seed: the same server slot and prompt make the
    // stream's calls checkable on their own.
    const m = await anthropic.messages.create(base);
    check(m.stop_reason === 'tool_use', `anthropic ${tool_choice.type}: stop_reason tool_use`);
    const uses = m.content.filter((b) => b.type === 'tool_use');
    check(uses.length === 1 && /^toolu_/.test(uses[0].id), `anthropic ${tool_choice.type}: one tool_use block with an id`);
    if (tool_choice.type === 'tool') check(uses[0].name === 'get_weather', 'anthropic tool: the named tool');
    validCall(uses[0].name, uses[0].input, `anthropic ${tool_choice.type}`);

    const events = [];
    const stream = anthropic.messages.stream(base);
    stream.on('streamEvent', (e) => events.push(e));
    const final = await stream.finalMessage();
    const starts = events.filter((e) => e.type === 'content_block_start' && e.content_block.type === 'tool_use');
    const deltas = events.filter((e) => e.type === 'content_block_delta' && e.delta.type === 'input_json_delta');
    check(starts.length === 1 && deltas.length > 1, `anthropic streamed ${tool_choice.type}: a tool_use block with input_json_delta fragments (${deltas.length})`);
    // Anthropic's order: the block starts, its deltas (same index), then it stops; then message_delta.
    const at = events.indexOf(starts[0]), index = starts[0].index;
    const stop = events.findIndex((e, i) => i > at && e.type === 'content_block_stop' && e.index === index);
    check(stop > at && deltas.every((d) => d.index === index && events.indexOf(d) > at && events.indexOf(d) < stop) &&
          events.findIndex((e) => e.type === 'message_delta') > stop,
          `anthropic streamed ${tool_choice.type}: content_block_start, input_json_delta fragments, content_block_stop, then message_delta`);
    const streamedUse = final.content.find((b) => b.type === 'tool_use');
    check(final.stop_reason === 'tool_use' && streamedUse, `anthropic streamed ${tool_choice.type}: stop_reason tool_use`);
    validCall(streamedUse.name, streamedUse.input, `anthropic streamed ${tool_choice.type}`);
    check(JSON.stringify(JSON.parse(deltas.map((d) => d.delta.partial_json).join(''))) === JSON.stringify(streamedUse.input),
          `anthropic streamed ${tool_choice.type}: the input_json_delta fragments are the input`);

    const next = await anthropic.messages.create({ model: id, max_tokens: 8, tools: anthropicTools, messages: [
      ...messages,
      { role: 'assistant', content: [{ type: 'tool_use', id: uses[0].id, name: uses[0].name, input: uses[0].input }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: uses[0].id, content: '21 degrees' }] },
    ] });
    check(next.type === 'message', `anthropic ${tool_choice.type}: a turn after tool_result runs`);
  }

  // A call cut off by max_tokens once it has started streaming (docs/tools.md,
  // "A started call that turns out not to be one"). Greedy, so the unstreamed
  // reply of the same length is the oracle: the longest one that ends inside
  // the arguments (no call, its text as content).
  const cutBase = { model: id, messages, tools, tool_choice: 'required', parallel_tool_calls: false, temperature: 0 };
  const full = await openai.chat.completions.create({ ...cutBase, max_tokens: 400 });
  let cut = null;
  for (let k = full.usage.completion_tokens - 1; k > 0 && !cut; --k) {
    const r = await openai.chat.completions.create({ ...cutBase, max_tokens: k });
    const c = r.choices[0];
    if (!c.message.tool_calls && /"arguments":\s*\{\s*"[^"]*"\s*:\s*\S/.test(c.message.content ?? '')) cut = { k, content: c.message.content, finish: c.finish_reason };
  }
  check(cut && cut.finish === 'length', `cut call: an unstreamed reply ending inside the arguments (${JSON.stringify(cut)})`);
  {
    const calls = [];
    let content = '', finish = null, callFirst = true;
    for await (const chunk of await openai.chat.completions.create({ ...cutBase, max_tokens: cut.k, stream: true })) {
      const d = chunk.choices[0]?.delta ?? {};
      content += d.content ?? '';
      for (const tc of d.tool_calls ?? []) {
        calls[tc.index] ??= { name: tc.function?.name, arguments: '' };
        calls[tc.index].arguments += tc.function?.arguments ?? '';
        callFirst &&= content === '';
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    check(callFirst, 'cut call: the call streams before its text comes back as content');
    check(calls.length === 1 && calls[0].name in schemaOf && calls[0].arguments.startsWith('{"'),
          `cut call: the call started streaming (${JSON.stringify(calls)})`);
    check(['', '"}', 'null}', '}'].some((end) => { try { JSON.parse(calls[0].arguments + end); return true; } catch { return false; } }),
          `cut call: what was sent is the start of a JSON object (${calls[0].arguments})`);
    check(content === cut.content, `cut call: its text follows as content, as unstreamed (${JSON.stringify(content)})`);
    check(finish === 'length', `cut call: finish_reason length, not tool_calls (${finish})`);
  }
  {
    const anthropic = new Anthropic({ baseURL: server.url, apiKey: 'unused', maxRetries: 0 });
    const base = { model: id, max_tokens: cut.k, temperature: 0, messages, tools: anthropicTools, tool_choice: { type: 'any', disable_parallel_tool_use: true } };
    const whole = await anthropic.messages.create(base);
    const events = [];
    const stream = anthropic.messages.stream(base);
    stream.on('streamEvent', (e) => events.push(e));
    const final = await stream.finalMessage();
    const types = events.map((e) => e.type === 'content_block_start' ? `start:${e.content_block.type}` : e.type === 'content_block_delta' ? `delta:${e.delta.type}` : e.type);
    const order = types.filter((t, i) => t !== types[i - 1]).join(' ');
    check(whole.stop_reason === 'max_tokens' && !whole.content.some((b) => b.type === 'tool_use'), 'anthropic cut call: unstreamed, text only');
    check(order === 'message_start start:tool_use delta:input_json_delta content_block_stop start:text delta:text_delta content_block_stop message_delta message_stop',
          `anthropic cut call: the tool_use block is stopped, then its text (${order})`);
    check(final.stop_reason === 'max_tokens', `anthropic cut call: stop_reason max_tokens (${final.stop_reason})`);
    check(final.content[1]?.text === whole.content[0].text, 'anthropic cut call: the text block is the unstreamed text');
  }

  // Errors.
  let e = await expectError(openai.chat.completions.create({ model: id, messages, tools, tool_choice: { type: 'function', function: { name: 'launch' } } }), 400, 'unknown named tool');
  check(/launch/.test(e.message), `unknown named tool: 400 naming it (${e.message})`);
  e = await expectError(openai.chat.completions.create({ model: id, messages, tools, tool_choice: 'required', response_format: { type: 'json_object' } }), 400, 'two constraints');
  check(e.param === 'tool_choice', `tool_choice required with response_format: 400 on tool_choice (${e.message})`);
  e = await expectError(openai.chat.completions.create({ model: id, messages, tool_choice: 'required' }), 400, 'required without tools');
  check(/no tools/.test(e.message), `tool_choice required without tools: 400 (${e.message})`);
  const badTools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { x: { not: {} } } } } }];
  e = await expectError(openai.chat.completions.create({ model: id, messages, tools: badTools, tool_choice: 'required' }), 400, 'uncompilable parameters');
  check(/tool 'f'/.test(e.message) && /#\/properties\/x\/not/.test(e.message), `uncompilable parameters: 400 naming the tool and pointer (${e.message})`);
  e = await expectError(anthropic.messages.create({ model: id, max_tokens: 8, messages, tools: anthropicTools, tool_choice: { type: 'tool', name: 'nope' } }), 400, 'anthropic unknown tool');
  check(/nope/.test(e.message), 'anthropic tool_choice naming an unknown tool: 400');
} finally {
  const st = await stopServer(server);
  if (st.code !== 0) fail(`server exit ${JSON.stringify(st)}:\n${server.stderr}`);
}

// Ollama, with calls written as Llama 3 JSON objects (--tool-call-format llama3):
// the format schema of a call object forces one; it comes back in message.tool_calls.
server = await startServer(['--tool-call-format', 'llama3']);
try {
  const ollama = new Ollama({ host: server.url });
  const id = (await ollama.list()).models[0].name;
  const callSchema = { type: 'object', properties: { name: { const: 'get_weather' }, parameters: weather }, required: ['name', 'parameters'], additionalProperties: false };
  for (const stream of [false, true]) {
    let msg = { content: '', tool_calls: [] };
    const req = { model: id, messages, tools, format: callSchema, options: { temperature: 1, seed: 12, num_predict: 200 } };
    if (stream) {
      for await (const part of await ollama.chat({ ...req, stream: true })) {
        msg.content += part.message.content;
        msg.tool_calls.push(...(part.message.tool_calls ?? []));
      }
    } else {
      msg = (await ollama.chat({ ...req, stream: false })).message;
    }
    check(msg.tool_calls?.length === 1 && msg.content === '', `ollama${stream ? ' streamed' : ''}: message.tool_calls, no content (${JSON.stringify(msg)})`);
    check(msg.tool_calls[0].function.name === 'get_weather', `ollama${stream ? ' streamed' : ''}: the call's name`);
    validCall('get_weather', msg.tool_calls[0].function.arguments, `ollama${stream ? ' streamed' : ''}`);
  }
  const after = await ollama.chat({ model: id, tools, stream: false, options: { num_predict: 8 }, messages: [
    ...messages,
    { role: 'assistant', content: '', tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Paris', unit: 'celsius' } } }] },
    { role: 'tool', content: '21 degrees', tool_name: 'get_weather' },
  ] });
  check(after.done === true, 'ollama: a turn after a tool result runs');
  const e = await expectError(ollama.chat({ model: id, messages, think: true, stream: false }), 400, 'think on a model without reasoning');
  check(/thinking/.test(e.error ?? e.message), 'ollama think: true on a model without reasoning tags: 400');
} finally {
  const st = await stopServer(server);
  if (st.code !== 0) fail(`server exit ${JSON.stringify(st)}:\n${server.stderr}`);
}
