// allm run --json-schema with the shipped random-weight model: every reply,
// over several schemas and seeds, must parse as JSON and validate against its
// schema according to ajv (an independent JSON Schema validator). So must what
// allm bench --json-schema decodes (greedy, from random prompt tokens; long
// enough for these schemas to complete), which reports the constraint's time.
// Env: ALLM_BIN, ALLM_MODEL, ALLM_AJV_CACHE, ALLM_SCHEMA_DIR. Exit 77 = skipped (no ajv).
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

const cache = process.env.ALLM_AJV_CACHE;
if (!existsSync(path.join(cache, "node_modules/ajv/package.json"))) {
  console.log("SKIP: ajv not installed (npm unavailable)");
  process.exit(77);
}
const Ajv = createRequire(path.join(cache, "package.json"))("ajv");
const ajv = new Ajv({ strict: false, allErrors: true });
let failures = 0, runs = 0;
for (const name of ["person.json", "shapes.json"]) {
  const file = path.join(process.env.ALLM_SCHEMA_DIR, name);
  const validate = ajv.compile(JSON.parse(readFileSync(file, "utf8")));
  for (const seed of [1, 2, 3, 4]) {
    const out = execFileSync(process.env.ALLM_BIN, ["run", process.env.ALLM_MODEL, "Answer in JSON.", "--json-schema",
      file, "--seed", String(seed), "--max-tokens", "400", "--json"], { encoding: "utf8" });
    const reply = JSON.parse(out);
    runs++;
    let value;
    try {
      value = JSON.parse(reply.text);
    } catch (e) {
      console.log(`FAIL ${name} seed ${seed}: not JSON (${reply.finish_reason}): ${JSON.stringify(reply.text)}`);
      failures++;
      continue;
    }
    if (!validate(value)) {
      console.log(`FAIL ${name} seed ${seed}: ${ajv.errorsText(validate.errors)}: ${reply.text}`);
      failures++;
    } else {
      console.log(`ok ${name} seed ${seed}: ${reply.text.replace(/\s+/g, " ")}`);
    }
  }
  const bench = JSON.parse(execFileSync(process.env.ALLM_BIN, ["bench", process.env.ALLM_MODEL, "--json-schema", file,
    "--prompt-tokens", "8", "--gen-tokens", "120", "--threads", "1", "--no-bandwidth", "--no-warmup", "--json"],
    { encoding: "utf8" }));
  runs++;
  const c = bench.constraint;
  let benchValue;
  try {
    benchValue = JSON.parse(c.text);
  } catch (e) {
    benchValue = e;
  }
  if (c.kind !== "json_schema" || !(c.us_per_token > 0) || benchValue instanceof Error || !validate(benchValue)) {
    console.log(`FAIL bench ${name}: ${JSON.stringify(c)} ${validate.errors ? ajv.errorsText(validate.errors) : ""}`);
    failures++;
  } else {
    console.log(`ok bench ${name}: ${c.us_per_token.toFixed(1)} us per token: ${c.text.replace(/\s+/g, " ")}`);
  }
}
console.log(`${runs - failures}/${runs} replies valid`);
process.exit(failures ? 1 : 0);
