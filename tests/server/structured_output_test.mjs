// Constrained output over HTTP, through the official OpenAI and Ollama clients:
// every reply under a schema (OpenAI response_format json_schema, llama.cpp's
// json_schema, Ollama format) must validate against it according to ajv (an
// independent JSON Schema validator); json_object / format "json" replies must
// parse as objects; a GBNF grammar's reply must be one of its sentences; a
// schema or grammar that cannot be honoured is a 400 naming the keyword.
// Env: as the other server tests, plus ALLM_AJV_CACHE, ALLM_SCHEMA_DIR. Exit 77 = skipped.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { check, clients, expectError, fail, postJson, startServer, stopServer } from './serve.mjs';

const ajvCache = process.env.ALLM_AJV_CACHE;
if (!fs.existsSync(path.join(ajvCache, 'node_modules/ajv/package.json'))) {
  console.log('skipped: ajv is not installed (no npm?)');
  process.exit(77);
}
const { OpenAI, Ollama } = clients();
const Ajv = createRequire(path.join(ajvCache, 'package.json'))('ajv');
const ajv = new Ajv({ strict: false, allErrors: true });
const schemas = Object.fromEntries(['person.json', 'shapes.json'].map((f) =>
  [f, JSON.parse(fs.readFileSync(path.join(process.env.ALLM_SCHEMA_DIR, f), 'utf8'))]));

function validates(schema, text, what) {
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    fail(`${what}: not JSON: ${JSON.stringify(text)}`);
  }
  const validate = ajv.compile(schema);
  check(validate(value), `${what}: validates (${ajv.errorsText(validate.errors)}): ${text.replace(/\s+/g, ' ')}`);
  // Properties come in the order the schema lists them (not sorted).
  const order = Object.keys(schema.properties ?? {});
  const got = Object.keys(value).filter((k) => order.includes(k));
  check(got.every((k, i) => i === 0 || order.indexOf(got[i - 1]) < order.indexOf(k)), `${what}: properties in schema order (${got})`);
  return value;
}

function isObject(text, what) {
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    fail(`${what}: not JSON: ${JSON.stringify(text)}`);
  }
  check(value !== null && typeof value === 'object' && !Array.isArray(value), `${what}: a JSON object: ${text.replace(/\s+/g, ' ')}`);
}

const server = await startServer();
const openai = new OpenAI({ baseURL: server.url + '/v1', apiKey: 'unused', maxRetries: 0 });
const ollama = new Ollama({ host: server.url });
const model = 'allm-tiny';
const messages = [{ role: 'user', content: 'Describe it in JSON.' }];
const sampling = { temperature: 1, max_tokens: 400 };

