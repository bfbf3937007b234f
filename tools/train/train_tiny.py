#!/usr/bin/env python3
"""Trains allm-tiny, the small English model that allm ships as its built-in default.

Input: the corpus written by build_corpus.py (public-domain English from Debian packages).
Output: a hub-style checkpoint (config.json, model.safetensors in BF16, generation_config.json,
tokenizer.json, tokenizer_config.json with a ChatML template, special_tokens_map.json) and
results.json (held-out perplexity, unigram baseline, sample generations, recipe, timings).

Steps:
  1. Deterministic split: each source's paragraphs are grouped in reading order into units of at
     least --unit-chars characters; unit i goes to the validation part when
     i % --heldout-every == --validation-offset and to the test part when it equals --test-offset
     (5 % each by default); the rest is training text. Nothing about the split is random.
     Validation text picks the best checkpoint during training; test text is used only for the
     final report (perplexity of the saved checkpoint and of the unigram baseline).
  2. A byte-level BPE tokenizer (HF tokenizers) is trained on the training split only.
  3. Short ChatML conversations are made from consecutive lines of dialogue in the *training*
     split of the Austen novels, so the model learns the chat format and to end a turn with
     <|im_end|>.
  4. A Qwen3ForCausalLM (transformers) is trained with AdamW, bf16 autocast, residual dropout
     (added by forward hooks, so the saved architecture is the plain one), a warm-up and cosine
     schedule driven by max(step / --steps, elapsed / --time-budget).
  5. The weights are saved in BF16, the checkpoint is re-loaded from disk with transformers in
     float32 and evaluated: validation and test perplexity, a unigram baseline (training-split
     token frequencies, add-one smoothing) on exactly the same tokens, and sample generations.

Seeds: python random, numpy and torch are all seeded with --seed.
"""
import argparse
import gzip
import json
import math
import os
import platform
import random
import re
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
ENDOFTEXT_ID, IM_START_ID, IM_END_ID = 0, 1, 2
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
SYSTEM_PROMPT = "You are a helpful assistant."


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True, help="corpus.json.gz from build_corpus.py")
    parser.add_argument("--out", required=True, help="directory for the checkpoint and results.json")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--vocab-size", type=int, default=8192)
    parser.add_argument("--hidden-size", type=int, default=384)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--heads", type=int, default=6)
    parser.add_argument("--kv-heads", type=int, default=2)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--intermediate-size", type=int, default=768)
    parser.add_argument("--context", type=int, default=1024, help="training sequence length = max positions")
    parser.add_argument("--rope-theta", type=float, default=10000.0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--time-budget", type=float, default=300.0,
                        help="seconds of training at most, counted after the first (compiling) step")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--min-lr-ratio", type=float, default=0.1)
    parser.add_argument("--warmup-steps", type=int, default=100)
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--dropout", type=float, default=0.2, help="residual dropout during training")
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--unit-chars", type=int, default=4000)
    parser.add_argument("--heldout-every", type=int, default=20)
    parser.add_argument("--validation-offset", type=int, default=10)
    parser.add_argument("--test-offset", type=int, default=5)
    parser.add_argument("--upsample", default="austen=2,chat=2", help="times each training source is repeated")
    parser.add_argument("--no-compile", action="store_true")
    return parser.parse_args()


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


# ---------------------------------------------------------------- data split

def split_paragraphs(paragraphs, unit_chars, every, offsets):
    """Returns (training documents, {part: held-out units}) for offsets = {part: offset}; documents
    and units are lists of paragraphs. A held-out unit ends the training document around it."""
    units, current, length = [], [], 0
    for paragraph in paragraphs:
        current.append(paragraph)
        length += len(paragraph)
        if length >= unit_chars:
            units.append(current)
            current, length = [], 0
    if current:
        units.append(current)
    train_docs, heldout_units, run = [], {part: [] for part in offsets}, []
    part_of = {offset: part for part, offset in offsets.items()}
    for index, unit in enumerate(units):
        if index % every in part_of:
            if run:
                train_docs.append(run)
                run = []
            heldout_units[part_of[index % every]].append(unit)
        else:
            run.extend(unit)
    if run:
        train_docs.append(run)
    return train_docs, heldout_units


def spoken_words(paragraph):
    """The quoted speech of a paragraph that opens with a quotation mark, or None."""
    if not paragraph.startswith('"'):
        return None
    spans = [s.strip() for s in re.findall(r'"([^"]+)"', paragraph)]
    text = " ".join(s for s in spans if s)
    if not 8 <= len(text) <= 400:
        return None
    return text


