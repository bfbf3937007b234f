#!/usr/bin/env python3
"""Reference cases for the sentencepiece tokenizer plugin.

Writes one JSON object a line (the format of tests/data/tokenizer/*.cases.jsonl):
text, ids, ids_with_special_tokens, decoded (decode(ids)), decoded_skip_special.

Backends:
  transformers   transformers' sentencepiece-based tokenizer: the slow
                 LlamaTokenizer on transformers 4.x; on 5.x (which has no slow
                 LlamaTokenizer) SentencePieceBackend with its settings. Ids
                 from it; text from the decoder transformers builds for a Llama
                 SentencePiece model (see with_transformers for why). Run on
                 the GPU machine (transformers 5.17 there):
                   python3 tools/spm/make_references.py transformers \
                       tests/data/tokenizer/spm_tiny > tests/data/tokenizer/spm_tiny.transformers.cases.jsonl
                 Every text below is used, special tokens included.
                 (The committed file holds the 12 texts of the first run on
                 the GPU machine, 2026-12-05, whose device time ran out
                 before the whole set: ids, ids_with_special_tokens and
                 transformers' own joined text.)
  sentencepiece  Debian's python3-sentencepiece (/usr/bin/python3 here): the
                 SentencePiece library alone, so only texts without special or
                 added tokens (ids_with_special_tokens = BOS + ids, decode =
                 SentencePiece's decode). It checks the plugin's use of the
                 library, not transformers' layer on top:
                   /usr/bin/python3 tools/spm/make_references.py sentencepiece \
                       tests/data/tokenizer/spm_tiny > tests/data/tokenizer/spm_tiny.sentencepiece.cases.jsonl
"""
import json
import sys

TEXTS = [
    "", " ", "  ", "\n", "\t", "Hello world", "hello  world", " leading space", "trailing space ",
    "Hello\nworld\n\nagain", "tabs\tand\tnewlines\n", "The plugin loads tokenizer.model files.",
    "allm runs large language models locally, on the CPU, from C++20.",
    "12,345,678.90 $100 €200 ¥300", "3.14159 2026-12-04 0x1F",
    "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}", "<html><body><p>Hi</p></body></html>",
    "日本語のテキストです。", "中文文本测试，包括标点符号。", "한국어 텍스트 테스트입니다.",
    "😀 😃 😄 😁", "👨\u200d👩\u200d👧\u200d👦 family", "🇫🇷🇩🇪🇯🇵", "mixed 😀text日本ok",
    "Ünïcödé façade naïve café émigré señor", "e=mc² ∑ ∫ √ ∞ ≈ ≠", "© ® ™ § ¶ † ‡ • …",
    "ﬁ ligature ﬀ ﬃ", "ＦＵＬＬＷＩＤＴＨ\u3000ｔｅｘｔ", "zero\u200bwidth\u200bspace",
    "▁ already has meta-space", "control \x01\x02 bytes", "a" * 50, "ab " * 20,
    "Don't you think it's odd? I'm sure they've said we're fine.",
    "word.Another,word!question?",
]
# Texts with the model's special and added tokens in them (transformers only).
SPECIAL_TEXTS = [
    "<s>", "</s>", "<unk>", "<s> [INST] hello [/INST]", "text with <unk> and </s> inside",
    "<s>Hello</s>", "a<s>b", "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
    "x <|im_start|> y", "<|im_start|><|im_end|>",
]


def with_sentencepiece(model_dir):
    import sentencepiece
    sp = sentencepiece.SentencePieceProcessor(model_file=f"{model_dir}/tokenizer.model")
    for text in TEXTS:
        ids = sp.encode(text)
        yield {"text": text, "ids": ids, "ids_with_special_tokens": [sp.bos_id()] + ids,
               "decoded": sp.decode(ids), "decoded_skip_special": sp.decode(ids)}


def with_transformers(model_dir):
    import transformers
    # transformers 4.x: the slow LlamaTokenizer is SentencePiece-based. 5.x
    # dropped it (its LlamaTokenizer is the tokenizers pipeline); the
    # sentencepiece-based tokenizer left is SentencePieceBackend, built here
    # with the slow Llama tokenizer's settings (legacy, BOS prepended).
    tok = None
    try:
        tok = transformers.LlamaTokenizer.from_pretrained(model_dir, legacy=True, use_fast=False)
    except Exception:
        tok = None
    if tok is None or not hasattr(tok, "sp_model"):
        from transformers.tokenization_utils_sentencepiece import SentencePieceBackend
        tok = SentencePieceBackend(vocab_file=f"{model_dir}/tokenizer.model", unk_token="<unk>", bos_token="<s>",
                                   eos_token="</s>", legacy=True, special_tokens_pattern="bos",
                                   clean_up_tokenization_spaces=False)
    # Ids come from that tokenizer. Its decode (5.x) only joins the pieces: a
    # byte-fallback piece stays the text "<0xF0>" and the text is stripped, so
    # the decoded text is transformers' Llama decoder instead, the one
    # transformers itself builds from a SentencePiece model (LlamaConverter:
    # U+2581 -> space, byte pieces -> bytes, one leading space dropped) applied
    # to that tokenizer's tokens.
    from transformers.convert_slow_tokenizer import LlamaConverter
    decoder = LlamaConverter(tok).converted().decoder
    label = f"transformers {transformers.__version__} {type(tok).__name__} + LlamaConverter decoder"
    print(f"# {label}", file=sys.stderr)

    def decode(ids, skip_special):
        return decoder.decode(tok.convert_ids_to_tokens(ids, skip_special_tokens=skip_special))

    for text in TEXTS + SPECIAL_TEXTS:
        ids = tok.encode(text, add_special_tokens=False)
        yield {"text": text, "ids": ids, "ids_with_special_tokens": tok.encode(text, add_special_tokens=True),
               "decoded": decode(ids, False), "decoded_skip_special": decode(ids, True),
               "decoded_transformers_join": tok.decode(ids, skip_special_tokens=False), "tokenizer": label}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("transformers", "sentencepiece"):
        sys.exit(__doc__)
    gen = with_transformers if sys.argv[1] == "transformers" else with_sentencepiece
    for case in gen(sys.argv[2]):
        print(json.dumps(case, ensure_ascii=False))


if __name__ == "__main__":
    main()
