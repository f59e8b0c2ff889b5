#!/usr/bin/env bash
# Bad input and bad usage: each case must end promptly with the documented exit code and a
# message naming the cause, on every rank (no hang: every run is under a timeout).
set -uo pipefail
source "$(dirname "$0")/common.sh"
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

# A 100 MB single line: quarantined (line_too_long) without being buffered; the rest reconciles.
/usr/bin/python3 -c "
import sys
with open('shards/huge.jsonl', 'w') as f:
    f.write('{\"text\": \"ok before\"}\n')
    f.write('{\"text\": \"' + 'x' * (100 << 20) + '\"}\n')
    f.write('{\"text\": \"ok after\"}\n')"
cfg huge '"shards/huge.jsonl"'
expect line_100mb 0 "2 docs, 1 quarantined, 3 input lines \(reconciled\)" -- "${mpi2[@]}" run huge.toml
rm -f shards/huge.jsonl

# A shard that cannot be read. As root every file is readable, so a dangling symlink stands in;
# as another user, a file without read permission.
ln -sf /nonexistent/shard.jsonl shards/dangling.jsonl
cfg dangling '"shards/dangling.jsonl"'
expect unreadable_shard 1 "dangling.jsonl.*No such file" -- "${mpi2[@]}" run dangling.toml
rm -f shards/dangling.jsonl
if [ "$(id -u)" -ne 0 ]; then
  cp shards/good.jsonl shards/noread.jsonl && chmod 000 shards/noread.jsonl
  cfg noread '"shards/noread.jsonl"'
  expect unreadable_permission 1 "noread.jsonl.*Permission denied" -- "${mpi2[@]}" run noread.toml
fi

# A full disk: the output goes to a 1 MB tmpfs (needs mount; skipped where it is not allowed).
mkdir -p full
if mount -t tmpfs -o size=1m tmpfs full 2>/dev/null; then
  for i in $(seq 1 3000); do echo "{\"text\": \"Document $i says something different: $RANDOM $RANDOM.\"}"; done > shards/many.jsonl
  cfg fulldisk '"shards/many.jsonl"'
  expect full_disk 1 "out.h5.partial. failed, [0-9]+ bytes free" -- "${mpi2[@]}" run fulldisk.toml --out full/out.h5
  [ ! -e full/out.h5 ] || { echo "FAIL full_disk: a partial output was left under the final name"; failed=1; }
  umount full
else
  echo "skip full_disk: mounting a tmpfs is not permitted here"
fi

# One rank killed mid-run: the job must end (non-zero), not hang.
if [ -x "${GEN:-}" ]; then
  "$GEN" gen40 40 8 3 >/dev/null
  "${mpi2[@]}" run gen40/corpus.toml --out killed.h5 > killed.out 2>&1 &
  job=$!
  for _ in $(seq 1 100); do
    victim=$(pgrep -f "cleanmix run gen40/corpus.toml" | tail -1 || true)
    [ -n "$victim" ] && break
    sleep 0.1
  done
  sleep 1
  kill -9 "$victim" 2>/dev/null || true
  if timeout 60 bash -c "wait $job" 2>/dev/null; then rc=0; else rc=$?; fi
  wait "$job" 2>/dev/null; rc=$?
  if [ "$rc" -ne 0 ] && [ ! -e killed.h5 ]; then
    echo "ok   rank_killed: job ended with exit $rc, no output"
  else
    echo "FAIL rank_killed: exit $rc"; failed=1
  fi
fi
exit $failed
