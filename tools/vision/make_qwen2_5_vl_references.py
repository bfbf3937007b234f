#!/usr/bin/env python3
"""Tiny random-weight Qwen2.5-VL checkpoint and the references allm's qwen2_5_vl plugin is tested against.

Run where transformers (5.x), PyTorch, tokenizers, safetensors, numpy and Pillow are installed (the GPU
machine; it computes on the CPU, float32, eager attention), from the repository root:

    python3 tools/vision/make_qwen2_5_vl_references.py OUTDIR

OUTDIR (committed as tests/data/vision/qwen2_5_vl/) receives:
  a hub-style checkpoint: config.json (the hub's flat spelling: rope_scaling {type: mrope, mrope_section},
    vision_config), config.v5.json (what transformers 5 writes: text_config, rope_parameters),
    model.safetensors (the hub's tensor names: visual.*, model.*, lm_head.*), tokenizer.json (the qwen2
    fixture tokenizer of tests/data/models/qwen2 plus the family's special tokens), tokenizer_config.json
    and chat_template.json (Qwen2.5-VL's real chat template), preprocessor_config.json (the real values,
    max_pixels shrunk so images stay small), generation_config.json;
  image_a.png (200x133, landscape, resized down by max_pixels) and image_b.png (75x190, portrait);
  reference.safetensors and reference.json (what is in it: see the bottom of this file and reference.json).

The processor (AutoProcessor on OUTDIR) is the oracle for pixel values, grids and the expanded prompt; the
model for image embeddings, M-RoPE position ids, logits and greedy tokens.
"""
import json
import math
import os
import shutil
import sys
import tempfile
import time
import traceback

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BASE_TOKENIZER_CANDIDATES = [
    os.path.join(ROOT, "tests/data/models/qwen2/tokenizer.json"),
    "tests/data/models/qwen2/tokenizer.json",
]

# The family's special tokens after <|endoftext|>, <|im_start|>, <|im_end|>, in the real vocabulary's order
# (151646..151656 there; 512.. here).
EXTRA_SPECIAL = ["<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>", "<|quad_start|>",
                 "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>",
                 "<|video_pad|>"]

# Qwen/Qwen2.5-VL-*-Instruct chat_template.json, verbatim.
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}"
    "<|im_end|>\n{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in "
    "content or 'image_url' in content %}{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}"
    "Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] "
    "== 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}"
    "Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content "
    "%}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}"
    "<|im_start|>assistant\n{% endif %}")

MIN_PIXELS = 56 * 56          # the real value
MAX_PIXELS = 28 * 28 * 30     # real: 12845056; shrunk so that image_a is scaled down by it and both stay small
VOCAB_SIZE = 528              # the tokenizer has 523 ids; padded beyond it like the real 151936
N_GREEDY = 16

CASES = {
    # image first, then text (the common order)
    "a": {"images": ["image_a"],
          "messages": [{"role": "user", "content": [{"type": "image"},
                                                    {"type": "text", "text": "What is in this picture?"}]}]},
    # a system turn, text first, then the image
    "b": {"images": ["image_b"],
          "messages": [{"role": "system", "content": "You look at pictures closely."},
                       {"role": "user", "content": [{"type": "text", "text": "Describe the colours:"},
                                                    {"type": "image"}]}]},
    # two images in one turn: positions continue across both
    "ab": {"images": ["image_a", "image_b"],
           "messages": [{"role": "user", "content": [{"type": "text", "text": "Compare"}, {"type": "image"},
                                                     {"type": "text", "text": "and"}, {"type": "image"},
                                                     {"type": "text", "text": "Which is wider?"}]}]},
    # the shape attachments take (`allm run --file`, chat /image, the server APIs): images first, then the text
    "b_first": {"images": ["image_b"],
                "messages": [{"role": "system", "content": "You look at pictures closely."},
                             {"role": "user", "content": [{"type": "image"},
                                                          {"type": "text", "text": "Describe the colours:"}]}]},
    "ab_first": {"images": ["image_a", "image_b"],
                 "messages": [{"role": "user", "content": [{"type": "image"}, {"type": "image"},
                                                           {"type": "text", "text": "Which is wider?"}]}]},
}

