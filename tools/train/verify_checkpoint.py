#!/usr/bin/env python3
"""Checks a shipped allm checkpoint without PyTorch.

Always (Python standard library only):
  * config.json describes a qwen3 or llama model, and model.safetensors holds exactly the tensors
    that config implies, with the right shapes, in BF16 or F32, laid out back to back, all finite;
  * tokenizer.json is a byte-level BPE whose vocabulary size matches config.json, with
    <|endoftext|>, <|im_start|>, <|im_end|> as special tokens 0, 1, 2;
  * tokenizer_config.json, special_tokens_map.json and generation_config.json agree with it;
  * the folder is at most 25 MB.
If numpy is importable: a plain numpy forward pass of the reference prompt (reference.json next to
this script, written by train_tiny.py from transformers' output) must give the same top-5 logits.
If tokenizers is importable: the reference prompt must encode to the reference ids.

Usage: python3 tools/train/verify_checkpoint.py [models/allm-tiny]
Exit status 0 when every check passes.
"""
import json
import math
import os
import struct
import sys
from array import array

HERE = os.path.dirname(os.path.abspath(__file__))
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MAX_FOLDER_BYTES = 25 * 1000 * 1000


def fail(message):
    sys.exit(f"FAIL: {message}")


def load_json(folder, name):
    with open(os.path.join(folder, name), encoding="utf-8") as f:
        return json.load(f)


def expected_tensors(config):
    """Tensor name -> shape for a qwen3 / llama causal LM as transformers names them."""
    hidden, inter = config["hidden_size"], config["intermediate_size"]
    heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
    head_dim = config.get("head_dim") or hidden // heads
    shapes = {"model.embed_tokens.weight": [config["vocab_size"], hidden], "model.norm.weight": [hidden]}
    if not config.get("tie_word_embeddings", False):
        shapes["lm_head.weight"] = [config["vocab_size"], hidden]
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        shapes.update({
            p + "input_layernorm.weight": [hidden],
            p + "post_attention_layernorm.weight": [hidden],
            p + "self_attn.q_proj.weight": [heads * head_dim, hidden],
            p + "self_attn.k_proj.weight": [kv_heads * head_dim, hidden],
            p + "self_attn.v_proj.weight": [kv_heads * head_dim, hidden],
            p + "self_attn.o_proj.weight": [hidden, heads * head_dim],
            p + "mlp.gate_proj.weight": [inter, hidden],
            p + "mlp.up_proj.weight": [inter, hidden],
            p + "mlp.down_proj.weight": [hidden, inter],
        })
        if config["model_type"] == "qwen3":
            shapes[p + "self_attn.q_norm.weight"] = [head_dim]
            shapes[p + "self_attn.k_norm.weight"] = [head_dim]
    return shapes


def read_safetensors_header(path):
    with open(path, "rb") as f:
        header_length = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(header_length))
    header.pop("__metadata__", None)
    return header, 8 + header_length


def check_tensors(folder, config):
    path = os.path.join(folder, "model.safetensors")
    header, data_start = read_safetensors_header(path)
    data_size = os.path.getsize(path) - data_start
    expected = expected_tensors(config)
    if set(header) != set(expected):
        fail(f"tensor names differ: missing {sorted(set(expected) - set(header))}, "
             f"unexpected {sorted(set(header) - set(expected))}")
    item_size = {"BF16": 2, "F32": 4}
    spans = []
    for name, info in header.items():
        if info["dtype"] not in item_size:
            fail(f"{name}: dtype {info['dtype']} is not BF16 or F32")
        if info["shape"] != expected[name]:
            fail(f"{name}: shape {info['shape']}, config implies {expected[name]}")
        begin, end = info["data_offsets"]
        if end - begin != math.prod(info["shape"]) * item_size[info["dtype"]]:
            fail(f"{name}: {end - begin} bytes do not match shape {info['shape']} of {info['dtype']}")
        spans.append((begin, end, name))
    spans.sort()
    position = 0
    for begin, end, name in spans:
        if begin != position:
            fail(f"{name}: data starts at {begin}, expected {position} (gap or overlap)")
        position = end
    if position != data_size:
        fail(f"tensor data ends at {position}, file holds {data_size} bytes of data")
    with open(path, "rb") as f:
        f.seek(data_start)
        blob = f.read()
    for begin, end, name in spans:
        dtype = header[name]["dtype"]
        words = array("H" if dtype == "BF16" else "I")
        words.frombytes(blob[begin:end])
        if sys.byteorder == "big":
            words.byteswap()
        exponent_mask = 0x7F80 if dtype == "BF16" else 0x7F800000
        if any((w & exponent_mask) == exponent_mask for w in words):
            fail(f"{name}: holds a NaN or infinity")
    parameters = sum(math.prod(info["shape"]) for info in header.values())
    dtypes = sorted({info["dtype"] for info in header.values()})
    print(f"ok  model.safetensors: {len(header)} tensors, {parameters} parameters, {dtypes}, all finite")
    return header, data_start


