#!/usr/bin/env python3
"""Reference cases for the sentencepiece tokenizer plugin.

Writes one JSON object a line (the format of tests/data/tokenizer/*.cases.jsonl):
text, ids, ids_with_special_tokens, decoded (decode(ids)), decoded_skip_special.

Backends:
  transformers   transformers' slow, sentencepiece-based LlamaTokenizer (the
                 reference the issue asks for). transformers 4.x only: 5.x
                 removed it (its LlamaTokenizer is the tokenizers backend, a
                 Metaspace pipeline that differs from SentencePiece on leading
                 spaces, BOS and text around special tokens), so the generator
                 refuses a tokenizer without a SentencePiece model:
                   python3 tools/spm/make_references.py transformers \
                       tests/data/tokenizer/spm_tiny > tests/data/tokenizer/spm_tiny.transformers.cases.jsonl
                 Every text below is used, special tokens included.
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
    # The slow tokenizer class: LlamaTokenizer in transformers 4.x; in 5.x the
    # sentencepiece-based one is asked for explicitly where it still exists.
    cls = getattr(transformers, "LlamaTokenizer")
    try:
        tok = cls.from_pretrained(model_dir, legacy=True, use_fast=False)
    except TypeError:
        tok = cls.from_pretrained(model_dir, legacy=True)
    print(f"# {type(tok).__name__} from transformers {transformers.__version__}", file=sys.stderr)
    if not hasattr(tok, "sp_model"):
        sys.exit(f"transformers {transformers.__version__}'s {type(tok).__name__} is not SentencePiece-based "
                 "(no sp_model): these would be references of the tokenizers pipeline, not the slow tokenizer; "
                 "use transformers 4.x")
    for text in TEXTS + SPECIAL_TEXTS:
        ids = tok.encode(text, add_special_tokens=False)
        yield {"text": text, "ids": ids, "ids_with_special_tokens": tok.encode(text, add_special_tokens=True),
               "decoded": tok.decode(ids, skip_special_tokens=False),
               "decoded_skip_special": tok.decode(ids, skip_special_tokens=True)}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("transformers", "sentencepiece"):
        sys.exit(__doc__)
    gen = with_transformers if sys.argv[1] == "transformers" else with_sentencepiece
    for case in gen(sys.argv[2]):
        print(json.dumps(case, ensure_ascii=False))


if __name__ == "__main__":
    main()
