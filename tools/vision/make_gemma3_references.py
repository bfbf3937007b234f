#!/usr/bin/env python3
"""Reference data for allm's Gemma 3 vision support (issue 18).

Run on a machine with transformers (5.x), PyTorch, Pillow (the GPU machine; it runs on its CPU):

    python3 tools/vision/make_gemma3_references.py OUTDIR

Builds, from facts only (no download):
  OUTDIR/ckpt/            a tiny random-weight Gemma3ForConditionalGeneration checkpoint in the hub layout:
                          config.json + model.safetensors (save_pretrained), tokenizer.json +
                          tokenizer_config.json (a small byte-level BPE, the text fixture's, plus the Gemma 3
                          special tokens <bos> <start_of_turn> <end_of_turn> <start_of_image> <end_of_image>
                          <image_soft_token>), the real Gemma 3 chat template, preprocessor_config.json as
                          the published Gemma 3 checkpoints write it except for the image size (224 instead
                          of 896: same 14-pixel patches, same 4x4 pooling, 16 soft tokens instead of 256),
                          processor_config.json, generation_config.json.
  OUTDIR/image_a.png      300x180 RGB (landscape; the resize shrinks its width: antialiased path)
  OUTDIR/image_b.png      64x120 RGB (portrait; the resize enlarges both sides)
  OUTDIR/reference.safetensors
      image_X.pixel_values        F32 [3,224,224]  from the checkpoint's processor (AutoProcessor)
      image_X.pixel_values_896_sub F32 [3,128,128] the published size (896): pixel_values[:, ::7, ::7]
      image_X.vision_hidden       F32 [256, Hv]    vision tower output (SigLIP last_hidden_state)
      image_X.image_features      F32 [16, H]      projector output (pooled, normed, projected soft tokens)
      CASE.input_ids              I32 [T]          the processor's expanded ids (images replaced by
                                                   "\\n\\n<start_of_image>" + 16 x <image_soft_token> +
                                                   "<end_of_image>\\n\\n")
      CASE.logits                 F32 [T, vocab]   logits at every position
      CASE.greedy_ids             I32 [16]         greedy continuation (EOS not honoured)
      CASE.greedy_margins         F32 [16]         top-1 minus top-2 logit at each greedy step
  OUTDIR/reference.json   the cases (messages, images, rendered prompt), versions, processor classes and
                          how the other image-processor backends compare with the default one.

Float32 compute on the CPU, eager attention. Weights are random (seeded), norms and biases included.
"""
import hashlib
import json
import os
import sys
import traceback

import numpy as np
import torch
from PIL import Image

import transformers
from safetensors.torch import save_file
from tokenizers import AddedToken, Tokenizer

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
if not os.path.isdir(os.path.join(REPO, "tests", "data")):  # run from a copy outside tools/vision
    REPO = os.getcwd()
TEXT_FIXTURE = os.path.join(REPO, "tests", "data", "models", "gemma3")
CHAT_TEMPLATE = os.path.join(REPO, "tests", "data", "jinja", "gemma3.jinja")

IMAGE_SIZE = 224  # published: 896
PATCH = 14
TOKENS_PER_IMAGE = 16  # published: 256; (224/14 / 4)^2: the same 4x4 average pooling
VOCAB = 520
SPECIALS = ["<bos>", "<start_of_turn>", "<end_of_turn>", "<start_of_image>", "<end_of_image>",
            "<image_soft_token>"]
GREEDY = 16

# preprocessor_config.json of google/gemma-3-4b-it (and the other Gemma 3 vision sizes), image size shrunk.
PREPROCESSOR = {
    "do_convert_rgb": None,
    "do_normalize": True,
    "do_pan_and_scan": None,
    "do_rescale": True,
    "do_resize": True,
    "image_mean": [0.5, 0.5, 0.5],
    "image_processor_type": "Gemma3ImageProcessor",
    "image_seq_length": TOKENS_PER_IMAGE,
    "image_std": [0.5, 0.5, 0.5],
    "pan_and_scan_max_num_crops": None,
    "pan_and_scan_min_crop_size": None,
    "pan_and_scan_min_ratio_to_activate": None,
    "processor_class": "Gemma3Processor",
    "resample": 2,
    "rescale_factor": 0.00392156862745098,
    "size": {"height": IMAGE_SIZE, "width": IMAGE_SIZE},
}