LOG = []


def log(*parts):
    line = " ".join(str(p) for p in parts)
    print(line, flush=True)
    LOG.append(line)


def hub_config(tok_ids):
    """config.json as the hub ships Qwen2.5-VL (flat text keys, rope_scaling with mrope_section), shrunk."""
    return {
        "architectures": ["Qwen2_5_VLForConditionalGeneration"],
        "attention_dropout": 0.0,
        "bos_token_id": tok_ids["<|endoftext|>"],
        "eos_token_id": tok_ids["<|im_end|>"],
        "pad_token_id": tok_ids["<|endoftext|>"],
        "vision_start_token_id": tok_ids["<|vision_start|>"],
        "vision_end_token_id": tok_ids["<|vision_end|>"],
        "vision_token_id": tok_ids["<|vision_pad|>"],
        "image_token_id": tok_ids["<|image_pad|>"],
        "video_token_id": tok_ids["<|video_pad|>"],
        "hidden_act": "silu",
        "hidden_size": 64,
        "initializer_range": 0.02,
        "intermediate_size": 128,
        "max_position_embeddings": 1024,
        "max_window_layers": 28,
        "model_type": "qwen2_5_vl",
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "num_key_value_heads": 2,
        "rms_norm_eps": 1e-06,
        # Small base so that even the lowest-frequency (width) section of M-RoPE turns by a measurable angle
        # at the small positions of a test image: a wrong w position must move the logits.
        "rope_theta": 100.0,
        "sliding_window": 32768,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "transformers_version": "4.49.0",
        "use_cache": True,
        "use_sliding_window": False,
        "vision_config": {
            "depth": 4,
            "hidden_act": "silu",
            "hidden_size": 64,
            "intermediate_size": 96,
            "num_heads": 4,
            "in_chans": 3,
            "out_hidden_size": 64,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "spatial_patch_size": 14,
            "window_size": 112,
            "fullatt_block_indexes": [1, 3],
            "tokens_per_second": 2,
            "temporal_patch_size": 2,
        },
        "rope_scaling": {"type": "mrope", "mrope_section": [2, 3, 3]},
        "vocab_size": VOCAB_SIZE,
    }


PREPROCESSOR_CONFIG = {
    "min_pixels": MIN_PIXELS,
    "max_pixels": MAX_PIXELS,
    "patch_size": 14,
    "temporal_patch_size": 2,
    "merge_size": 2,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "image_processor_type": "Qwen2VLImageProcessor",
    "processor_class": "Qwen2_5_VLProcessor",
}