try {
  // OpenAI response_format json_schema: whole and streamed, several seeds.
  for (const [name, schema] of Object.entries(schemas)) {
    for (const seed of [11, 12]) {
      const r = await openai.chat.completions.create({
        model, messages, ...sampling, seed,
        response_format: { type: 'json_schema', json_schema: { name: 'reply', schema, strict: true } },
      });
      validates(schema, r.choices[0].message.content, `response_format json_schema ${name} seed ${seed}`);
    }
    let text = '';
    const stream = await openai.chat.completions.create({
      model, messages, ...sampling, seed: 13, stream: true,
      response_format: { type: 'json_schema', json_schema: { name: 'reply', schema } },
    });
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    validates(schema, text, `streamed response_format json_schema ${name}`);
  }
  // json_object: any JSON object. With random weights a string inside may run
  // to max_tokens; such a cut reply must still start as an object, and most
  // replies must end by themselves.
  let stopped = 0;
  for (const seed of [21, 22, 23]) {
    const r = await openai.chat.completions.create({ model, messages, ...sampling, seed, response_format: { type: 'json_object' } });
    const t = r.choices[0].message.content;
    if (r.choices[0].finish_reason === 'stop') {
      isObject(t, `response_format json_object seed ${seed}`);
      stopped++;
    } else {
      check(/^\s*\{/.test(t), `response_format json_object seed ${seed}: cut at max_tokens, starts an object`);
    }
  }
  // llama.cpp's extensions (extra body fields): json_schema, grammar; on /v1/completions too.
  const person = schemas['person.json'];
  let r = await openai.chat.completions.create({ model, messages, ...sampling, seed: 31, json_schema: person });
  validates(person, r.choices[0].message.content, 'llama.cpp json_schema field');
  const c = await openai.completions.create({ model, prompt: 'A person:', ...sampling, seed: 32, json_schema: person });
  validates(person, c.choices[0].text, '/v1/completions json_schema field');
  const gbnf = 'root ::= answer " because " reason\nanswer ::= "yes" | "no"\nreason ::= [a-z]{1,8}\n';
  for (const seed of [33, 34]) {
    r = await openai.chat.completions.create({ model, messages, ...sampling, seed, grammar: gbnf });
    const t = r.choices[0].message.content;
    check(/^(yes|no) because [a-z]{1,8}$/.test(t), `GBNF grammar seed ${seed}: ${JSON.stringify(t)}`);
  }

  // Errors: named keyword and pointer, in OpenAI's shape; never a 200 ignoring the schema.
  const bad = { type: 'object', properties: { a: { not: { type: 'string' } } } };
  let e = await expectError(openai.chat.completions.create({
    model, messages, response_format: { type: 'json_schema', json_schema: { name: 'x', schema: bad } } }), 400, 'uncompilable schema');
  check(e.param === 'response_format' && /'not'/.test(e.message) && /#\/properties\/a\/not/.test(e.message),
        `uncompilable schema: 400 naming the keyword and pointer (${e.message})`);
  e = await expectError(openai.chat.completions.create({ model, messages, json_schema: { $ref: 'http://x/y' } }), 400, 'remote $ref');
  check(e.param === 'json_schema' && /\$ref/.test(e.message), `remote $ref: 400 naming $ref (${e.message})`);
  e = await expectError(openai.chat.completions.create({ model, messages, grammar: 'root ::= undefined_rule' }), 400, 'bad GBNF');
  check(e.param === 'grammar' && /undefined_rule/.test(e.message), `bad GBNF: 400 naming the rule (${e.message})`);
  e = await expectError(openai.chat.completions.create({ model, messages, response_format: { type: 'yaml' } }), 400, 'unknown type');
  check(e.param === 'response_format' && /yaml/.test(e.message), 'unknown response_format type: 400 naming it');
  e = await expectError(openai.chat.completions.create({
    model, messages, response_format: { type: 'json_object' }, grammar: gbnf }), 400, 'two constraints');
  check(/only one/.test(e.message), 'response_format and grammar together: 400');

  // Ollama format: a schema object and "json", /api/chat and /api/generate.
  for (const [name, schema] of Object.entries(schemas)) {
    const oc = await ollama.chat({ model, messages, stream: false, format: schema, options: { temperature: 1, seed: 41, num_predict: 400 } });
    validates(schema, oc.message.content, `Ollama chat format ${name}`);
  }
  let streamed = '';
  for await (const part of await ollama.generate({ model, prompt: 'A person:', stream: true, format: person,
                                                   options: { temperature: 1, seed: 42, num_predict: 400 } }))
    streamed += part.response;
  validates(person, streamed, 'Ollama streamed generate format schema');
  for (const seed of [43, 44, 45]) {
    const oc = await ollama.chat({ model, messages, stream: false, format: 'json', options: { temperature: 1, seed, num_predict: 400 } });
    if (oc.done_reason === 'stop') {
      isObject(oc.message.content, `Ollama format "json" seed ${seed}`);
      stopped++;
    } else {
      check(/^\s*\{/.test(oc.message.content), `Ollama format "json" seed ${seed}: cut at num_predict, starts an object`);
    }
  }
  check(stopped >= 2, `json_object / format "json": ${stopped} of 6 replies complete`);
  e = await expectError(ollama.chat({ model, messages, stream: false, format: bad }), 400, 'Ollama uncompilable schema');
  check(/'not'/.test(e.error ?? e.message) && /#\/properties\/a\/not/.test(e.error ?? e.message),
        `Ollama uncompilable schema: 400 naming the keyword (${e.error ?? e.message})`);
  const raw = await postJson(server.url + '/api/generate', { model, prompt: 'x', format: 'xml' });
  check(raw.status === 400 && /format/.test(raw.json?.error), 'Ollama format "xml": 400 naming format');
} finally {
  const st = await stopServer(server);
  if (st.code !== 0) fail(`server exit ${JSON.stringify(st)}:\n${server.stderr}`);
}
