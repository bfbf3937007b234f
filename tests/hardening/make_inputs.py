#!/usr/bin/env python3
"""Writes the hostile inputs of the hardening regression tests into OUT_DIR.

Each one once crashed allm, hung it or made it allocate gigabytes; the tests
(CMakeLists.txt here) run allm on them under time and memory limits.
Usage: make_inputs.py OUT_DIR TEST_DATA_DIR
"""
import json
import os
import shutil
import struct
import sys
import zlib

out, data = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)


def write(name, text):
    with open(os.path.join(out, name), "w", encoding="utf-8") as f:
        f.write(text)


def deep_list(depth, tail):
    return ("{%- set ns = namespace(l=[1]) %}{% for i in range(" + str(depth) +
            ") %}{% set ns.l = [ns.l] %}{% endfor %}" + tail)


# --- templates (rendered with `allm template FILE --messages messages.json`)
write("messages.json", '[{"role": "user", "content": "hi"}]')
write("deep_values.jinja", deep_list(60000, "done"))
write("deep_tojson.jinja", deep_list(100000, "{{ ns.l | tojson }}"))
write("range_huge.jinja", "{% for i in range(10**12) %}{% endfor %}")
write("list_doubled.jinja",
      "{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}")
write("shared_tojson.jinja",
      "{% set ns = namespace(l=[1]) %}{% for i in range(100) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}"
      "{{ ns.l | tojson }}")
write("plain.jinja", "{% for m in messages %}{{ m.content }}{% endfor %}")
# 1 MB on one line: every token's column used to be recounted from the line start.
write("long_line.jinja", "{{ 1 }}" * 150000)
write("deep_parens.jinja", "{{ " + "(" * 1000000 + "1" + ")" * 1000000 + " }}")
# 10^6 nested arrays as the messages.
write("deep_messages.json", "[" * 1000000 + "]" * 1000000)

# --- templates for the config keys template.* (each fits the defaults, not the lowered key)
write("steps_loop.jinja", "{% for i in range(100000) %}{% endfor %}ok")
write("output_big.jinja", "{{ 'x' * 5000 }}")
write("macro_deep.jinja",
      "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(50) }}ok")
write("memory_big.jinja", "{% set s = 'x' * 100000 %}{{ s | length }}")


# --- model directories: the tiny llama fixture with one hostile change each
def model_variant(name, edit_config=None, config_text=None, tokenizer_config=None):
    target = os.path.join(out, name)
    if os.path.exists(target):
        shutil.rmtree(target)
    shutil.copytree(os.path.join(data, "models", "llama"), target)
    if config_text is not None:
        with open(os.path.join(target, "config.json"), "w") as f:
            f.write(config_text)
    if edit_config is not None:
        path = os.path.join(target, "config.json")
        with open(path) as f:
            cfg = json.load(f)
        edit_config(cfg)
        with open(path, "w") as f:
            json.dump(cfg, f)
    if tokenizer_config is not None:
        path = os.path.join(target, "tokenizer_config.json")
        cfg = {}
        if os.path.exists(path):
            with open(path) as f:
                cfg = json.load(f)
        tokenizer_config(cfg)
        with open(path, "w") as f:
            json.dump(cfg, f)
        for other in ("chat_template.jinja", "chat_template.json"):
            if os.path.exists(os.path.join(target, other)):
                os.remove(os.path.join(target, other))


with open(os.path.join(data, "models", "llama", "config.json")) as f:
    base_config = f.read().rstrip().rstrip("}")
model_variant("model_deep_config",
              config_text=base_config + ', "x": ' + "[" * 100000 + "]" * 100000 + "}")
model_variant("model_many_layers", edit_config=lambda c: c.update(num_hidden_layers=1000000000))
model_variant("model_negative_eps", edit_config=lambda c: c.update(rms_norm_eps=-1e-5))
model_variant("model_short_layer_types", edit_config=lambda c: c.update(layer_types=["full_attention"]))
model_variant("model_template",
              tokenizer_config=lambda c: c.update(chat_template="{% for m in messages %}{{ m.content }}{% endfor %}"))
model_variant("model_deep_template",
              tokenizer_config=lambda c: c.update(chat_template=deep_list(60000, "{{ messages[0].content }}")))


# --- a tokenizer whose Split pre-tokenizer backtracks exponentially
tok_dir = os.path.join(out, "tokenizer_backtracking")
os.makedirs(tok_dir, exist_ok=True)
with open(os.path.join(data, "models", "llama", "tokenizer.json")) as f:
    tok = json.load(f)
tok["normalizer"] = None
tok["pre_tokenizer"] = {"type": "Split", "pattern": {"Regex": "(a+)+$|b"}, "behavior": "Isolated", "invert": False}
with open(os.path.join(tok_dir, "tokenizer.json"), "w") as f:
    json.dump(tok, f)
write("backtracking.jsonl", json.dumps({"text": ("a" * 20 + "b") * 20000}) + "\n")


# --- a GGUF claiming a 2^28-element u8 array (a sparse file of 256 MiB)
def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


# (read in place: costs nothing), and one claiming 2^23 strings (a sparse 64 MiB
# of empty strings: refused by the string limit before anything is allocated)
def huge_gguf(name, element_type, count, element_bytes):
    header = b"GGUF" + struct.pack("<IQQ", 3, 0, 2)
    header += gguf_string("general.architecture") + struct.pack("<I", 8) + gguf_string("llama")
    header += gguf_string("x.huge") + struct.pack("<IIQ", 9, element_type, count)
    with open(os.path.join(out, name), "wb") as f:
        f.write(header)
        f.truncate(len(header) + count * element_bytes)


huge_gguf("huge_array.gguf", 0, 1 << 28, 1)
huge_gguf("huge_strings.gguf", 8, 1 << 23, 8)


# --- a GGUF whose embedding_length is 0 (blamed on head_count before)
def gguf_u32(key, value):
    return gguf_string(key) + struct.pack("<II", 4, value)


with open(os.path.join(out, "zero_embedding.gguf"), "wb") as f:
    f.write(b"GGUF" + struct.pack("<IQQ", 3, 0, 3) + gguf_string("general.architecture") + struct.pack("<I", 8) +
            gguf_string("llama") + gguf_u32("llama.embedding_length", 0) + gguf_u32("llama.attention.head_count", 4))


# --- a PNG of 8192x4096 RGBA (128 MiB of pixels) in ~130 KB, for a model without vision
def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


width, height = 8192, 4096
rows = (b"\0" + b"\0" * (4 * width)) * height
with open(os.path.join(out, "big.png"), "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)) +
            png_chunk(b"IDAT", zlib.compress(rows, 9)) + png_chunk(b"IEND", b""))