def make_images(out):
    """Two deterministic RGB PNGs with smooth and sharp content (sharp edges show resampling differences)."""
    w, h = 200, 133
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 128 + 100 * np.sin(x / 7.0) * np.cos(y / 11.0)
    g = x * 255.0 / (w - 1)
    b = np.where(((x // 8) + (y // 8)) % 2 == 0, 40.0, 215.0)
    b = np.where(np.abs(x - 1.5 * y) < 2.0, 255.0, b)
    a = np.clip(np.rint(np.stack([r, g, b], -1)), 0, 255).astype(np.uint8)
    w, h = 75, 190
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    rad = np.hypot(x - 30.0, y - 120.0)
    r = 127.5 + 127.5 * np.sin(rad / 3.0)
    g = y * 255.0 / (h - 1)
    b = (x * y) % 256
    b = np.where((x > 50) & (y < 40), 0.0, b)
    bb = np.clip(np.rint(np.stack([r, g, b], -1)), 0, 255).astype(np.uint8)
    images = {}
    for name, arr in (("image_a", a), ("image_b", bb)):
        path = os.path.join(out, name + ".png")
        Image.fromarray(arr, "RGB").save(path)
        images[name] = Image.open(path).convert("RGB")
        log(f"{name}: {images[name].size[0]}x{images[name].size[1]} (w x h)")
    return images


def make_tokenizer(out):
    from tokenizers import AddedToken, Tokenizer
    base = next(p for p in BASE_TOKENIZER_CANDIDATES if os.path.exists(p))
    tok = Tokenizer.from_file(base)
    before = tok.get_vocab_size(with_added_tokens=True)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in EXTRA_SPECIAL])
    tok.save(os.path.join(out, "tokenizer.json"))
    ids = {t: tok.token_to_id(t) for t in ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + EXTRA_SPECIAL}
    log(f"tokenizer: base {base} had {before} ids, now {tok.get_vocab_size(with_added_tokens=True)}; ids {ids}")
    assert max(ids.values()) < VOCAB_SIZE
    tok_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "unk_token": None,
        "add_bos_token": False,
        "model_max_length": 1024,
        "chat_template": CHAT_TEMPLATE,
    }
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump(tok_config, f, indent=1)
    with open(os.path.join(out, "special_tokens_map.json"), "w") as f:
        json.dump({"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}, f)
    with open(os.path.join(out, "chat_template.json"), "w") as f:
        json.dump({"chat_template": CHAT_TEMPLATE}, f, indent=1)
    return ids


def randomize(model, seed):
    """Every weight random, norms and biases included (as the fixtures of tests/data/models)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 1 and name.endswith("weight"):      # RMSNorm weights
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=gen))
            elif p.ndim == 1:                                 # biases
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif "embed_tokens" in name:
                p.copy_(0.5 * torch.randn(p.shape, generator=gen))
            else:                                             # linear and conv weights
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(fan_in))


def to_hub_names(state_dict):
    """transformers 5 names (model.visual.*, model.language_model.*) to the hub's (visual.*, model.*)."""
    out = {}
    for k, v in state_dict.items():
        if k.startswith("model.visual."):
            k = "visual." + k[len("model.visual."):]
        elif k.startswith("model.language_model."):
            k = "model." + k[len("model.language_model."):]
        out[k] = v.detach().to(torch.float32).contiguous().clone()
    return out


def image_features(model, pixel_values, grid_thw):
    out = model.model.get_image_features(pixel_values=pixel_values, image_grid_thw=grid_thw)
    if hasattr(out, "pooler_output") and out.pooler_output is not None:
        out = out.pooler_output
    elif hasattr(out, "last_hidden_state"):
        out = out.last_hidden_state
    if isinstance(out, (list, tuple)):
        out = torch.cat(list(out), 0)
    return out


class Capture:
    """Catches what the language model is fed (inputs_embeds, position_ids) during one forward."""

    def __init__(self, model):
        self.lm = model.model.language_model
        self.rotary = getattr(self.lm, "rotary_emb", None)
        self.seen = {}

    def __enter__(self):
        def lm_hook(_m, args, kwargs):
            if "inputs_embeds" in kwargs and kwargs["inputs_embeds"] is not None:
                self.seen["inputs_embeds"] = kwargs["inputs_embeds"].detach().clone()
            if kwargs.get("position_ids") is not None:
                self.seen["lm_position_ids"] = kwargs["position_ids"].detach().clone()

        def rot_hook(_m, args, kwargs):
            pos = kwargs.get("position_ids", args[1] if len(args) > 1 else None)
            if pos is not None:
                self.seen["rotary_position_ids"] = pos.detach().clone()

        self.handles = [self.lm.register_forward_pre_hook(lm_hook, with_kwargs=True)]
        if self.rotary is not None:
            self.handles.append(self.rotary.register_forward_pre_hook(rot_hook, with_kwargs=True))
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()

    def position_ids(self):
        for key in ("rotary_position_ids", "lm_position_ids"):
            pos = self.seen.get(key)
            if pos is None:
                continue
            if pos.ndim == 3 and pos.shape[0] == 4:   # newer transformers put text positions first
                pos = pos[1:]
            if pos.ndim == 3 and pos.shape[0] == 3:
                return pos[:, 0, :], key
        return None, None


def extend_inputs(inputs, next_id):
    """The processor's inputs with one more (text) token appended."""
    out = dict(inputs)
    for key, val in inputs.items():
        if not torch.is_tensor(val) or val.ndim != 2 or key.startswith("pixel") or key.endswith("grid_thw"):
            continue
        if key == "input_ids":
            add = torch.tensor([[next_id]], dtype=val.dtype)
        elif key == "attention_mask":
            add = torch.ones((1, 1), dtype=val.dtype)
        else:                                          # e.g. mm_token_type_ids: a text token is type 0
            add = torch.zeros((1, 1), dtype=val.dtype)
        out[key] = torch.cat([val, add], 1)
    return out


def greedy(model, inputs):
    """N_GREEDY greedy steps, each a full forward over the prompt plus the tokens so far (no cache; EOS not
    honoured). Returns ids, margins (top-1 minus top-2 logit)."""
    ids, margins = [], []
    cur = dict(inputs)
    with torch.no_grad():
        for _ in range(N_GREEDY):
            logits = model(**cur).logits[0, -1].float()
            top = torch.topk(logits, 2)
            ids.append(int(top.indices[0]))
            margins.append(float(top.values[0] - top.values[1]))
            cur = extend_inputs(cur, ids[-1])
    return ids, margins


def greedy_generate(model, inputs):
    """The same through generate() (KV cache, rope deltas): a cross-check of greedy()."""
    from transformers import GenerationConfig
    cfg = GenerationConfig(do_sample=False, max_new_tokens=N_GREEDY, min_new_tokens=0, eos_token_id=None,
                           pad_token_id=0)
    model.generation_config.eos_token_id = None
    with torch.no_grad():
        out = model.generate(**inputs, generation_config=cfg)
    return out[0, inputs["input_ids"].shape[1]:].tolist()


def first_small_margin(margins):
    return next((i for i, m in enumerate(margins) if m < 0.05), len(margins))


def load_processor(out):
    from transformers import AutoProcessor
    try:
        proc = AutoProcessor.from_pretrained(out)
    except Exception:  # noqa: BLE001 - assemble it by hand, as a real checkpoint's files would
        log(f"AutoProcessor failed, assembling Qwen2_5_VLProcessor: {traceback.format_exc()}")
        from transformers import AutoImageProcessor, AutoTokenizer, Qwen2_5_VLProcessor
        parts = {"image_processor": AutoImageProcessor.from_pretrained(out),
                 "tokenizer": AutoTokenizer.from_pretrained(out)}
        try:
            from transformers import AutoVideoProcessor
            parts["video_processor"] = AutoVideoProcessor.from_pretrained(out)
        except Exception:  # noqa: BLE001
            log(f"no video processor: {traceback.format_exc()}")
        proc = Qwen2_5_VLProcessor(chat_template=CHAT_TEMPLATE, **parts)
    if not getattr(proc, "chat_template", None):
        proc.chat_template = CHAT_TEMPLATE
    ip = proc.image_processor
    log(f"processor: {type(proc).__name__}, image processor {type(ip).__name__}, tokenizer {type(proc.tokenizer).__name__}")
    log(f"image processor settings: size={getattr(ip, 'size', None)} min_pixels={getattr(ip, 'min_pixels', None)} "
        f"max_pixels={getattr(ip, 'max_pixels', None)} resample={getattr(ip, 'resample', None)} "
        f"rescale_factor={getattr(ip, 'rescale_factor', None)}")
    return proc


def alternative_image_processors(out):
    """The other backend(s) of the image processor (PIL vs torchvision), for comparison only."""
    found = {}
    try:
        from transformers.models.qwen2_vl import image_processing_pil_qwen2_vl as pil_mod
        found["pil"] = pil_mod.Qwen2VLImageProcessorPil.from_pretrained(out)
    except Exception as e:  # noqa: BLE001 - absent in some versions
        log(f"no Qwen2VLImageProcessorPil: {type(e).__name__}: {e}")
    from transformers import AutoImageProcessor
    for use_fast in (False, True):
        try:
            found[f"use_fast_{use_fast}"] = AutoImageProcessor.from_pretrained(out, use_fast=use_fast)
        except Exception as e:  # noqa: BLE001
            log(f"AutoImageProcessor(use_fast={use_fast}) failed: {type(e).__name__}: {e}")
    return found


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    t0 = time.time()
    torch.set_num_threads(min(8, os.cpu_count() or 1))
    torch.use_deterministic_algorithms(True, warn_only=True)
    import transformers
    from transformers import AutoConfig, Qwen2_5_VLForConditionalGeneration
    from safetensors.torch import save_file
    log(f"transformers {transformers.__version__}, torch {torch.__version__}")

    images = make_images(out)
    tok_ids = make_tokenizer(out)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(hub_config(tok_ids), f, indent=1)
    with open(os.path.join(out, "preprocessor_config.json"), "w") as f:
        json.dump(PREPROCESSOR_CONFIG, f, indent=1)
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": tok_ids["<|endoftext|>"], "pad_token_id": tok_ids["<|endoftext|>"],
                   "do_sample": True, "eos_token_id": [tok_ids["<|im_end|>"], tok_ids["<|endoftext|>"]],
                   "repetition_penalty": 1.05, "temperature": 0.1, "top_p": 0.001, "top_k": 1}, f, indent=1)

    proc = load_processor(out)
    ref = {}
    meta = {"transformers": transformers.__version__, "torch": torch.__version__,
            "processor": type(proc).__name__, "image_processor": type(proc.image_processor).__name__,
            "images": {}, "cases": []}

    # --- the image processor alone, per image ---
    alts = alternative_image_processors(out)
    for name, img in images.items():
        feat = proc.image_processor(images=[img], return_tensors="pt")
        pv = feat["pixel_values"].float()
        thw = feat["image_grid_thw"].to(torch.int32)
        ref[f"{name}.pixel_values"] = pv
        ref[f"{name}.image_grid_thw"] = thw
        h, w = int(thw[0, 1]) * 14, int(thw[0, 2]) * 14
        info = {"size_wh": list(img.size), "resized_hw": [h, w], "grid_thw": thw[0].tolist(), "alternatives": {}}
        for alt_name, alt in alts.items():
            try:
                apv = alt(images=[img], return_tensors="pt")["pixel_values"].float()
                diff = float((apv - pv).abs().max()) if apv.shape == pv.shape else None
                info["alternatives"][alt_name] = {"class": type(alt).__name__, "max_abs_diff": diff}
                log(f"{name}: {alt_name} ({type(alt).__name__}) max |diff| vs default: {diff}")
            except Exception as e:  # noqa: BLE001
                log(f"{name}: {alt_name} failed: {type(e).__name__}: {e}")
        meta["images"][name] = info
        log(f"{name}: pixel_values {tuple(pv.shape)} grid {thw.tolist()}")

    # --- the model: pick the seed whose greedy continuations of case a and b stay decisive longest ---
    config = AutoConfig.from_pretrained(out)
    try:
        config._attn_implementation = "eager"
        config.vision_config._attn_implementation = "eager"
    except Exception:  # noqa: BLE001
        pass

    def case_inputs(case):
        messages = CASES[case]["messages"]
        try:
            text = proc.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except Exception:  # noqa: BLE001
            log(f"processor.apply_chat_template failed, using the tokenizer's: {traceback.format_exc()}")
            text = proc.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                                      chat_template=CHAT_TEMPLATE)
        inputs = proc(text=[text], images=[images[n] for n in CASES[case]["images"]], return_tensors="pt")
        return text, {k: v for k, v in inputs.items()}

    prepared = {c: case_inputs(c) for c in CASES}
    best = None
    for seed in range(6):
        torch.manual_seed(seed)
        model = Qwen2_5_VLForConditionalGeneration(config).eval()
        randomize(model, 1000 + seed)
        score = min(first_small_margin(greedy(model, prepared[c][1])[1]) for c in ("a", "b"))
        log(f"seed {seed}: greedy decisive for {score} steps")
        if best is None or score > best[0]:
            best = (score, seed, model)
        if score == N_GREEDY:
            break
    _, seed, model = best
    meta["seed"] = 1000 + seed
    log(f"attention: {getattr(model.config, '_attn_implementation', '?')}")

    # --- checkpoint: hub names and config, and the transformers-5 spelling of the config ---
    sd = to_hub_names(model.state_dict())
    save_file(sd, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        shutil.copy(os.path.join(tmp, "config.json"), os.path.join(out, "config.v5.json"))
        from safetensors import safe_open
        with safe_open(os.path.join(tmp, "model.safetensors"), "pt") as f:
            v5_names = sorted(f.keys())
    log(f"transformers 5 save_pretrained names (first 5): {v5_names[:5]}; hub names (first 5): {sorted(sd)[:5]}")

    # --- the references, per case ---
    with torch.no_grad():
        for case, (text, inputs) in prepared.items():
            with Capture(model) as cap:
                logits = model(**inputs).logits[0].float()
            pos, pos_from = cap.position_ids()
            ids = inputs["input_ids"][0]
            ref[f"{case}.input_ids"] = ids.to(torch.int32)
            ref[f"{case}.logits"] = logits
            ref[f"{case}.image_grid_thw"] = inputs["image_grid_thw"].to(torch.int32)
            if pos is not None:
                ref[f"{case}.position_ids"] = pos.to(torch.int32)
            mask = ids == tok_ids["<|image_pad|>"]
            if "inputs_embeds" in cap.seen:
                ref[f"{case}.image_embeds"] = cap.seen["inputs_embeds"][0][mask].float()
            g_ids, g_margins = greedy(model, inputs)
            ref[f"{case}.greedy_ids"] = torch.tensor(g_ids, dtype=torch.int32)
            ref[f"{case}.greedy_margins"] = torch.tensor(g_margins, dtype=torch.float32)
            try:
                gen_ids = greedy_generate(model, inputs)
                agree = gen_ids == g_ids
            except Exception as e:  # noqa: BLE001
                gen_ids, agree = None, f"generate failed: {type(e).__name__}: {e}"
            # rope delta: the position of the next token minus its index (what decoding adds)
            rope_delta = int(pos.max()) + 1 - len(ids) if pos is not None else None
            # The reply as text: all 16 tokens, and the part a correct implementation must reproduce
            # (up to the first margin under 0.05, and before the first end-of-sequence token, where an
            # API's reply stops).
            decisive = first_small_margin(g_margins)
            eos = {tok_ids["<|im_end|>"], tok_ids["<|endoftext|>"]}
            upto = next((i for i, t in enumerate(g_ids[:decisive]) if t in eos), decisive)
            meta["cases"].append({
                "id": case, "messages": CASES[case]["messages"],
                "images": [n + ".png" for n in CASES[case]["images"]],
                "greedy_text": proc.tokenizer.decode(g_ids),
                "decisive_text": proc.tokenizer.decode(g_ids[:upto]), "decisive_tokens": upto,
                "prompt": text, "n_tokens": len(ids), "n_image_tokens": int(mask.sum()),
                "position_ids_from": pos_from, "rope_delta": rope_delta,
                "greedy_ids": g_ids, "greedy_margins": g_margins,
                "first_margin_under_0.05": first_small_margin(g_margins),
                "generate_ids": gen_ids, "generate_agrees": agree,
                "processor_keys": sorted(inputs.keys()),
            })
            log(f"case {case}: {len(ids)} tokens ({int(mask.sum())} image), positions from {pos_from}, "
                f"rope_delta {rope_delta}, greedy {g_ids}, first small margin {first_small_margin(g_margins)}, "
                f"generate agrees: {agree}")
        # the vision tower alone, per image: output and, for debugging, each stage (window order inside)
        visual = model.model.visual
        for name in images:
            pv, thw = ref[f"{name}.pixel_values"], ref[f"{name}.image_grid_thw"].to(torch.long)
            stages = {}
            hooks = [visual.patch_embed.register_forward_hook(
                lambda _m, _i, o: stages.__setitem__("patch_embed", o.detach().clone()))]
            for k, blk in enumerate(visual.blocks):
                hooks.append(blk.register_forward_hook(
                    lambda _m, _i, o, k=k: stages.__setitem__(f"block{k}", (o[0] if isinstance(o, tuple) else o)
                                                             .detach().clone())))
            try:
                emb = image_features(model, pv, thw).float()
                ref[f"{name}.image_embeds"] = emb
                for key, val in stages.items():
                    ref[f"{name}.vit_{key}"] = val.float().reshape(-1, val.shape[-1])
                log(f"{name}: image embeds {tuple(emb.shape)}; stages {sorted(stages)}")
            except Exception as e:  # noqa: BLE001
                log(f"{name}: vision tower alone failed: {type(e).__name__}: {e}")
            for h in hooks:
                h.remove()
            try:
                wi, cu = visual.get_window_index(thw)
                ref[f"{name}.window_index"] = torch.as_tensor(wi).to(torch.int32)
                ref[f"{name}.cu_window_seqlens"] = torch.as_tensor(cu).to(torch.int32)
            except Exception as e:  # noqa: BLE001
                log(f"{name}: get_window_index failed: {type(e).__name__}: {e}")

    # --- does transformers read the hub-style checkpoint back to the same logits? ---
    try:
        again = Qwen2_5_VLForConditionalGeneration.from_pretrained(out, dtype=torch.float32).eval()
        try:
            again.config._attn_implementation = "eager"
        except Exception:  # noqa: BLE001
            pass
        with torch.no_grad():
            l2 = again(**prepared["a"][1]).logits[0].float()
        meta["hub_checkpoint_reload_max_abs_diff"] = float((l2 - ref["a.logits"]).abs().max())
        log(f"reload of the hub-style checkpoint: max |logit diff| {meta['hub_checkpoint_reload_max_abs_diff']}")
    except Exception as e:  # noqa: BLE001
        meta["hub_checkpoint_reload_max_abs_diff"] = f"failed: {type(e).__name__}: {e}"
        log(f"reload failed: {traceback.format_exc()}")

    save_file({k: v.contiguous() for k, v in ref.items()}, os.path.join(out, "reference.safetensors"))
    meta["tensors"] = {k: [str(v.dtype).replace("torch.", ""), list(v.shape)] for k, v in sorted(ref.items())}
    meta["notes"] = (
        "CASE.* per prompt (a, b, ab, b_first, ab_first): input_ids (expanded by the processor), image_grid_thw, position_ids "
        "[3, L] (M-RoPE t/h/w as fed to the rotary embedding), logits [L, vocab], image_embeds (the rows of "
        "inputs_embeds at <|image_pad|>), greedy_ids/greedy_margins (16 steps, EOS not honoured; compare up to "
        "the first margin under 0.05). IMAGE.* per image: pixel_values and image_grid_thw from the default "
        "image processor (its other backends' differences are in images.*.alternatives), image_embeds (vision tower + merger output), "
        "vit_patch_embed / vit_blockK (each stage's output, rows in window order), window_index and "
        "cu_window_seqlens (transformers' get_window_index).")
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(meta, f, indent=1, ensure_ascii=False)
    log(f"done in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    try:
        main()
    except BaseException:
        log(traceback.format_exc())
        raise
    finally:
        if len(sys.argv) == 2 and os.path.isdir(sys.argv[1]):
            with open(os.path.join(sys.argv[1], "log.txt"), "w") as f:
                f.write("\n".join(LOG) + "\n")
