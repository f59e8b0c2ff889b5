#!/usr/bin/env bash
# The work directory lock and SIGTERM on one host (docs/operations.md "Work directory lock").
# Cases: a second run on a live run's work directory stops at once naming the holder, and the
# first run is unharmed; SIGTERM (what scancel sends) finishes the piece, checkpoints and exits
# 3, and --resume finishes with the output of an uninterrupted run; a lock left by a SIGKILLed
# run is taken over with a message; locks that cannot be judged (another host outside Slurm,
# not a cleanmix lock) stop the run with the way out. The cases across namespaced Slurm nodes
# are in tests/e2e/cluster.sh.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cfg="$repo/configs/sample.toml"
split=(--set ingest.split_bytes=65536)  # 19 pieces, so there is a "mid-stage" to hit
digest() { "$bin" inspect --digest "$work/$1.h5" > "$work/$1.digest"; }
same() {  # NAME WHAT
  digest "$1"
  if ! diff -u "$work/base.digest" "$work/$1.digest"; then echo "FAIL: $2"; exit 1; fi
  echo "ok: $2 ($(wc -l < "$work/$1.digest") datasets identical)"
}
fail() { echo "FAIL: $*"; exit 1; }
field() { sed -n "s/^$1=//p" "$2"; }
wait_for() {  # FILE-TEST... : up to 60 s
  for _ in $(seq 1 600); do eval "$1" && return 0; sleep 0.1; done
  fail "timed out waiting for: $1"
}
done_files() { find "$work/$1.h5.work/ckpt/$2" -name '*.done' 2> /dev/null | wc -l; }

timeout 600 "$mpiexec" -n 2 "${flags[@]}" "$bin" run "$cfg" --out "$work/base.h5" "${split[@]}" \
  2> "$work/base.log"
digest base
[ ! -e "$work/base.h5.work/lock" ] || fail "a completed run left its lock"
echo "ok: a completed run removes its lock"

# 1. A live holder: the second run stops at once, naming host and pid; the first finishes.
CLEANMIX_TEST_PIECE_DELAY_MS=150 setsid "$mpiexec" -n 2 "${flags[@]}" -x CLEANMIX_TEST_PIECE_DELAY_MS \
  "$bin" run "$cfg" --out "$work/live.h5" "${split[@]}" 2> "$work/live.log" &
first=$!
wait_for '[ -s "$work/live.h5.work/lock" ]'
holder_pid=$(field pid "$work/live.h5.work/lock")
start=$(date +%s%N)
rc=0
timeout 60 "$bin" run "$cfg" --out "$work/live.h5" "${split[@]}" 2> "$work/second.log" || rc=$?
took=$(( ($(date +%s%N) - start) / 1000000 ))
cat "$work/second.log" | grep fatal
[ "$rc" -eq 1 ] || fail "second run on a held work directory: status $rc, expected 1"
grep -q "is in use by another run (host $(hostname), pid $holder_pid" "$work/second.log" ||
  fail "the error does not name the holder"
echo "ok: second run refused in ${took} ms (status 1), naming host $(hostname) pid $holder_pid"
wait "$first" || fail "the first run failed after the second was refused"
same live "the holder finished unharmed"

# 2. SIGTERM to a run: finish the piece, checkpoint, exit 3, lock released; resume is identical.
CLEANMIX_TEST_PIECE_DELAY_MS=150 "$bin" run "$cfg" --out "$work/term.h5" "${split[@]}" \
  2> "$work/term.log" &
pid=$!
wait_for '[ "$(done_files term score)" -ge 2 ]'
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" -eq 3 ] || { tail -3 "$work/term.log"; fail "SIGTERM: status $rc, expected 3"; }
grep -q "stop requested (SIGTERM) in the score stage" "$work/term.log" || fail "no SIGTERM message"
[ ! -e "$work/term.h5.work/lock" ] || fail "a stopped run left its lock"
timeout 600 "$mpiexec" -n 2 "${flags[@]}" "$bin" run "$cfg" --out "$work/term.h5" "${split[@]}" \
  --resume 2>> "$work/term.log"
grep -q "restored [0-9]* of its" "$work/term.log" || fail "the resume did not restore pieces"
same term "SIGTERM mid-score (exit 3), resumed at np 2"

# 3. A lock left by a killed run (SIGKILL: no destructor ran) is taken over with a message.
CLEANMIX_TEST_PIECE_DELAY_MS=150 setsid "$mpiexec" -n 2 "${flags[@]}" -x CLEANMIX_TEST_PIECE_DELAY_MS \
  "$bin" run "$cfg" --out "$work/killed.h5" "${split[@]}" 2> "$work/killed.log" &
job=$!
wait_for '[ "$(done_files killed score)" -ge 2 ]'
dead_pid=$(field pid "$work/killed.h5.work/lock")
pkill -KILL -s "$job" || true  # the session: mpirun and every rank (ranks have their own groups)
wait "$job" 2> /dev/null || true
wait_for '! ps -o stat= -p "$dead_pid" | grep -qv Z'  # gone, or a zombie
[ -s "$work/killed.h5.work/lock" ] || fail "SIGKILL should leave the lock behind"
timeout 600 "$mpiexec" -n 1 "${flags[@]}" "$bin" run "$cfg" --out "$work/killed.h5" "${split[@]}" \
  --resume 2>> "$work/killed.log"
grep "taking over" "$work/killed.log"
grep -q "taking over from a run that is gone (host $(hostname), pid $dead_pid.*pid $dead_pid is not running on $(hostname))" \
  "$work/killed.log" || fail "no takeover message naming the dead holder"
same killed "stale lock of a SIGKILLed run taken over, resumed at np 1"

# 4. A lock whose holder cannot be checked: another host, no Slurm job. Refused, with the way out.
mkdir -p "$work/foreign.h5.work"
printf 'cleanmix workdir lock v1\nhost=elsewhere-node7\npid=4242\npid_start=1\nboot_id=x\nslurm_job_id=\nslurm_restart=0\nstarted=2026-01-01T00:00:00Z\noutput=/x.h5\n' \
  > "$work/foreign.h5.work/lock"
rc=0; "$bin" run "$cfg" --out "$work/foreign.h5" 2> "$work/foreign.log" || rc=$?
[ "$rc" -eq 1 ] || fail "foreign lock: status $rc"
grep -q "host elsewhere-node7, pid 4242.*outside Slurm.*If you know that run is dead, remove" \
  "$work/foreign.log" || { cat "$work/foreign.log"; fail "foreign lock message"; }
echo "ok: a lock from another host outside Slurm is refused with the way out"
echo "not a lock" > "$work/foreign.h5.work/lock"
rc=0; "$bin" run "$cfg" --out "$work/foreign.h5" 2> "$work/foreign.log" || rc=$?
[ "$rc" -eq 1 ] && grep -q "is not a cleanmix lock" "$work/foreign.log" || fail "garbage lock"
echo "ok: a file that is not a cleanmix lock is refused"