def chat_conversations(train_docs, rng):
    """ChatML conversations from runs of consecutive speeches in the training documents."""
    conversations = []
    for doc in train_docs:
        run = []
        for paragraph in doc + [""]:
            speech = spoken_words(paragraph)
            if speech is not None:
                run.append(speech)
                continue
            while len(run) >= 2:
                turns = min(len(run) // 2, rng.randint(1, 3))
                messages = []
                if rng.random() < 0.5:
                    messages.append({"role": "system", "content": SYSTEM_PROMPT})
                for k in range(turns):
                    messages.append({"role": "user", "content": run[2 * k]})
                    messages.append({"role": "assistant", "content": run[2 * k + 1]})
                conversations.append(messages)
                run = run[2 * turns:]
            run = []
    return conversations


def render_chat(messages):
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)


# ---------------------------------------------------------------- tokenizer

def train_tokenizer(texts, vocab_size):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(texts, trainer)
    for expected_id, token in enumerate(SPECIAL_TOKENS):
        assert tokenizer.token_to_id(token) == expected_id, token
    return tokenizer


def encode_documents(tokenizer, documents):
    """One token stream; every document is followed by <|endoftext|>."""
    ids = []
    for encoding in tokenizer.encode_batch(documents, add_special_tokens=False):
        ids.extend(encoding.ids)
        ids.append(ENDOFTEXT_ID)
    return np.asarray(ids, dtype=np.int64)


# ---------------------------------------------------------------- model

def make_config(args, vocab_size):
    import inspect
    from transformers import Qwen3Config
    kwargs = dict(
        vocab_size=vocab_size, hidden_size=args.hidden_size, intermediate_size=args.intermediate_size,
        num_hidden_layers=args.layers, num_attention_heads=args.heads, num_key_value_heads=args.kv_heads,
        head_dim=args.head_dim, hidden_act="silu", max_position_embeddings=args.context,
        rms_norm_eps=1e-6, tie_word_embeddings=True, attention_bias=False, attention_dropout=0.0,
        use_sliding_window=False, sliding_window=None, bos_token_id=None, eos_token_id=IM_END_ID,
        pad_token_id=ENDOFTEXT_ID, initializer_range=0.02,
    )
    if "rope_parameters" in inspect.signature(Qwen3Config.__init__).parameters:
        kwargs["rope_parameters"] = {"rope_type": "default", "rope_theta": args.rope_theta}
    else:
        kwargs["rope_theta"] = args.rope_theta
    return Qwen3Config(**kwargs)


def add_residual_dropout(model, p):
    """Dropout on the embedding output and on each attention / MLP branch before the residual add.
    Implemented with forward hooks so the saved model is the stock architecture."""
    def drop_tensor(module, inputs, output):
        return F.dropout(output, p, module.training)

    def drop_first(module, inputs, output):
        if isinstance(output, tuple):
            return (F.dropout(output[0], p, module.training),) + tuple(output[1:])
        return F.dropout(output, p, module.training)

    model.model.embed_tokens.register_forward_hook(drop_tensor)
    for layer in model.model.layers:
        layer.self_attn.register_forward_hook(drop_first)
        layer.mlp.register_forward_hook(drop_tensor)


def learning_rate(args, step, progress):
    if step < args.warmup_steps:
        return args.lr * (step + 1) / args.warmup_steps
    cosine = 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * cosine)


def windows(stream, length):
    """Non-overlapping windows of length+1 tokens (inputs and shifted targets) covering the stream."""
    count = (len(stream) - 1) // length
    return torch.stack([stream[i * length: i * length + length + 1] for i in range(count)])


@torch.no_grad()
def heldout_nll(model, batches_of_windows, autocast):
    """Sum of negative log-likelihoods (nats) and number of predicted tokens."""
    model.eval()
    total, count = 0.0, 0
    for batch in batches_of_windows:
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
            logits = model(input_ids=batch[:, :-1]).logits
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1),
                               reduction="sum")
        total += loss.item()
        count += batch[:, 1:].numel()
    model.train()
    return total, count


# ---------------------------------------------------------------- checkpoint