def check_tokenizer(folder, config):
    tokenizer = load_json(folder, "tokenizer.json")
    model = tokenizer["model"]
    if model["type"] != "BPE":
        fail(f"tokenizer.json model.type is {model['type']}, expected BPE")
    if tokenizer["pre_tokenizer"]["type"] != "ByteLevel" or tokenizer["decoder"]["type"] != "ByteLevel":
        fail("tokenizer.json: expected ByteLevel pre-tokenizer and decoder")
    ids = set(model["vocab"].values()) | {t["id"] for t in tokenizer["added_tokens"]}
    if len(ids) != config["vocab_size"] or max(ids) != config["vocab_size"] - 1:
        fail(f"tokenizer has {len(ids)} ids (max {max(ids)}), config vocab_size is {config['vocab_size']}")
    added = {t["content"]: t for t in tokenizer["added_tokens"]}
    for expected_id, token in enumerate(SPECIAL_TOKENS):
        if token not in added or added[token]["id"] != expected_id or not added[token]["special"]:
            fail(f"tokenizer.json: {token} must be special token {expected_id}")
    print(f"ok  tokenizer.json: byte-level BPE, {len(ids)} ids, {len(model['merges'])} merges, specials 0-2")

    tokenizer_config = load_json(folder, "tokenizer_config.json")
    special_map = load_json(folder, "special_tokens_map.json")
    generation = load_json(folder, "generation_config.json")
    template = tokenizer_config.get("chat_template", "")
    if "<|im_start|>" not in template or "add_generation_prompt" not in template:
        fail("tokenizer_config.json: chat_template is not a ChatML template")
    if tokenizer_config["eos_token"] != "<|im_end|>" or special_map["eos_token"] != "<|im_end|>":
        fail("eos token must be <|im_end|> in tokenizer_config.json and special_tokens_map.json")
    if tokenizer_config["pad_token"] != "<|endoftext|>" or special_map["pad_token"] != "<|endoftext|>":
        fail("pad token must be <|endoftext|>")
    eos = generation["eos_token_id"]
    if sorted(eos) != [0, 2] or config["eos_token_id"] != 2:
        fail(f"generation eos ids {eos} / config eos {config['eos_token_id']} do not name <|im_end|> and <|endoftext|>")
    for key in ("temperature", "top_p", "top_k", "repetition_penalty"):
        if key not in generation:
            fail(f"generation_config.json lacks {key}")
    print("ok  tokenizer_config.json (ChatML template), special_tokens_map.json, generation_config.json")


