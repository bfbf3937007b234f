#!/usr/bin/env python3
"""allm run --file with the Qwen2.5-VL fixture (tests/data/vision/qwen2_5_vl, made by
tools/vision/make_qwen2_5_vl_references.py): for each reference case whose user turn is
images first, then text (the shape attachments take), the prompt has the processor's token
count and the greedy reply is transformers' greedy continuation up to the first step whose
margin is under 0.05.

usage: cli_test.py ALLM_BINARY QWEN_VL_DIR
"""
import json
import struct
import subprocess
import sys


def tensors(path):
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


def main():
    allm, vision = sys.argv[1:3]
    ref = json.load(open(vision + "/reference.json"))
    t = tensors(vision + "/reference.safetensors")
    failed, ran = False, 0
    for case in ref["cases"]:
        cid = case["id"]
        msgs = case["messages"]
        parts = msgs[-1]["content"]
        kinds = [p["type"] for p in parts]
        if kinds != ["image"] * (len(kinds) - 1) + ["text"]:
            continue  # --file attachments go before the text
        cmd = [allm, "run", vision, "--temperature", "0", "--repeat-penalty", "1", "--max-tokens", "16",
               "--ignore-eos", "--json", "--threads", "2"]
        if msgs[0]["role"] == "system":
            cmd += ["--system", msgs[0]["content"]]
        for image in case["images"]:
            cmd += ["--file", vision + "/" + image]
        cmd.append(parts[-1]["text"])
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        ran += 1
        if run.returncode != 0:
            print("FAIL %s: exit %d\n%s" % (cid, run.returncode, run.stderr))
            failed = True
            continue
        out = json.loads(run.stdout)
        want_prompt = len(t[cid + ".input_ids"])
        got, want, margins = out["token_ids"], t[cid + ".greedy_ids"], t[cid + ".greedy_margins"]
        decisive = next((i for i, m in enumerate(margins) if m < 0.05), len(margins))
        agree = got[:decisive] == want[:decisive]
        ok = out["usage"]["prompt_tokens"] == want_prompt and agree
        print("%s %s: prompt tokens %d (want %d), first %d tokens %s" % (
            "ok" if ok else "FAIL", cid, out["usage"]["prompt_tokens"], want_prompt, decisive,
            "agree" if agree else "differ: %s != %s" % (got[:decisive], want[:decisive])))
        failed |= not ok
    if ran == 0:
        print("FAIL: no reference case has the images-first shape")
        failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
