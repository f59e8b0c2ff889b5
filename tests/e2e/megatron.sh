#!/usr/bin/env bash
# `run --materialize` with a real model tokenizer (tiktoken cl100k_base, fetched and converted
# by tests/tokenizers/fetch.sh) and `[materialize] format = "both"`, at np 1, 2 and 3:
#   - tests/e2e/check_megatron.py, an independent reader written from Megatron-Core's published
#     format, checks every .bin/.idx pair, the sidecars, weights, manifest, training order, copies
#     per document = /docs/repeats, sequence lengths = /docs/n_tokens, EOD per document, total =
#     the plan's realised tokens, and that the token stream is identical at np 1, 2 and 3;
#   - every Megatron sequence equals `cleanmix tokenize` of the materialised JSONL record + EOD;
#   - the run files are identical across rank counts (inspect --digest); np 3 ships the texts
#     in rounds (materialize.round_bytes), which must not change the stream;
#   - bad tokenizer settings are exit 2 before any work.
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$repo/tests/tokenizers/fetch.sh" > "$work/fetch.log"
MODELS="$TOK_MODELS"
tok=(--set tokenizer.kind=tiktoken --set tokenizer.preset=cl100k_base
     --set "tokenizer.model=$MODELS/cl100k_base.tiktoken" --set "tokenizer.eod=<|endoftext|>"
     --set tokenizer.append_eod=true)
for np in 1 2 3; do
  # np 3 ships the texts in rounds (small round_bytes): the stream must not change
  rounds=(); [ "$np" = 3 ] && rounds=(--set materialize.round_bytes=40000)
  timeout 600 "$mpiexec" -n "$np" "${flags[@]}" "$bin" run "$repo/configs/sample.toml" \
    --out "$work/np$np.h5" --workdir "$work/np$np.work" --materialize "$work/mat$np" \
    "${tok[@]}" --set materialize.format=both --set materialize.shard_bytes=200000 \
    "${rounds[@]}" 2> "$work/np$np.log" || { cat "$work/np$np.log"; exit 1; }
  "$bin" inspect --digest "$work/np$np.h5" > "$work/np$np.digest"
done
grep -q "texts exchanged in [0-9]* rounds" "$work/np3.log" || { echo "FAIL: np 3 did not run in rounds"; exit 1; }
for np in 2 3; do
  cmp "$work/np1.digest" "$work/np$np.digest" || { echo "FAIL: run file differs at np $np"; exit 1; }
done
# The materialised JSONL mix, re-tokenised by the same binary, in manifest (training) order.
/usr/bin/python3 - "$work/mat2" > "$work/mix2.jsonl" <<'PY'
import json, sys
d = sys.argv[1]
for e in json.load(open(f"{d}/manifest.json"))["mix"]:
    sys.stdout.write(open(f"{d}/{e['path']}").read())
PY
"$bin" tokenize "$repo/configs/sample.toml" --input "$work/mix2.jsonl" "${tok[@]}" > "$work/ids2.jsonl"
/usr/bin/python3 "$repo/tests/e2e/check_megatron.py" "$work/mat1" "$work/np1.h5"
/usr/bin/python3 "$repo/tests/e2e/check_megatron.py" "$work/mat2" "$work/np2.h5" \
  --compare-stream "$work/mat1" --jsonl-ids "$work/ids2.jsonl"
/usr/bin/python3 "$repo/tests/e2e/check_megatron.py" "$work/mat3" "$work/np3.h5" \
  --compare-stream "$work/mat1"
# n_tokens is in model tokens: the cl100k count of every document + 1 (EOD), not words.
/usr/bin/python3 - "$work/np2.h5" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
v = f["vocab"].attrs
assert v["tokenizer"] in (b"tiktoken", "tiktoken") and v["vocab_size"] == 100277, dict(v)
assert 2 ** int(v["vocab_bits"]) >= v["vocab_size"], "histograms would hash ids"  # exact buckets
assert int(v["eod"]) == 100257 and int(v["append_eod"]) == 1
n = f["docs/n_tokens"][:]
assert n.min() >= 1
print(f"n_tokens: {n.sum()} cl100k tokens (with EOD) over {len(n)} documents")
PY

# Bad settings: exit 2, a message naming the problem, no output written.
expect2() {  # WHAT PATTERN ARGS...
  local what="$1" pat="$2"; shift 2
  set +e
  "$bin" run "$repo/configs/sample.toml" --out "$work/bad.h5" --workdir "$work/bad.work" "$@" \
    > "$work/bad.log" 2>&1
  local rc=$?
  set -e
  [ $rc -eq 2 ] || { echo "FAIL: $what: exit $rc, not 2"; cat "$work/bad.log"; exit 1; }
  grep -q -- "$pat" "$work/bad.log" || { echo "FAIL: $what: no '$pat' in:"; cat "$work/bad.log"; exit 1; }
  [ ! -e "$work/bad.h5" ] || { echo "FAIL: $what wrote output"; exit 1; }
  echo "ok: $what -> exit 2 ($(grep -m1 -o "$pat.*" "$work/bad.log" | cut -c1-100))"
}
printf 'IQ== 0\nIQ== 1\n' > "$work/dup.tiktoken"
expect2 "missing model file" "cannot open" --set tokenizer.kind=tiktoken \
  --set tokenizer.preset=cl100k_base --set "tokenizer.model=$work/none.tiktoken"
expect2 "malformed rank file" "dup.tiktoken" --set tokenizer.kind=tiktoken \
  --set tokenizer.preset=cl100k_base --set "tokenizer.model=$work/dup.tiktoken"
sed 's/"type":"BPE"/"type":"WordPiece"/; s/"type": "BPE"/"type": "WordPiece"/' \
  "$MODELS/gpt2.tokenizer.json" > "$work/wordpiece.json"
expect2 "unsupported tokenizer.json model" "WordPiece" --set tokenizer.kind=hf \
  --set "tokenizer.model=$work/wordpiece.json"
expect2 "EOD not in the vocabulary" "no such token" "${tok[@]:0:6}" --set "tokenizer.eod=<|nope|>"
expect2 "vocab_bits too small" "too small" "${tok[@]}" --set tokenizer.vocab_bits=12
expect2 "megatron output needs model ids" "writes model token ids" \
  --set materialize.format=megatron
echo "e2e.megatron OK"
