#!/usr/bin/env bash
# CTest e2e-style check: `bash compare.sh CLEANMIX_BINARY WORK_DIR`. cleanmix's model tokenizers
# must give, token for token, the ids of independent reference implementations:
#   cl100k, o200k   tiktoken (npm, Rust core in WASM), encode_ordinary
#   llama3, gpt2    @huggingface/tokenizers (npm, JS), encode(text, {add_special_tokens: false})
#   spm             Debian's spm_encode --output_format=id on spm8k.model
# Inputs: adversarial.py's texts, then every valid document of the bundled sample corpus
# (data/sample, ~1.7k). spm_encode reads one line of text per line, so the spm comparison splits
# every document at "\n" and compares each line as a document of its own, on both sides.
# cleanmix side: BIN tokenize CONFIG --input FILE.jsonl --set tokenizer.KEY=VALUE ... printing one
# JSON array of ids per input line. Prints counts per tokenizer; on a mismatch the first differing
# document and both id windows (check_ids.py), and exits 1 after trying every tokenizer.
# Env: CLEANMIX_TOKENIZERS (subset, default "cl100k o200k llama3 gpt2 spm"), CLEANMIX_CACHE
# (fetch.sh), CLEANMIX_HF_REFERENCE=hf-ordinary (compare added-token text as ordinary text).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[[ $# -eq 2 ]] || { echo "usage: compare.sh CLEANMIX_BINARY WORK_DIR" >&2; exit 2; }
bin="$(realpath "$1")"; work="$2"
[[ -n "$work" ]] || { echo "compare.sh: empty WORK_DIR" >&2; exit 2; }
repo="${CLEANMIX_REPO:-$(cd "$here/../.." && pwd)}"
cfg="$repo/configs/sample.toml"
py=/usr/bin/python3
hf_ref="${CLEANMIX_HF_REFERENCE:-hf}"
rm -rf "$work"; mkdir -p "$work"

source "$here/fetch.sh"
export CLEANMIX_NPM="$TOK_NPM"  # reference.mjs loads its packages from there
M="$TOK_MODELS"
"$py" "$here/adversarial.py" "$work/adversarial.jsonl"
"$py" "$here/corpus.py" docs "$repo/data/sample" "$work/corpus.jsonl"
cat "$work/adversarial.jsonl" "$work/corpus.jsonl" > "$work/docs.jsonl"
"$py" "$here/corpus.py" lines "$work/docs.jsonl" "$work/lines.jsonl"
"$py" "$here/corpus.py" plain "$work/lines.jsonl" "$work/lines.txt" > /dev/null

# cleanmix NAME INPUT KEY=VALUE...: ids to $work/NAME.cleanmix.ids (string values TOML-quoted)
cleanmix() {
  local name="$1" input="$2" kv; shift 2
  local args=()
  for kv in "$@"; do args+=(--set "tokenizer.${kv%%=*}=\"${kv#*=}\""); done
  echo "+ cleanmix tokenize $(basename "$cfg") --input $(basename "$input") ${args[*]}"
  local rc=0
  timeout 600 "$bin" tokenize "$cfg" --input "$input" "${args[@]}" \
    > "$work/$name.cleanmix.ids" 2> "$work/$name.cleanmix.log" || rc=$?
  if ((rc)); then
    echo "FAIL $name: cleanmix tokenize exited $rc; its stderr ($work/$name.cleanmix.log) ends:"
    tail -n 20 "$work/$name.cleanmix.log" | sed 's/^/    /'
    return 1
  fi
}

# reference KIND MODEL OUT: reference.mjs over docs.jsonl
reference() {
  timeout 600 node "$here/reference.mjs" "$1" "$2" < "$work/docs.jsonl" > "$3" \
    || { echo "FAIL: reference.mjs $1 exited $?"; return 1; }
}

# run_one NAME: one tokenizer, both sides, then check_ids.py. Runs as an `if` condition, where
# set -e does not apply: every step checks its own status.
run_one() {
  local name="$1" ref="$work/$1.ref.ids" docs="$work/docs.jsonl" extra=()
  case "$name" in
    cl100k | o200k)
      local preset="${name}_base"
      reference "tiktoken-$preset" - "$ref" || return 1
      cleanmix "$name" "$docs" kind=tiktoken preset="$preset" model="$M/$preset.tiktoken" || return 1
      extra=(--vocab "$M/$preset.tiktoken" --informative unicode-version) ;;
    llama3 | gpt2)
      local model="$M/$name.tokenizer.json"
      reference "$hf_ref" "$model" "$ref" || return 1
      if [[ "$hf_ref" == hf ]]; then
        reference hf-onig "$model" "$work/$name.alt.ids" || return 1
        extra=(--alt "$work/$name.alt.ids")
      fi
      cleanmix "$name" "$docs" kind=hf model="$model" || return 1
      extra+=(--vocab "$model" --informative unicode-version) ;;
    spm)
      docs="$work/lines.jsonl"
      timeout 600 spm_encode --model "$M/spm8k.model" --output_format=id < "$work/lines.txt" \
        > "$ref" || { echo "FAIL spm: spm_encode exited $?"; return 1; }
      cleanmix spm "$docs" kind=sentencepiece model="$M/spm8k.model" || return 1
      extra=(--spm-ref --vocab "$M/spm8k.vocab") ;;
    *) echo "FAIL: unknown tokenizer '$name'"; return 1 ;;
  esac
  "$py" "$here/check_ids.py" "$name" "$docs" "$ref" "$work/$name.cleanmix.ids" "${extra[@]}"
}

read -r -a names <<< "${CLEANMIX_TOKENIZERS:-cl100k o200k llama3 gpt2 spm}"
passed=(); failed=()
for name in "${names[@]}"; do
  echo "=== $name"
  if run_one "$name"; then passed+=("$name"); else failed+=("$name"); fi
done
echo "tokenizer comparison: ${#passed[@]} passed, ${#failed[@]} failed${failed:+ (${failed[*]})}"
((${#failed[@]} == 0))