CASES = [
    ("a", [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Describe this image."}]}],
     ["a"]),
    ("b", [{"role": "user", "content": [{"type": "text", "text": "What is in this picture?"}, {"type": "image"}]}],
     ["b"]),
    ("ab", [{"role": "system", "content": "You compare pictures."},
            {"role": "user", "content": [{"type": "image"}, {"type": "image"},
                                         {"type": "text", "text": "Compare the two images."}]}],
     ["a", "b"]),
]


def log(*args):
    print(*args, flush=True)


def make_images(out):
    """Two deterministic RGB images: gradients, a few shapes and noise (so resizing filters matter)."""
    rng = np.random.default_rng(18)
    made = {}
    for name, (w, h) in {"a": (300, 180), "b": (64, 120)}.items():
        y, x = np.mgrid[0:h, 0:w].astype(np.float64)
        r = 255 * x / (w - 1)
        g = 255 * y / (h - 1)
        b = 127.5 + 127.5 * np.sin(x / 7.0) * np.cos(y / 5.0)
        img = np.stack([r, g, b], axis=-1)
        img[(x // 16 + y // 16) % 2 == 0] *= 0.6  # checkerboard: sharp edges
        cx, cy = w * 0.6, h * 0.4
        img[(x - cx) ** 2 + (y - cy) ** 2 < (min(w, h) / 4) ** 2] = [250, 30, 60]
        img += rng.normal(0, 12, size=img.shape)
        arr = np.clip(np.rint(img), 0, 255).astype(np.uint8)
        path = os.path.join(out, f"image_{name}.png")
        Image.fromarray(arr, "RGB").save(path)
        made[name] = path
    return made


def make_tokenizer(ckpt, template):
    from transformers import PreTrainedTokenizerFast
    tok = Tokenizer.from_file(os.path.join(TEXT_FIXTURE, "tokenizer.json"))
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIALS])
    extra = {"boi_token": "<start_of_image>", "eoi_token": "<end_of_image>", "image_token": "<image_soft_token>"}
    kwargs = dict(tokenizer_object=tok, bos_token="<bos>", eos_token="<end_of_turn>", pad_token="<|endoftext|>",
                  chat_template=template, model_max_length=256)
    try:
        fast = PreTrainedTokenizerFast(extra_special_tokens=extra, **kwargs)
    except Exception:
        traceback.print_exc()
        fast = PreTrainedTokenizerFast(**kwargs)
    fast.save_pretrained(ckpt)
    # The published Gemma 3 tokenizer_config.json names the image tokens at top level and in
    # extra_special_tokens; make sure both are there whatever this transformers version wrote.
    path = os.path.join(ckpt, "tokenizer_config.json")
    cfg = json.load(open(path))
    cfg.update(extra)
    cfg.setdefault("extra_special_tokens", extra)
    cfg["add_bos_token"] = False
    cfg["chat_template"] = template
    json.dump(cfg, open(path, "w"), indent=2, ensure_ascii=False)
    return tok


def load_processor(ckpt, template):
    from transformers import AutoProcessor
    try:
        proc = AutoProcessor.from_pretrained(ckpt)
        log("processor:", type(proc).__name__, "image processor:", type(proc.image_processor).__name__,
            "tokenizer:", type(proc.tokenizer).__name__)
        return proc
    except Exception:
        traceback.print_exc()
    # Fallback: assemble it by hand.
    from transformers import AutoImageProcessor, AutoTokenizer, Gemma3Processor
    tk = AutoTokenizer.from_pretrained(ckpt)
    for k, v in {"boi_token": "<start_of_image>", "eoi_token": "<end_of_image>",
                 "image_token": "<image_soft_token>"}.items():
        try:
            if getattr(tk, k, None) != v:
                setattr(tk, k, v)
        except Exception:
            traceback.print_exc()
    try:
        if getattr(tk, "image_token_id", None) is None:
            tk.image_token_id = tk.convert_tokens_to_ids("<image_soft_token>")
    except Exception:
        traceback.print_exc()
    ip = AutoImageProcessor.from_pretrained(ckpt)
    proc = Gemma3Processor(image_processor=ip, tokenizer=tk, chat_template=template,
                           image_seq_length=TOKENS_PER_IMAGE)
    log("processor (assembled):", type(proc).__name__, type(ip).__name__, type(tk).__name__)
    return proc


def randomize(model):
    """Every parameter random: Gemma RMSNorm weights are offsets from 1, SigLIP LayerNorm weights scales."""
    g = torch.Generator().manual_seed(1803)
    with torch.no_grad():
        for name, p in model.named_parameters():
            shape = tuple(p.shape)
            if name.endswith("mm_input_projection_weight"):
                v = torch.randn(shape, generator=g) / shape[0] ** 0.5
            elif p.dim() == 1:
                if "vision_tower" in name and ("layer_norm" in name or "layernorm" in name) and name.endswith("weight"):
                    v = 1.0 + 0.1 * torch.randn(shape, generator=g)
                elif name.endswith("bias"):
                    v = 0.05 * torch.randn(shape, generator=g)
                else:  # Gemma3RMSNorm: x * (1 + w)
                    v = 0.1 * torch.randn(shape, generator=g)
            elif "embed_tokens" in name or "position_embedding" in name:
                v = 0.3 * torch.randn(shape, generator=g)
            else:
                fan_in = int(np.prod(shape[1:]))
                v = torch.randn(shape, generator=g) / fan_in ** 0.5
            p.copy_(v.to(p.dtype))


def build_model(ckpt, tok):
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration
    text = json.load(open(os.path.join(TEXT_FIXTURE, "config.v5.json")))
    for k in ("architectures", "transformers_version", "model_type", "dtype", "torch_dtype"):
        text.pop(k, None)
    text.update(vocab_size=VOCAB, sliding_window=24, max_position_embeddings=512,
                bos_token_id=tok.token_to_id("<bos>"), eos_token_id=tok.token_to_id("<end_of_turn>"), pad_token_id=0)
    vision = dict(hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                  num_channels=3, image_size=IMAGE_SIZE, patch_size=PATCH, hidden_act="gelu_pytorch_tanh",
                  layer_norm_eps=1e-6, attention_dropout=0.0, vision_use_head=False)
    cfg = Gemma3Config(text_config=text, vision_config=vision, mm_tokens_per_image=TOKENS_PER_IMAGE,
                       boi_token_index=tok.token_to_id("<start_of_image>"),
                       eoi_token_index=tok.token_to_id("<end_of_image>"),
                       image_token_index=tok.token_to_id("<image_soft_token>"),
                       bos_token_id=tok.token_to_id("<bos>"), eos_token_id=tok.token_to_id("<end_of_turn>"),
                       pad_token_id=0, tie_word_embeddings=True)
    try:
        cfg._attn_implementation = "eager"
    except Exception:
        traceback.print_exc()
    torch.manual_seed(0)
    model = Gemma3ForConditionalGeneration(cfg).float().eval()
    randomize(model)
    model.save_pretrained(ckpt)
    gen = {"bos_token_id": cfg.bos_token_id, "eos_token_id": [tok.token_to_id("<end_of_turn>"), 0],
           "pad_token_id": 0, "do_sample": True, "top_k": 64, "top_p": 0.95}
    json.dump(gen, open(os.path.join(ckpt, "generation_config.json"), "w"), indent=1)
    return model


def run_case(model, proc, images, case_id, messages, names):
    prompt = proc.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    pil = [Image.open(images[n]) for n in names]
    inputs = proc(text=[prompt], images=[pil], return_tensors="pt")
    log(case_id, "processor outputs:", {k: tuple(v.shape) for k, v in inputs.items() if hasattr(v, "shape")})
    ids = inputs["input_ids"]
    fwd = {k: v for k, v in inputs.items() if k in ("input_ids", "attention_mask", "token_type_ids", "pixel_values")}
    with torch.no_grad():
        logits = model(**fwd).logits[0].float()
        seq = ids.clone()
        tti = fwd.get("token_type_ids")
        greedy, margins = [], []
        for _ in range(GREEDY):
            step = dict(fwd, input_ids=seq, attention_mask=torch.ones_like(seq))
            if tti is not None:
                step["token_type_ids"] = torch.cat([tti, torch.zeros(1, seq.shape[1] - tti.shape[1],
                                                                     dtype=tti.dtype)], dim=1)
            last = model(**step).logits[0, -1].float()
            top = torch.topk(last, 2)
            greedy.append(int(top.indices[0]))
            margins.append(float(top.values[0] - top.values[1]))
            seq = torch.cat([seq, top.indices[:1].view(1, 1)], dim=1)
    tensors = {f"{case_id}.input_ids": ids[0].to(torch.int32), f"{case_id}.logits": logits,
               f"{case_id}.greedy_ids": torch.tensor(greedy, dtype=torch.int32),
               f"{case_id}.greedy_margins": torch.tensor(margins, dtype=torch.float32)}
    info = {"id": case_id, "messages": messages, "images": [f"image_{n}.png" for n in names],
            "rendered": prompt, "tokens": proc.tokenizer.convert_ids_to_tokens(ids[0].tolist()),
            "greedy_text": proc.tokenizer.decode(greedy), "min_margin": min(margins)}
    if "token_type_ids" in inputs:
        info["token_type_ids"] = inputs["token_type_ids"][0].tolist()
    log(case_id, "T =", ids.shape[1], "greedy", greedy, "margins", [round(m, 3) for m in margins])
    return tensors, info, inputs.get("pixel_values")


def other_backends(ckpt, images, default_pv, report):
    """Pixel values from every Gemma 3 image-processor class this transformers has, against the default."""
    for cls_name in ("Gemma3ImageProcessor", "Gemma3ImageProcessorFast", "Gemma3ImageProcessorPil"):
        cls = getattr(transformers, cls_name, None)
        if cls is None:
            continue
        try:
            ip = cls.from_pretrained(ckpt)
            for n, path in images.items():
                pv = ip(images=[Image.open(path)], return_tensors="pt")["pixel_values"][0]
                d = float((pv.float() - default_pv[n]).abs().max())
                report.setdefault("backends", {}).setdefault(cls_name, {})[n] = {"class": type(ip).__name__,
                                                                                 "max_abs_diff_vs_default": d}
                log("backend", cls_name, type(ip).__name__, n, "max diff vs default", d)
        except Exception as e:
            traceback.print_exc()
            report.setdefault("backends", {})[cls_name] = {"error": repr(e)}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    ckpt = os.path.join(out, "ckpt")
    os.makedirs(ckpt, exist_ok=True)
    torch.set_num_threads(8)
    log("transformers", transformers.__version__, "torch", torch.__version__, "repo", REPO)
    template = open(CHAT_TEMPLATE).read()
    images = make_images(out)
    tok = make_tokenizer(ckpt, template)
    json.dump(PREPROCESSOR, open(os.path.join(ckpt, "preprocessor_config.json"), "w"), indent=2)
    json.dump({"image_seq_length": TOKENS_PER_IMAGE, "processor_class": "Gemma3Processor"},
              open(os.path.join(ckpt, "processor_config.json"), "w"), indent=2)
    json.dump({"chat_template": template}, open(os.path.join(ckpt, "chat_template.json"), "w"), indent=2)
    built = build_model(ckpt, tok)

    from transformers import Gemma3ForConditionalGeneration
    model = Gemma3ForConditionalGeneration.from_pretrained(ckpt, attn_implementation="eager").float().eval()
    sd_a, sd_b = built.state_dict(), model.state_dict()
    worst = max(float((sd_a[k] - sd_b[k]).abs().max()) for k in sd_a)
    log("reloaded checkpoint, max weight difference", worst)
    assert worst == 0.0, "the saved checkpoint does not reload to the same weights"
    from safetensors import safe_open
    with safe_open(os.path.join(ckpt, "model.safetensors"), "pt") as f:
        for k in f.keys():
            log("  tensor", k, tuple(f.get_slice(k).get_shape()))

    proc = load_processor(ckpt, template)
    report = {"transformers": transformers.__version__, "torch": torch.__version__,
              "processor": type(proc).__name__, "image_processor": type(proc.image_processor).__name__,
              "tokenizer": type(proc.tokenizer).__name__, "image_size": IMAGE_SIZE,
              "tokens_per_image": TOKENS_PER_IMAGE, "cases": []}
    tensors = {}

    # Vision-side intermediates through hooks (robust to how get_image_features returns them).
    captured = {}
    def hook(name):
        def f(_m, _i, o):
            captured[name] = o.last_hidden_state if hasattr(o, "last_hidden_state") else (o[0] if isinstance(o, tuple) else o)
        return f
    try:
        inner = model.model
        inner.vision_tower.register_forward_hook(hook("vision_hidden"))
        inner.multi_modal_projector.register_forward_hook(hook("image_features"))
    except Exception:
        traceback.print_exc()

    default_pv = {}
    for case_id, messages, names in CASES:
        captured.clear()
        t, info, pv = run_case(model, proc, images, case_id, messages, names)
        tensors.update(t)
        report["cases"].append(info)
        if len(names) == 1:
            n = names[0]
            default_pv[n] = pv[0].float()
            tensors[f"image_{n}.pixel_values"] = pv[0].float().contiguous()
            for key in ("vision_hidden", "image_features"):
                if key in captured:
                    tensors[f"image_{n}.{key}"] = captured[key][0].float().contiguous()
        else:
            for i, n in enumerate(names):  # the same image in a batch gives the same pixels
                if n in default_pv:
                    d = float((pv[i].float() - default_pv[n]).abs().max())
                    report.setdefault("batch_vs_single_pixel_diff", {})[n] = d

    # The published size: strided sample of the 896x896 pixel values.
    for n, path in images.items():
        try:
            pv = proc.image_processor(images=[Image.open(path)], size={"height": 896, "width": 896},
                                      return_tensors="pt")["pixel_values"][0].float()
            tensors[f"image_{n}.pixel_values_896_sub"] = pv[:, ::7, ::7].contiguous()
            report.setdefault("pixel_values_896", {})[n] = {"shape": list(pv.shape), "sum": float(pv.double().sum()),
                                                            "abs_sum": float(pv.double().abs().sum())}
        except Exception:
            traceback.print_exc()
    other_backends(ckpt, images, default_pv, report)

    for n, path in images.items():
        report.setdefault("image_sha256", {})[f"image_{n}.png"] = hashlib.sha256(open(path, "rb").read()).hexdigest()
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(out, "reference.safetensors"))
    json.dump(report, open(os.path.join(out, "reference.json"), "w"), indent=1, ensure_ascii=False)
    log("done:", sorted(tensors))


if __name__ == "__main__":
    main()
