#!/usr/bin/env python3
"""allm run --file with the Gemma 3 vision fixture: for each reference case
(one image; another; two images and a system prompt) the prompt has the
processor's token count and the greedy reply is transformers' greedy
continuation (tests/data/vision/gemma3, tools/vision/make_gemma3_references.py);
a text-only model refuses an image with exit code 11 and a clear message.

usage: cli_test.py ALLM_BINARY VISION_DIR TEXT_ONLY_MODEL_DIR
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
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        raw = data[8 + n + a:8 + n + b]
        out[name] = list(struct.unpack("<%d%s" % (len(raw) // 4, "i" if t["dtype"] == "I32" else "f"), raw))
    return out


def main():
    allm, vision, text_only = sys.argv[1:4]
    ref = json.load(open(vision + "/reference.json"))
    t = tensors(vision + "/reference.safetensors")
    failed = False
    for case in ref["cases"]:
        cid = case["id"]
        if case["messages"][-1]["content"][0]["type"] != "image":
            continue  # --file attachments go before the text
        cmd = [allm, "run", vision, "--temperature", "0", "--repeat-penalty", "1", "--max-tokens", "16", "--ignore-eos",
               "--json", "--threads", "2"]
        msgs = case["messages"]
        if msgs[0]["role"] == "system":
            cmd += ["--system", msgs[0]["content"]]
        for image in case["images"]:
            cmd += ["--file", vision + "/" + image]
        cmd.append(next(p["text"] for p in msgs[-1]["content"] if p["type"] == "text"))
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if run.returncode != 0:
            print("FAIL %s: exit %d\n%s" % (cid, run.returncode, run.stderr))
            failed = True
            continue
        out = json.loads(run.stdout)
        want_prompt = len(t[cid + ".input_ids"])
        got = out["token_ids"]
        want = t[cid + ".greedy_ids"]
        margins = t[cid + ".greedy_margins"]
        agree = all(g == w for g, w, m in zip(got, want, margins) if m >= 0.05) and len(got) == len(want)
        ok = out["usage"]["prompt_tokens"] == want_prompt and agree
        print("%s %s: prompt tokens %d (want %d), reply %s" % ("ok" if ok else "FAIL", cid, out["usage"]["prompt_tokens"],
                                                            want_prompt, "agrees" if agree else "%s != %s" % (got, want)))
        failed |= not ok
    refused = subprocess.run([allm, "run", text_only, "--file", vision + "/image_a.png", "What is this?"],
                             capture_output=True, text=True, timeout=120)
    ok = refused.returncode == 11 and "does not support images" in refused.stderr
    print("%s a text-only model refuses an image (exit %d: %s)" % ("ok" if ok else "FAIL", refused.returncode,
                                                                    refused.stderr.strip()))
    failed |= not ok
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
