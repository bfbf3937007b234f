#!/usr/bin/env python3
"""Renders chat templates with transformers to make allm's fixture cases.

For every TEMPLATES_DIR/NAME.jinja this writes OUT_DIR/NAME.jinja (a copy) and
OUT_DIR/NAME.cases.json: a list of cases, each with `conversation`,
`messages`, `tools` (or null), `add_generation_prompt`, `special_tokens` (the
template variables) and either `rendered` (transformers' exact output) or
`error` ("ExceptionType: message", when the template raised).

Rendering is transformers' own (`render_jinja_template`, what
`apply_chat_template` calls): trim_blocks, lstrip_blocks, loop controls, a
`tojson` that keeps non-ASCII, `raise_exception`, and `strftime_now` with the
clock fixed at 2026-11-22 12:00:00 (the clock tests/jinja uses).

    python3 tools/chat_template_fixtures.py TEMPLATES_DIR OUT_DIR

The llama.cpp templates in tests/data/jinja/llama_cpp/ come from
node-llama-cpp@3.22.1's llama/gitRelease.bundle (`models/templates/`).
"""
import datetime as _dt
import json
import os
import sys

FIXED_NOW = _dt.datetime(2026, 11, 22, 12, 0, 0)

# ---- conversations -------------------------------------------------------

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search_docs",
        "description": "Search the manual (Größe & <tags>).",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string"},
                "limit": {"type": "integer", "minimum": 1, "default": 5},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["query"],
        },
    },
}
TOOLS = [WEATHER_TOOL, SEARCH_TOOL]