def hub_style_config(path, dtype_name):
    """Write config.json the way most hub checkpoints spell it (rope_theta + rope_scaling)."""
    with open(path) as f:
        config = json.load(f)
    rope = config.pop("rope_parameters", None)
    if rope is not None:
        config["rope_theta"] = rope["rope_theta"]
    config["rope_scaling"] = None
    config["torch_dtype"] = dtype_name
    config["dtype"] = dtype_name
    with open(path, "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=2, ensure_ascii=False)
        f.write("\n")


GENERATION_CONFIG = {
    "bos_token_id": None,
    "eos_token_id": [IM_END_ID, ENDOFTEXT_ID],
    "pad_token_id": ENDOFTEXT_ID,
    "do_sample": True,
    "temperature": 0.8,
    "top_p": 0.9,
    "top_k": 40,
    "repetition_penalty": 1.1,
    "max_new_tokens": 256,
}


def save_checkpoint(model, tokenizer, out_dir, context):
    import transformers
    model.to(torch.bfloat16).save_pretrained(out_dir, safe_serialization=True)
    for stray in ("generation_config.json",):
        if os.path.exists(os.path.join(out_dir, stray)):
            os.remove(os.path.join(out_dir, stray))
    hub_style_config(os.path.join(out_dir, "config.json"), "bfloat16")
    write_json(os.path.join(out_dir, "generation_config.json"),
               dict(GENERATION_CONFIG, transformers_version=transformers.__version__))
    tokenizer.save(os.path.join(out_dir, "tokenizer.json"))
    write_json(os.path.join(out_dir, "tokenizer_config.json"), {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "unk_token": None,
        "add_bos_token": False,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": context,
        "chat_template": CHAT_TEMPLATE,
    })
    write_json(os.path.join(out_dir, "special_tokens_map.json"),
               {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"})


# ---------------------------------------------------------------- main

def main():
    args = parse_args()
    started = time.time()
    seed_everything(args.seed)
    import tokenizers
    import transformers
    versions = {"python": platform.python_version(), "torch": torch.__version__,
                "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                "numpy": np.__version__}
    device_name = torch.cuda.get_device_name(0)
    log(f"versions {versions}, device {device_name}")
    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True

    # 1. split
    with gzip.open(args.corpus, "rt", encoding="utf-8") as f:
        sources = json.load(f)["sources"]
    upsample = {k: int(v) for k, v in (item.split("=") for item in args.upsample.split(",") if item)}
    offsets = {"validation": args.validation_offset, "test": args.test_offset}
    train_texts, train_weighted, data_stats = [], [], {}
    heldout_texts = {part: {} for part in offsets}  # part -> source -> texts
    austen_train_docs = []
    for source in sources:
        docs, heldout = split_paragraphs(source["paragraphs"], args.unit_chars, args.heldout_every, offsets)
        texts = ["\n\n".join(doc) for doc in docs]
        train_texts.extend(texts)
        train_weighted.extend(texts * upsample.get(source["name"], 1))
        for part, units in heldout.items():
            heldout_texts[part][source["name"]] = ["\n\n".join(unit) for unit in units]
        if source["name"] == "austen":
            austen_train_docs = docs
        data_stats[source["name"]] = {
            "licence": source["licence"], "upsample": upsample.get(source["name"], 1),
            "train_chars": sum(len(t) for t in texts), "train_words": sum(len(t.split()) for t in texts)}
        for part in offsets:
            data_stats[source["name"]][f"{part}_units"] = len(heldout[part])
            data_stats[source["name"]][f"{part}_chars"] = sum(len(t) for t in heldout_texts[part][source["name"]])
    rng = random.Random(args.seed)
    conversations = chat_conversations(austen_train_docs, rng)
    chat_texts = [render_chat(c) for c in conversations]
    train_weighted.extend(chat_texts * upsample.get("chat", 1))
    data_stats["chat"] = {"conversations": len(conversations), "chars": sum(len(t) for t in chat_texts),
                          "upsample": upsample.get("chat", 1)}
    log(f"data {json.dumps(data_stats)}")
    log(f"chat example: {chat_texts[0]!r}")

    # 2. tokenizer (training split only)
    t0 = time.time()
    tokenizer = train_tokenizer(train_texts, args.vocab_size)
    vocab_size = tokenizer.get_vocab_size()
    log(f"tokenizer: {vocab_size} tokens in {time.time() - t0:.1f}s")

    train_ids = encode_documents(tokenizer, train_weighted)
    unique_train_ids = encode_documents(tokenizer, train_texts + chat_texts)
    heldout_ids, heldout_bytes = {}, {}  # part -> source (and "all") -> token stream / UTF-8 bytes
    for part, by_source in heldout_texts.items():
        heldout_ids[part] = {name: encode_documents(tokenizer, texts) for name, texts in by_source.items()}
        heldout_ids[part]["all"] = np.concatenate(list(heldout_ids[part].values()))
        heldout_bytes[part] = {name: sum(len(t.encode("utf-8")) for t in texts) for name, texts in by_source.items()}
        heldout_bytes[part]["all"] = sum(heldout_bytes[part].values())
    log(f"tokens: train stream {len(train_ids)} (unique {len(unique_train_ids)}), held-out "
        f"{ {part: {k: len(v) for k, v in ids.items()} for part, ids in heldout_ids.items()} }")

    # 3. model
    config = make_config(args, vocab_size)
    model = __import__("transformers").Qwen3ForCausalLM(config).to(device)
    parameters = sum(p.numel() for p in model.parameters())
    log(f"model: {parameters} parameters ({parameters * 2 / 1e6:.1f} MB in BF16)")
    add_residual_dropout(model, args.dropout)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=args.lr, betas=(0.9, 0.95), eps=1e-8, fused=True)
    step_model = model if args.no_compile else torch.compile(model)

    stream = torch.from_numpy(train_ids).to(device)
    validation_windows = windows(torch.from_numpy(heldout_ids["validation"]["all"]).to(device), args.context)
    validation_batches = list(torch.split(validation_windows, args.batch_size))
    offsets = torch.arange(args.context + 1, device=device)
    generator = torch.Generator(device=device)
    generator.manual_seed(args.seed)

    # 4. training
    history, best = [], (float("inf"), None, -1)
    train_start = time.time()
    step, tokens_seen, progress = 0, 0, 0.0
    model.train()
    while progress < 1.0:
        lr = learning_rate(args, step, progress)
        for group in optimizer.param_groups:
            group["lr"] = lr
        starts = torch.randint(0, len(stream) - args.context - 1, (args.batch_size,), device=device,
                               generator=generator)
        batch = stream[starts[:, None] + offsets]
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = step_model(input_ids=batch[:, :-1]).logits
        loss = F.cross_entropy(logits.float().reshape(-1, vocab_size), batch[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        tokens_seen += batch[:, 1:].numel()
        if step == 1:  # the first step includes torch.compile; the time budget counts from here
            torch.cuda.synchronize()
            compile_seconds = time.time() - train_start
            train_start = time.time()
        elapsed = time.time() - train_start
        progress = max(step / args.steps, elapsed / args.time_budget)
        if step % args.eval_every == 0 or progress >= 1.0 or step == 1:
            nll, count = heldout_nll(model, validation_batches, autocast=True)
            validation_loss = nll / count
            epochs = tokens_seen / len(train_ids)
            history.append({"step": step, "seconds": round(elapsed, 1), "epochs": round(epochs, 2), "lr": lr,
                            "train_loss": round(loss.item(), 4), "validation_loss": round(validation_loss, 4)})
            log(f"step {step} {elapsed:.0f}s epoch {epochs:.2f} lr {lr:.2e} train {loss.item():.4f} "
                f"validation {validation_loss:.4f} (ppl {math.exp(validation_loss):.2f})")
            if validation_loss < best[0]:
                best = (validation_loss, {k: v.detach().clone() for k, v in model.state_dict().items()}, step)
    train_seconds = time.time() - train_start
    log(f"first step (with compilation) {compile_seconds:.1f}s")
    log(f"trained {step} steps, {tokens_seen} tokens in {train_seconds:.1f}s; best validation at step {best[2]}")
    model.load_state_dict(best[1])

    # 5. save, reload from disk, evaluate
    os.makedirs(args.out, exist_ok=True)
    ckpt = os.path.join(args.out, "allm-tiny")
    save_checkpoint(model, tokenizer, ckpt, args.context)
    from transformers import AutoModelForCausalLM, AutoTokenizer
    reloaded = AutoModelForCausalLM.from_pretrained(ckpt, dtype=torch.float32).to(device).eval()
    hf_tokenizer = AutoTokenizer.from_pretrained(ckpt)

    counts = np.bincount(unique_train_ids, minlength=vocab_size).astype(np.float64)
    unigram_logp = np.log((counts + 1) / (counts.sum() + vocab_size))
    evaluation = {part: {} for part in heldout_ids}
    for part, by_source in heldout_ids.items():
        for name, ids in by_source.items():
            w = windows(torch.from_numpy(ids).to(device), args.context)
            nll, count = heldout_nll(reloaded, list(torch.split(w, args.batch_size)), autocast=False)
            targets = w[:, 1:].reshape(-1).cpu().numpy()
            unigram_nll = -unigram_logp[targets].sum()
            # bytes covered by the evaluated windows, pro rata (the last partial window is dropped)
            covered = heldout_bytes[part][name] * count / max(len(ids) - 1, 1)
            evaluation[part][name] = {"tokens": int(count), "perplexity": math.exp(nll / count),
                                      "unigram_perplexity": math.exp(unigram_nll / count),
                                      "bits_per_byte": nll / math.log(2) / covered,
                                      "unigram_bits_per_byte": unigram_nll / math.log(2) / covered}
            log(f"{part} {name}: {json.dumps(evaluation[part][name])}")

    samples = []
    prompts = ["Once upon a time", "It is a truth universally acknowledged", "In the beginning",
               "The old house stood at the end of the lane, and", "My dear Emma,"]
    chats = [[{"role": "user", "content": "Good morning! How are you today?"}],
             [{"role": "system", "content": SYSTEM_PROMPT},
              {"role": "user", "content": "What do you think of Mr. Darcy?"}]]
    gen_common = dict(max_new_tokens=80, pad_token_id=ENDOFTEXT_ID, eos_token_id=[IM_END_ID, ENDOFTEXT_ID])
    for kind, item in [("text", p) for p in prompts] + [("chat", c) for c in chats]:
        if kind == "text":
            text = item
        else:
            text = hf_tokenizer.apply_chat_template(item, tokenize=False, add_generation_prompt=True)
        ids = torch.tensor([hf_tokenizer(text, add_special_tokens=False)["input_ids"]], device=device)
        entry = {"kind": kind, "prompt": text}
        greedy = reloaded.generate(ids, do_sample=False, repetition_penalty=1.0, **gen_common)
        entry["greedy"] = hf_tokenizer.decode(greedy[0, ids.shape[1]:], skip_special_tokens=False)
        torch.manual_seed(args.seed)
        sampled = reloaded.generate(ids, do_sample=True, temperature=GENERATION_CONFIG["temperature"],
                                    top_p=GENERATION_CONFIG["top_p"], top_k=GENERATION_CONFIG["top_k"],
                                    repetition_penalty=GENERATION_CONFIG["repetition_penalty"], **gen_common)
        entry["sampled"] = hf_tokenizer.decode(sampled[0, ids.shape[1]:], skip_special_tokens=False)
        samples.append(entry)
        log(f"sample {json.dumps(entry, ensure_ascii=False)}")

    # A small oracle for allm: prompt ids, greedy ids (no penalty, EOS ignored) and their margins.
    prompt_ids = hf_tokenizer("Once upon a time", add_special_tokens=False)["input_ids"]
    ids = torch.tensor([prompt_ids], device=device)
    greedy_ids, margins = [], []
    with torch.no_grad():
        for _ in range(24):
            logits = reloaded(input_ids=ids).logits[0, -1].float()
            top2 = torch.topk(logits, 2)
            greedy_ids.append(int(top2.indices[0]))
            margins.append(float(top2.values[0] - top2.values[1]))
            ids = torch.cat([ids, top2.indices[:1].view(1, 1)], dim=1)
        prompt_logits = reloaded(input_ids=torch.tensor([prompt_ids], device=device)).logits[0, -1].float()
    reference = {"prompt": "Once upon a time", "prompt_ids": prompt_ids, "greedy_ids": greedy_ids,
                 "greedy_margins": margins, "greedy_text": hf_tokenizer.decode(greedy_ids),
                 "last_position_top5": [[int(i), float(v)] for v, i in zip(*torch.topk(prompt_logits, 5))]}

    results = {
        "versions": versions, "device": device_name, "seed": args.seed, "args": vars(args),
        "data": data_stats,
        "tokens": {"train_stream": int(len(train_ids)), "train_unique": int(len(unique_train_ids)),
                   **{part: int(len(ids["all"])) for part, ids in heldout_ids.items()}},
        "parameters": parameters, "vocab_size": vocab_size, "steps": step, "tokens_seen": tokens_seen,
        "train_seconds": round(train_seconds, 1), "first_step_seconds": round(compile_seconds, 1),
        "total_seconds": round(time.time() - started, 1),
        "best_step": best[2], "history": history, "evaluation": evaluation, "samples": samples,
        "reference": reference, "checkpoint_files": {f: os.path.getsize(os.path.join(ckpt, f)) for f in sorted(os.listdir(ckpt))},
    }
    write_json(os.path.join(args.out, "results.json"), results)
    log(f"done in {time.time() - started:.0f}s; files {results['checkpoint_files']}")


if __name__ == "__main__":
    main()
