#!/usr/bin/env bash
# Checkpoint and restart (DESIGN.md "Stages"; docs/operations.md): an interrupted run resumed
# with --resume at a *different* rank count gives the same datasets (all but /timing) as an
# uninterrupted run. Cases: SIGKILL of the whole job mid-score, SIGKILL mid-count, SIGUSR1 (finish
# the piece, checkpoint, exit 3), corrupt checkpoint files (ignored and recomputed), a changed
# config or a changed shard (start over), checkpoints of another column registry (refused and
# recomputed), and the checkpoints removed after completion.
# The test hook CLEANMIX_TEST_PIECE_DELAY_MS slows each piece so the signals land mid-stage.
set -euo pipefail
source "$(dirname "$0")/common.sh"
# A private copy of the sample, so a shard can be touched.
mkdir -p "$work/configs" "$work/data"
cp "$repo/configs/sample.toml" "$work/configs/"
cp -r "$repo/data/sample" "$work/data/"
cfg="$work/configs/sample.toml"
split=(--set ingest.split_bytes=65536)  # 19 pieces, so there is a "mid-stage" to hit

mpirun_() {  # NP NAME [args]: run to completion (any status), log in NAME.log
  local np="$1" name="$2"; shift 2
  timeout 600 "$mpiexec" -n "$np" "${flags[@]}" "$bin" run "$cfg" --out "$work/$name.h5" "$@" \
    2>> "$work/$name.log"
}
digest() { "$bin" inspect --digest "$work/$1.h5" > "$work/$1.digest"; }
same() {  # NAME WHAT
  digest "$1"
  if ! diff -u "$work/base.digest" "$work/$1.digest"; then echo "FAIL: $2"; exit 1; fi
  echo "ok: $2 ($(wc -l < "$work/$1.digest") datasets identical)"
}
done_files() { find "$work/$1.h5.work/ckpt/$2" -name '*.done' 2> /dev/null | wc -l; }
# Start NP ranks in their own session with the piece delay; wait until WHAT has N .done files.
start_slow() {  # NP NAME STAGE N [args]
  local np="$1" name="$2" stage="$3" n="$4"; shift 4
  CLEANMIX_TEST_PIECE_DELAY_MS=150 setsid "$mpiexec" -n "$np" "${flags[@]}" \
    -x CLEANMIX_TEST_PIECE_DELAY_MS "$bin" run "$cfg" --out "$work/$name.h5" "$@" \
    2>> "$work/$name.log" &
  job=$!
  for _ in $(seq 1 600); do
    [ "$(done_files "$name" "$stage")" -ge "$n" ] && return 0
    kill -0 "$job" 2> /dev/null || { cat "$work/$name.log"; echo "FAIL: $name ended early"; exit 1; }
    sleep 0.1
  done
  echo "FAIL: $name never reached $n $stage checkpoints"; exit 1
}
kill_job() {  # SIGKILL every process of the job's session (mpirun and all ranks)
  pkill -KILL -s "$job" || true
  wait "$job" 2> /dev/null || true
}

mpirun_ 1 base "${split[@]}" || { cat "$work/base.log"; exit 1; }
digest base
[ ! -e "$work/base.h5.work/ckpt" ] || { echo "FAIL: checkpoints left after a completed run"; exit 1; }

# 1. SIGKILL the whole job mid-score at np 2; resume at np 3.
start_slow 2 kill_score score 3 "${split[@]}"
kill_job
[ ! -e "$work/kill_score.h5" ] || { echo "FAIL: output exists after SIGKILL"; exit 1; }
pieces=$(done_files kill_score score)
[ "$pieces" -lt 19 ] || { echo "FAIL: the kill came after the score stage"; exit 1; }
echo "killed mid-score with $pieces of 19 score pieces checkpointed"
mpirun_ 3 kill_score "${split[@]}" --resume || { cat "$work/kill_score.log"; exit 1; }
grep -q "count stage restores 19 of 19 pieces" "$work/kill_score.log"
same kill_score "SIGKILL mid-score at np 2, resumed at np 3"
[ ! -e "$work/kill_score.h5.work/ckpt" ] || { echo "FAIL: checkpoints left after resume"; exit 1; }