WEATHER_CALL = {"id": "call_1", "type": "function",
                "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}
WEATHER_RESULT = {"role": "tool", "name": "get_weather", "tool_call_id": "call_1",
                  "content": "{\"temperature\": 21, \"condition\": \"sunny\"}"}

SPECIAL = ("Quotes \"x\" and 'y', braces {{ }} {% %}, <b>tags</b> & amp;, back\\slash, "
           "newline\nand tab\t, unicode café 日本 😀, trailing space ")

# (name, messages, tools, extra template variables)
CONVERSATIONS = [
    ("single_user", [{"role": "user", "content": "Hello!"}], None, {}),
    ("system_user", [{"role": "system", "content": "You are a helpful assistant."},
                     {"role": "user", "content": "What is 2+2?"}], None, {}),
    ("multi_turn", [{"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Name a color."},
                    {"role": "assistant", "content": "Blue."},
                    {"role": "user", "content": "Another one?"}], None, {}),
    ("no_system_multi", [{"role": "user", "content": "Hi"},
                         {"role": "assistant", "content": "Hello! How can I help?"},
                         {"role": "user", "content": "Tell me a joke."},
                         {"role": "assistant", "content": "Why did the chicken cross the road?"},
                         {"role": "user", "content": "Why?"}], None, {}),
    ("special_chars", [{"role": "system", "content": "Answer <in> \"English\" & be nice."},
                       {"role": "user", "content": SPECIAL}], None, {}),
    ("empty_content", [{"role": "user", "content": ""},
                       {"role": "assistant", "content": ""},
                       {"role": "user", "content": "Still there?"}], None, {}),
    ("ends_with_assistant", [{"role": "user", "content": "Write a haiku."},
                             {"role": "assistant", "content": "Autumn moonlight—"}], None, {}),
    ("tools_offered", [{"role": "system", "content": "You can call tools."},
                       {"role": "user", "content": "What's the weather in Paris?"}], TOOLS, {}),
    ("tool_call_roundtrip", [{"role": "user", "content": "What's the weather in Paris?"},
                             {"role": "assistant", "content": "", "tool_calls": [WEATHER_CALL]},
                             WEATHER_RESULT], [WEATHER_TOOL], {}),
    ("tool_call_followup", [
        {"role": "user", "content": "Weather in Paris and Oslo?"},
        {"role": "assistant", "content": "Checking both.", "tool_calls": [
            WEATHER_CALL,
            {"id": "call_2", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}]},
        WEATHER_RESULT,
        {"role": "tool", "name": "get_weather", "tool_call_id": "call_2", "content": "{\"temperature\": -3}"},
        {"role": "assistant", "content": "Paris: 21 °C, sunny. Oslo: -3 °C."},
        {"role": "user", "content": "Thanks!"}], TOOLS, {}),
    ("reasoning", [{"role": "user", "content": "What is 17*3?"},
                   {"role": "assistant", "reasoning_content": "17*3 = 51.", "content": "51."},
                   {"role": "user", "content": "And 17*4?"}], None, {}),
    ("reasoning_ends_with_assistant", [{"role": "user", "content": "Is 91 prime?"},
                                       {"role": "assistant", "reasoning_content": "91 = 7*13.",
                                        "content": "No: 91 = 7 × 13."}], None, {}),
    ("thinking_off", [{"role": "user", "content": "Quick answer: capital of France?"}], None,
     {"enable_thinking": False}),
    ("content_parts", [{"role": "system", "content": [{"type": "text", "text": "Be terse."}]},
                       {"role": "user", "content": [{"type": "text", "text": "Summarize: "},
                                                    {"type": "text", "text": "cats sleep a lot."}]}],
     None, {}),
]

# Special tokens by template family (first matching prefix of the lowercased
# name); templates print them, so realistic ones exercise non-ASCII too.
SPECIAL_TOKENS = [
    ("deepseek", {"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>"}),
    ("meta-llama", {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}),
    ("fireworks", {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}),
    ("nousresearch", {"bos_token": "<|begin_of_text|>", "eos_token": "<|im_end|>"}),
    ("qwen", {"bos_token": "", "eos_token": "<|im_end|>"}),
    ("google", {"bos_token": "<bos>", "eos_token": "<eos>"}),
    ("mistral", {"bos_token": "<s>", "eos_token": "</s>"}),
    ("unsloth-mistral", {"bos_token": "<s>", "eos_token": "</s>"}),
]
DEFAULT_TOKENS = {"bos_token": "<s>", "eos_token": "</s>"}


def special_tokens_for(name):
    lower = name.lower()
    for prefix, tokens in SPECIAL_TOKENS:
        if lower.startswith(prefix):
            return dict(tokens)
    return dict(DEFAULT_TOKENS)


# ---- transformers ---------------------------------------------------------

def make_renderer():
    """Returns render(template_text, messages, tools, agp, variables) -> str,
    transformers' apply_chat_template rendering with the clock fixed."""
    from transformers.utils import chat_template_utils as ctu

    class FixedDatetime(_dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return FIXED_NOW if tz is None else FIXED_NOW.replace(tzinfo=tz)

    # transformers' strftime_now calls `datetime.now()` from this module.
    if isinstance(getattr(ctu, "datetime", None), type):
        ctu.datetime = FixedDatetime

    def fixed_strftime_now(fmt):
        return FIXED_NOW.strftime(fmt)

    def compiled(text):
        tpl = ctu._compile_jinja_template(text)
        tpl.environment.globals["strftime_now"] = fixed_strftime_now
        tpl.globals["strftime_now"] = fixed_strftime_now
        return tpl

    def via_render_jinja_template(text, messages, tools, agp, variables):
        compiled(text)  # cached by transformers: the fixed clock is installed
        out = ctu.render_jinja_template(conversations=[messages], tools=tools, documents=None,
                                        chat_template=text, add_generation_prompt=agp, **variables)
        if isinstance(out, tuple):
            out = out[0]
        return out[0]

    def via_compiled(text, messages, tools, agp, variables):
        return compiled(text).render(messages=messages, tools=tools, documents=None,
                                     add_generation_prompt=agp, **variables)

    probe = "{{ messages[0]['content'] }}|{{ strftime_now('%Y-%m-%d %H:%M:%S') }}|{{ 'é'|tojson }}"
    want = "hi|2026-11-22 12:00:00|\"é\""
    for render in (via_render_jinja_template, via_compiled):
        try:
            if render(probe, [{"role": "user", "content": "hi"}], None, False, {}) == want:
                return render, render.__name__
        except Exception as e:  # noqa: BLE001 - try the next way
            print(f"probe {render.__name__} failed: {type(e).__name__}: {e}", file=sys.stderr)
    raise SystemExit("transformers does not render the probe template as expected")


def render_cases(name, text, render):
    cases = []
    for conv, messages, tools, extra in CONVERSATIONS:
        variables = special_tokens_for(name)
        variables.update(extra)
        for agp in (False, True):
            case = {"conversation": conv, "messages": messages, "tools": tools,
                    "add_generation_prompt": agp, "special_tokens": variables}
            try:
                # Deep copies: a template must not see another case's state.
                case["rendered"] = render(text, json.loads(json.dumps(messages)),
                                          json.loads(json.dumps(tools)), agp, dict(variables))
            except Exception as e:  # noqa: BLE001 - every failure is a fixture
                case["error"] = f"{type(e).__name__}: {e}"
            cases.append(case)
    return cases


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    render, how = make_renderer()
    import transformers
    import jinja2
    summary = {"transformers": transformers.__version__, "jinja2": jinja2.__version__, "renderer": how,
               "templates": {}}
    for fname in sorted(os.listdir(src)):
        if not fname.endswith(".jinja"):
            continue
        name = fname[: -len(".jinja")]
        with open(os.path.join(src, fname), encoding="utf-8") as f:
            text = f.read()
        cases = render_cases(name, text, render)
        with open(os.path.join(out, fname), "w", encoding="utf-8") as f:
            f.write(text)
        with open(os.path.join(out, name + ".cases.json"), "w", encoding="utf-8") as f:
            # One case a line: small files, readable diffs.
            f.write("[\n" + ",\n".join(json.dumps(c, ensure_ascii=False) for c in cases) + "\n]\n")
        errors = sum("error" in c for c in cases)
        summary["templates"][name] = {"cases": len(cases), "errors": errors}
        print(f"{name}: {len(cases)} cases, {errors} errors", flush=True)
    with open(os.path.join(out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
