#!/usr/bin/env python3
"""Writes the synthetic tokenizer.json files of tests/data/tokenizer/synthetic/.

Each one takes a small real vocabulary (the tiny byte-level BPE of the fixture
models, or a cut of the llama2 SentencePiece vocabulary) and swaps in other
components, so every normalizer, pre-tokenizer, post-processor, decoder and
added-token flag is exercised. Their expected outputs (NAME.cases.jsonl) are
computed by HF tokenizers itself: run bench/tokenizer/hf_cases.js on each.

Usage: make_synthetic.py LLAMA2_TOKENIZER_JSON OUT_DIR
"""
import json
import sys

TINY = "tests/data/tokenizer/tiny_bpe/tokenizer.json"


def added(content, id_, special=True, lstrip=False, rstrip=False, single_word=False, normalized=False):
    return {"id": id_, "content": content, "single_word": single_word, "lstrip": lstrip, "rstrip": rstrip,
            "normalized": normalized, "special": special}


def byte_level(**parts):
    doc = json.load(open(TINY))
    doc.update(parts)
    return doc


def small_sentencepiece(llama2_path, limit=1500):
    doc = json.load(open(llama2_path))
    model = doc["model"]
    keep = {t: i for t, i in model["vocab"].items() if i < limit}
    vocab = {t: n for n, t in enumerate(sorted(keep, key=keep.get))}
    merges = []
    for m in model["merges"]:
        a, b = m.split(" ", 1) if isinstance(m, str) else m
        if a in vocab and b in vocab and a + b in vocab:
            merges.append([a, b])
    model = dict(model, vocab=vocab, merges=merges)
    return doc, model


def main():
    llama2, out = sys.argv[1], sys.argv[2]
    docs = {}
    ws_split = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}
    docs["bl_normalizers"] = byte_level(
        normalizer={"type": "Sequence", "normalizers": [
            {"type": "NFKC"}, {"type": "Lowercase"}, {"type": "Strip", "strip_left": True, "strip_right": True},
            {"type": "Replace", "pattern": {"Regex": "[0-9]+"}, "content": "#"}]},
        pre_tokenizer={"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        post_processor={"type": "TemplateProcessing",
                        "single": [{"SpecialToken": {"id": "<|im_start|>", "type_id": 0}},
                                   {"Sequence": {"id": "A", "type_id": 0}},
                                   {"SpecialToken": {"id": "<|im_end|>", "type_id": 0}}],
                        "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                        "special_tokens": {"<|im_start|>": {"id": "<|im_start|>", "ids": [1], "tokens": ["<|im_start|>"]},
                                           "<|im_end|>": {"id": "<|im_end|>", "ids": [2], "tokens": ["<|im_end|>"]}}})
    docs["bl_nfd_accents"] = byte_level(
        normalizer={"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "StripAccents"}]},
        pre_tokenizer={"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True}, {"type": "Punctuation", "behavior": "Isolated"},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]})
    docs["bl_split_next"] = byte_level(pre_tokenizer={"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "MergedWithNext", "invert": False}, ws_split]})
    docs["bl_split_prev_invert"] = byte_level(pre_tokenizer={"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "\\p{L}+"}, "behavior": "MergedWithPrevious", "invert": True},
        ws_split]})
    docs["bl_split_contiguous"] = byte_level(pre_tokenizer={"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"String": "a"}, "behavior": "Contiguous", "invert": False},
        {"type": "Digits", "individual_digits": False}, ws_split]})
    docs["bl_split_removed"] = byte_level(pre_tokenizer={"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "[aeiou]"}, "behavior": "Removed", "invert": False},
        {"type": "Split", "pattern": {"Regex": "\\p{N}+"}, "behavior": "Removed", "invert": True}, ws_split]})
    docs["bl_whitespace"] = byte_level(pre_tokenizer={"type": "Sequence", "pretokenizers": [
        {"type": "Whitespace"}, ws_split]})
    docs["bl_whitespace_split"] = byte_level(pre_tokenizer={"type": "Sequence", "pretokenizers": [
        {"type": "WhitespaceSplit"}, {"type": "Punctuation", "behavior": "Contiguous"}, ws_split]})
    docs["bl_bert_pre"] = byte_level(normalizer={"type": "NFKD"}, pre_tokenizer={
        "type": "Sequence", "pretokenizers": [{"type": "BertPreTokenizer"}, ws_split]})
    flags = byte_level()
    flags["added_tokens"] = [
        added("<|endoftext|>", 0), added("<|im_start|>", 1, lstrip=True), added("<|im_end|>", 2, rstrip=True),
        added("word", 512, special=False, single_word=True), added("ss", 513, special=False, normalized=True),
        added("<mask>", 514, lstrip=True, rstrip=True)]
    flags["normalizer"] = {"type": "Lowercase"}
    flags["post_processor"] = {"type": "RobertaProcessing", "sep": ["<|im_end|>", 2], "cls": ["<|im_start|>", 1],
                               "trim_offsets": True, "add_prefix_space": False}
    docs["bl_added_flags"] = flags

    sp_doc, sp_model = small_sentencepiece(llama2)
    meta_first = dict(sp_doc, normalizer=None, model=sp_model,
                      pre_tokenizer={"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first",
                                     "split": True},
                      decoder={"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True})
    docs["sp_metaspace_first"] = meta_first
    meta_always = dict(sp_doc, normalizer=None, model=dict(sp_model, fuse_unk=False, byte_fallback=False),
                       pre_tokenizer={"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always",
                                      "split": False},
                       decoder={"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always",
                                "split": False})
    docs["sp_metaspace_always_unk"] = meta_always
    docs["sp_byte_fallback"] = dict(sp_doc, model=sp_model)

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    pieces = ["the", "quick", "brown", "fox", "jump", "##s", "over", "lazy", "dog", "hello", "world", "un", "##able",
              "to", "say", "##ing", "a", "b", "c", "d", "e", "##a", "##b", "##c", "##d", "##e", ".", ",", "!", "?",
              "'", "s", "t", "i", "m", "1", "2", "3", "##1", "##2", "##3", "cafe", "naive", "resume", "don", "##t",
              "中", "文", "日", "本"]
    wp_vocab = {t: n for n, t in enumerate(words + pieces)}
    docs["wordpiece_bert"] = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(t, wp_vocab[t]) for t in words],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": wp_vocab}}
    for name, doc in docs.items():
        with open(f"{out}/{name}.tokenizer.json", "w") as f:
            json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))


main()