# 2. SIGKILL mid-count (snapshots every piece) at np 3; resume at np 2, then finish at np 4.
start_slow 3 kill_count count 2 "${split[@]}" --set run.checkpoint_seconds=0.001
kill_job
[ "$(done_files kill_count score)" -eq 0 ] || { echo "FAIL: the kill came after count"; exit 1; }
mpirun_ 2 kill_count "${split[@]}" --resume || { cat "$work/kill_count.log"; exit 1; }
grep -E "count stage restores [0-9]+ of 19" "$work/kill_count.log"
grep -qE "count stage restores ([1-9]|1[0-8]) of 19" "$work/kill_count.log" ||
  { echo "FAIL: expected a partial count restore"; exit 1; }
same kill_count "SIGKILL mid-count at np 3, resumed at np 2"

# 3. SIGUSR1 to mpirun (forwarded to the ranks): finish the piece, checkpoint, exit 3.
start_slow 2 usr1 score 2 "${split[@]}"
kill -USR1 "$job"
rc=0; wait "$job" || rc=$?
[ "$rc" -eq 3 ] || { cat "$work/usr1.log"; echo "FAIL: SIGUSR1 exit status $rc, expected 3"; exit 1; }
grep -q "stop requested (SIGUSR1) in the score stage" "$work/usr1.log"
[ ! -e "$work/usr1.h5" ] || { echo "FAIL: output written after a stop"; exit 1; }
mpirun_ 4 usr1 "${split[@]}" --resume || { cat "$work/usr1.log"; exit 1; }
same usr1 "SIGUSR1 at np 2 (exit 3), resumed at np 4"

# 4. Corrupt checkpoints are ignored and their pieces recomputed.
mpirun_ 2 corrupt "${split[@]}" --set run.keep_checkpoints=true || { cat "$work/corrupt.log"; exit 1; }
ck="$work/corrupt.h5.work/ckpt"
seg=$(find "$ck/count" -name '*.h5' | sort | head -1)
printf 'X' | dd of="$seg" bs=1 seek=2000 conv=notrunc status=none
printf 'X' | dd of="$ck/score/p00000003.h5" bs=1 seek=3000 conv=notrunc status=none
rm "$ck/score/p00000005.h5.done"
rm -f "$work/corrupt.h5" "$work/corrupt.h5.work/run.manifest"
mpirun_ 3 corrupt "${split[@]}" --resume || { cat "$work/corrupt.log"; exit 1; }
grep -q "count checkpoint $(basename "$seg") ignored: size/checksum" "$work/corrupt.log"
same corrupt "corrupt count and score checkpoints recomputed at np 3"

# 5. A changed result key starts over; a changed progress/checkpoint key does not.
start_slow 2 cfgchange score 2 "${split[@]}"
kill_job
mpirun_ 2 cfgchange "${split[@]}" --set run.progress_seconds=1 --set run.checkpoint_seconds=60 \
  --resume || { cat "$work/cfgchange.log"; exit 1; }
grep -q "count stage restores 19 of 19" "$work/cfgchange.log"
start_slow 2 cfgchange2 score 2 "${split[@]}"
kill_job
mpirun_ 2 cfgchange2 "${split[@]}" --set plan.max_repeats=3 --resume ||
  { cat "$work/cfgchange2.log"; exit 1; }
grep -q "checkpoints belong to another config" "$work/cfgchange2.log"
echo "ok: a changed result key starts over, a changed progress key resumes"

# 6. A shard changed since the checkpoints (mtime): start over, and the result is still right.
start_slow 2 touched score 2 "${split[@]}"
kill_job
touch "$(find "$work/data/sample" -name '*.jsonl*' | sort | head -1)"
mpirun_ 1 touched "${split[@]}" --resume || { cat "$work/touched.log"; exit 1; }
grep -q "changed since the checkpoints were written" "$work/touched.log"
same touched "a touched shard starts over"

# 7. Checkpoints from a build with another per-document column registry (the fingerprint after
# "columns-" in index.txt differs): refused with a message, recomputed, and the result is right.
start_slow 2 registry score 2 "${split[@]}"
kill_job
idx="$work/registry.h5.work/ckpt/index.txt"
grep -q "columns-[0-9a-f]\{16\}" "$idx" || { echo "FAIL: index.txt carries no column fingerprint"; exit 1; }
sed -i 's/columns-[0-9a-f]\{16\}/columns-0000000000000000/' "$idx"
mpirun_ 2 registry "${split[@]}" --resume || { cat "$work/registry.log"; exit 1; }
grep -q "checkpoints were written by cleanmix .*columns-0000000000000000" "$work/registry.log" ||
  { cat "$work/registry.log"; echo "FAIL: no message about another column registry"; exit 1; }
same registry "checkpoints of another column registry are refused and recomputed"