def numpy_forward_check(folder, config, header, data_start, reference):
    import numpy as np
    raw = np.memmap(os.path.join(folder, "model.safetensors"), dtype=np.uint8, mode="r")

    def tensor(name):
        info = header[name]
        begin, end = info["data_offsets"]
        chunk = np.asarray(raw[data_start + begin:data_start + end])
        if info["dtype"] == "BF16":
            values = (chunk.view("<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            values = chunk.view("<f4").astype(np.float32)
        return values.reshape(info["shape"])

    eps = config["rms_norm_eps"]
    heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
    head_dim = config.get("head_dim") or config["hidden_size"] // heads
    theta = config.get("rope_theta") or config["rope_parameters"]["rope_theta"]

    def rms_norm(x, weight):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight

    def rotate(x, cos, sin):  # rotate-half convention of transformers
        half = x.shape[-1] // 2
        rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
        return x * cos + rotated * sin

    ids = reference["prompt_ids"]
    length = len(ids)
    inv_freq = 1.0 / theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    angles = np.outer(np.arange(length), inv_freq)
    cos = np.cos(np.concatenate([angles, angles], axis=-1)).astype(np.float32)[:, None, :]
    sin = np.sin(np.concatenate([angles, angles], axis=-1)).astype(np.float32)[:, None, :]
    mask = np.triu(np.full((length, length), -np.inf, dtype=np.float32), 1)
    embed = tensor("model.embed_tokens.weight")
    x = embed[ids]
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms_norm(x, tensor(p + "input_layernorm.weight"))
        q = (h @ tensor(p + "self_attn.q_proj.weight").T).reshape(length, heads, head_dim)
        k = (h @ tensor(p + "self_attn.k_proj.weight").T).reshape(length, kv_heads, head_dim)
        v = (h @ tensor(p + "self_attn.v_proj.weight").T).reshape(length, kv_heads, head_dim)
        if config["model_type"] == "qwen3":
            q = rms_norm(q, tensor(p + "self_attn.q_norm.weight"))
            k = rms_norm(k, tensor(p + "self_attn.k_norm.weight"))
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        group = heads // kv_heads
        k, v = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)
        scores = np.einsum("qhd,khd->hqk", q, k) / math.sqrt(head_dim) + mask
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        attention = np.einsum("hqk,khd->qhd", scores, v).reshape(length, heads * head_dim)
        x = x + attention @ tensor(p + "self_attn.o_proj.weight").T
        h = rms_norm(x, tensor(p + "post_attention_layernorm.weight"))
        gate = h @ tensor(p + "mlp.gate_proj.weight").T
        up = h @ tensor(p + "mlp.up_proj.weight").T
        x = x + (gate / (1 + np.exp(-gate)) * up) @ tensor(p + "mlp.down_proj.weight").T
    x = rms_norm(x, tensor("model.norm.weight"))
    head = embed if config.get("tie_word_embeddings") else tensor("lm_head.weight")
    logits = x[-1] @ head.T
    top = np.argsort(-logits)[:5]
    for (ref_id, ref_value), got_id in zip(reference["last_position_top5"], top):
        if ref_id != got_id or abs(ref_value - logits[ref_id]) > 1e-2:
            fail(f"numpy forward: top-5 {[(int(i), float(logits[i])) for i in top]} "
                 f"!= transformers {reference['last_position_top5']}")
    worst = max(abs(v - logits[i]) for i, v in reference["last_position_top5"])
    print(f"ok  numpy forward pass matches transformers' top-5 logits (max difference {worst:.2e})")


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "models", "allm-tiny")
    config = load_json(folder, "config.json")
    if config["model_type"] not in ("qwen3", "llama"):
        fail(f"model_type {config['model_type']} is not qwen3 or llama")
    header, data_start = check_tensors(folder, config)
    check_tokenizer(folder, config)
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    if size > MAX_FOLDER_BYTES:
        fail(f"folder holds {size} bytes, more than {MAX_FOLDER_BYTES}")
    print(f"ok  folder size {size} bytes")

    with open(os.path.join(HERE, "reference.json"), encoding="utf-8") as f:
        reference = json.load(f)
    try:
        import numpy  # noqa: F401
    except ImportError:
        print("skip numpy forward pass (numpy not importable)")
    else:
        numpy_forward_check(folder, config, header, data_start, reference)
    try:
        from tokenizers import Tokenizer
    except ImportError:
        print("skip tokenizer round trip (tokenizers not importable)")
    else:
        tokenizer = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
        ids = tokenizer.encode(reference["prompt"], add_special_tokens=False).ids
        if ids != reference["prompt_ids"]:
            fail(f"tokenizers encodes {reference['prompt']!r} as {ids}, reference says {reference['prompt_ids']}")
        print("ok  tokenizers encodes the reference prompt to the reference ids")
    print("all checks passed")


if __name__ == "__main__":
    main()
