#!/usr/bin/env python3
"""allm run --file with a vision fixture (tests/data/vision/gemma3 or qwen2_5_vl, made by
tools/vision/make_*_references.py): every reference case goes through the CLI, its user
turn's images placed with llama.cpp's media marker (<__media__>) where the case has them
among the text, or given with no marker when they all come first (the default place),
and the system turn as --system. Each case's prompt has the processor's token count and
the greedy reply is transformers' greedy continuation up to the first step whose margin
is under 0.05. In allm chat, /image files and a message with markers give allm run's
reply, and /save keeps the images' places (attachment_offsets). A marker count that
differs from the files' is refused (exit 2, naming both counts); with
TEXT_ONLY_MODEL_DIR, a text-only model refuses an image (exit 11).

usage: cli_test.py ALLM_BINARY VISION_DIR [TEXT_ONLY_MODEL_DIR]
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

MARKER = "<__media__>"


def tensors(path):
    """The I32 and F32 tensors of a safetensors file, as flat lists."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__" or t["dtype"] not in ("I32", "F32"):
            continue
        a, b = t["data_offsets"]
        raw = data[8 + n + a:8 + n + b]
        out[name] = list(struct.unpack("<%d%s" % (len(raw) // 4, "i" if t["dtype"] == "I32" else "f"), raw))
    return out


def prompt_of(parts):
    """The typed prompt for a user turn's parts: no marker when the images all come first."""
    kinds = [p["type"] for p in parts]
    images_first = kinds == ["image"] * (len(kinds) - 1) + ["text"]
    if images_first:
        return parts[-1]["text"]
    return "".join(MARKER if p["type"] == "image" else p["text"] for p in parts)


def run(cmd, stdin=None):
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120)


GREEDY = ["--temperature", "0", "--repeat-penalty", "1", "--max-tokens", "16", "--ignore-eos", "--threads", "2"]


def main():
    allm, vision = sys.argv[1:3]
    text_only = sys.argv[3] if len(sys.argv) > 3 else None
    ref = json.load(open(vision + "/reference.json"))
    t = tensors(vision + "/reference.safetensors")
    failed = False

    def report(ok, what):
        nonlocal failed
        print("%s %s" % ("ok" if ok else "FAIL", what))
        failed |= not ok

    replies = {}  # case id -> allm run's reply text
    for case in ref["cases"]:
        cid, msgs = case["id"], case["messages"]
        cmd = [allm, "run", vision, "--json"] + GREEDY
        if msgs[0]["role"] == "system":
            cmd += ["--system", msgs[0]["content"]]
        for image in case["images"]:
            cmd += ["--file", vision + "/" + image]
        prompt = prompt_of(msgs[-1]["content"])
        cmd.append(prompt)
        out = run(cmd)
        if out.returncode != 0:
            report(False, "%s: exit %d\n%s" % (cid, out.returncode, out.stderr))
            continue
        reply = json.loads(out.stdout)
        replies[cid] = reply["text"]
        want_prompt = len(t[cid + ".input_ids"])
        got, want, margins = reply["token_ids"], t[cid + ".greedy_ids"], t[cid + ".greedy_margins"]
        decisive = next((i for i, m in enumerate(margins) if m < 0.05), len(margins))
        agree = got[:decisive] == want[:decisive]
        report(reply["usage"]["prompt_tokens"] == want_prompt and agree,
               "%s (%r): prompt tokens %d (want %d), first %d tokens %s" % (
                   cid, prompt, reply["usage"]["prompt_tokens"], want_prompt, decisive,
                   "agree" if agree else "differ: %s != %s" % (got[:decisive], want[:decisive])))

    # allm chat: the first case with markers, its files given by /image.
    placed = next((c for c in ref["cases"] if MARKER in prompt_of(c["messages"][-1]["content"])), None)
    if placed is None:
        report(False, "no reference case places an image after text")
    elif placed["id"] in replies:
        msgs = placed["messages"]
        with tempfile.TemporaryDirectory() as tmp:
            saved = os.path.join(tmp, "chat.json")
            typed = "".join("/image %s/%s\n" % (vision, f) for f in placed["images"])
            typed += prompt_of(msgs[-1]["content"]) + "\n/save " + saved + "\n"
            cmd = [allm, "chat", vision] + GREEDY
            if msgs[0]["role"] == "system":
                cmd += ["--system", msgs[0]["content"]]
            out = run(cmd, typed)
            same = out.returncode == 0 and out.stdout == replies[placed["id"]] + "\n"
            report(same, "chat %s: /image and markers give allm run's reply (exit %d, %r)" % (
                placed["id"], out.returncode, out.stdout if same else out.stdout + out.stderr))
            turn = json.load(open(saved))["messages"][0] if os.path.exists(saved) else {}
            marked = prompt_of(msgs[-1]["content"])
            want = [i - k * len(MARKER) for k, i in enumerate(
                j for j in range(len(marked)) if marked.startswith(MARKER, j))]
            report(turn.get("content") == marked.replace(MARKER, "") and turn.get("attachment_offsets") == want,
                   "chat %s: the saved turn keeps the images' places %s (%s)" % (placed["id"], want, turn))

    # One marker too many, then one too few: refused before the model loads.
    image = vision + "/" + ref["cases"][0]["images"][0]
    for markers, files in ((2, 1), (1, 2)):
        cmd = [allm, "run", vision]
        for _ in range(files):
            cmd += ["--file", image]
        cmd.append("Look:" + MARKER * markers)
        out = run(cmd)
        said = "%d media marker(s) (%s) for %d attached file(s)" % (markers, MARKER, files)
        report(out.returncode == 2 and said in out.stderr,
               "%d markers for %d files: exit %d (%s)" % (markers, files, out.returncode, out.stderr.strip()))

    if text_only:
        out = run([allm, "run", text_only, "--file", image, "What is this?"])
        report(out.returncode == 11 and "does not support images" in out.stderr,
               "a text-only model refuses an image (exit %d: %s)" % (out.returncode, out.stderr.strip()))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
