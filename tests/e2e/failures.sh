#!/usr/bin/env bash
# Bad input and bad usage: each case must end promptly with the documented exit code and a
# message naming the cause, on every rank (no hang: every run is under a timeout).
set -uo pipefail
bin="$(realpath "$1")"; work="$2"
mpiexec="${MPIEXEC:-mpiexec}"
read -r -a flags <<< "${MPIEXEC_PREFLAGS:-}"
rm -rf "$work"; mkdir -p "$work/shards/adir.jsonl"
cd "$work"
failed=0

good='{"text": "A fine document. It has two sentences."}'
for i in $(seq 1 200); do echo "$good"; done > shards/good.jsonl
for i in $(seq 1 2000); do echo "{\"text\": \"Document $i of $RANDOM.\"}"; done > varied.jsonl
gzip -c varied.jsonl > full.gz
head -c $(( $(stat -c %s full.gz) / 2 )) full.gz > shards/trunc.jsonl.gz
zstd -q -c varied.jsonl > full.zst
head -c $(( $(stat -c %s full.zst) / 2 )) full.zst > shards/trunc.jsonl.zst
: > shards/empty.jsonl

cfg() {  # cfg NAME PATHS [extra toml]
  printf '[run]\noutput = "%s.h5"\n%s\n[[sources]]\nname = "s"\npaths = [%s]\nprovenance = "human_unverified"\n' \
    "$1" "${3:-}" "$2" > "$1.toml"
}

expect() {  # expect NAME CODE PATTERN -- command...
  local name="$1" code="$2" pat="$3"; shift 4
  timeout 120 "$@" > "$name.out" 2>&1
  local rc=$?
  if [ "$rc" -ne "$code" ] || ! grep -qE "$pat" "$name.out"; then
    echo "FAIL $name: exit $rc (want $code), output:"; sed 's/^/  | /' "$name.out" | head -20
    failed=1
  else
    echo "ok   $name: exit $rc, $(grep -m1 -oE "$pat" "$name.out")"
  fi
}
mpi2=("$mpiexec" -n 2 "${flags[@]}" "$bin")

cfg trunc_gz '"shards/good.jsonl", "shards/trunc.jsonl.gz"'
expect truncated_gzip 1 "trunc.jsonl.gz.*truncated gzip" -- "${mpi2[@]}" run trunc_gz.toml
cfg trunc_zst '"shards/trunc.jsonl.zst"'
expect truncated_zstd 1 "trunc.jsonl.zst.*truncated zstd" -- "${mpi2[@]}" run trunc_zst.toml
cfg nomatch '"shards/nothing-*.jsonl"'
expect glob_matches_nothing 1 "nothing-\*.jsonl' matches no file" -- "${mpi2[@]}" run nomatch.toml
cfg adir '"shards/adir*"'
expect directory_as_shard 1 "adir.jsonl/' is a directory" -- "${mpi2[@]}" run adir.toml
cfg badkey '"shards/good.jsonl"' 'sede = 3'
expect unknown_config_key 2 "badkey.toml:3: unknown key 'run.sede'" -- "${mpi2[@]}" run badkey.toml
cfg badtype '"shards/good.jsonl"' 'seed = "x"'
expect wrong_config_type 2 "badtype.toml:3: key 'run.seed' must be an integer" -- "${mpi2[@]}" run badtype.toml
expect bad_set 2 "unknown key 'run.nope'" -- "${mpi2[@]}" run badkey.toml --set run.nope=1
expect missing_config 2 "cannot open config" -- "${mpi2[@]}" run no-such.toml
expect usage_error 2 "config is required|required" -- "$bin" run
cfg unwritable '"shards/good.jsonl"'
expect unwritable_output 1 "cannot create" -- "${mpi2[@]}" run unwritable.toml --out /proc/cleanmix/out.h5
cfg empty '"shards/empty.jsonl", "shards/good.jsonl"'
expect empty_shard_ok 0 "200 docs, 0 quarantined, 200 input lines \(reconciled\)" -- "${mpi2[@]}" run empty.toml
expect singleton_ok 0 "200 docs, 0 quarantined" -- "$bin" run empty.toml --out single.h5
expect resume_skips 0 "is complete for this config; nothing to do" -- "${mpi2[@]}" run empty.toml --resume
expect version 0 "cleanmix [0-9]+\.[0-9]+\.[0-9]+" -- "$bin" --version
exit $failed
