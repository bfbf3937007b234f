#!/usr/bin/env bash
# Trains tests/data/tokenizer/spm_tiny/tokenizer.model, the small SentencePiece
# model the tokenizer_sentencepiece tests use: Llama-style (BPE, <unk>=0,
# <s>=1, </s>=2, byte fallback, digits split, identity normalisation, dummy
# prefix), 512 pieces (the vocabulary size of the llama fixture checkpoint,
# so a copy of it with only this tokenizer.model runs end to end), trained on the repository's own docs (public text) so
# it needs nothing from outside. Deterministic (one thread, no sampling).
# Needs Debian's `sentencepiece` package (spm_train). Run from the repo root:
#   tools/spm/train_tiny.sh
set -euo pipefail
out=tests/data/tokenizer/spm_tiny
mkdir -p "$out"
# A fixed corpus path: the model records it (trainer_spec.input).
corpus="$out/corpus.txt"; trap 'rm -f "$corpus"' EXIT
cat README.md docs/*.md > "$corpus"
# A few lines of other scripts so that common non-Latin characters get pieces;
# the rest of Unicode goes through byte fallback.
printf '%s\n' "日本語のテキストです。" "中文文本测试。" "Ünïcödé façade naïve café" "émigré señor" >> "$corpus"
spm_train --input="$corpus" --model_prefix="$out/tokenizer" --vocab_size=512 --model_type=bpe \
  --character_coverage=0.9995 --byte_fallback=true --split_digits=true --allow_whitespace_only_pieces=true \
  --remove_extra_whitespaces=false --normalization_rule_name=identity --add_dummy_prefix=true \
  --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1 --user_defined_symbols='<|im_start|>,<|im_end|>' \
  --num_threads=1 --shuffle_input_sentence=false --input_sentence_size=0 --minloglevel=2
rm -f "$out/tokenizer.vocab"
