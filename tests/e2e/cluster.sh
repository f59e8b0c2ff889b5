#!/usr/bin/env bash
# Several Slurm nodes on one machine (slurm/local-cluster.sh start --nodes 3: each slurmd in its
# own network and UTS namespace with its own TmpFS, Open MPI over TCP between them). Cases:
#   1. sbatch -N 2 and -N 3 of the sample: ranks on 2 and 3 hosts (/timing hosts), traffic
#      between hosts, output equal to a one-node mpirun dataset for dataset;
#   2. the work directory lock across nodes: a run on cm-node2 is refused while a job on another
#      node holds the lock, naming its host, pid and Slurm job; SIGKILLed (lock left behind,
#      job ended), its lock is taken over from another node;
#   3. scancel (SIGTERM) of a running job: the ranks checkpoint and exit 3;
#   4. node loss mid-score: the node holding rank 0 is lost (link down, every process on it
#      SIGKILLed); the job ends within SlurmdTimeout + slack naming the node, Slurm requeues it,
#      and the requeued job (on the 2 surviving nodes, fewer ranks) takes the lock over and
#      resumes to the output of the uninterrupted run.
# Skips (exit 0 with a message) only where the machine forbids network namespaces.
set -euo pipefail
source "$(dirname "$0")/common.sh"
if ! ip netns add "cmprobe$$" 2>/dev/null; then
  echo "SKIP: this machine does not allow network namespaces (ip netns add failed)"; exit 0
fi
ip netns del "cmprobe$$"
export CLEANMIX_SLURM_DIR="$work/slurm" CLEANMIX_SLURM_NET=78.0 CLEANMIX_SLURMD_TIMEOUT=10 \
  CLEANMIX_SLURMCTLD_PORT=17017 CLEANMIX_SLURMD_PORT=17018
trap 'bash "$repo/slurm/local-cluster.sh" stop >/dev/null 2>&1 || true' EXIT
bash "$repo/slurm/local-cluster.sh" start --nodes 3
export SLURM_CONF="$CLEANMIX_SLURM_DIR/slurm.conf"
cfg="$repo/configs/sample.toml"
split=(--set ingest.split_bytes=65536)
fail() { echo "FAIL: $*"; exit 1; }
wait_job() {  # JOBID [SECONDS]: until it leaves the queue
  for _ in $(seq 1 "${2:-300}"); do squeue -h -j "$1" 2>/dev/null | grep -q . || return 0; sleep 1; done
  fail "job $1 still queued after ${2:-300} s"
}
job_state() { scontrol show job "$1" 2>/dev/null | grep -oE "JobState=[A-Z_]+" | cut -d= -f2; }
submit() {  # NAME sbatch-args... -- cleanmix-args...
  local name="$1"; shift
  local sb=() ; while [ "$1" != -- ]; do sb+=("$1"); shift; done; shift
  CLEANMIX="$bin" sbatch --parsable --chdir="$work" --output="$work/$name-%j.out" "${sb[@]}" \
    "$repo/jobs/cleanmix.sbatch" "$cfg" --out "$work/$name.h5" "$@"
}
done_files() { find "$work/$1.h5.work/ckpt/score" -name '*.done' 2> /dev/null | wc -l; }
wait_for() { for _ in $(seq 1 600); do eval "$1" && return 0; sleep 0.2; done; fail "timed out: $1"; }

timeout 600 "$mpiexec" -n 1 "${flags[@]}" "$bin" run "$cfg" --out "$work/one.h5" "${split[@]}" \
  2> "$work/one.log"
"$bin" inspect --digest "$work/one.h5" > "$work/one.digest"

# 1. Two and three nodes, one rank each.
for n in 2 3; do
  jid=$(submit "n$n" -N "$n" --ntasks-per-node 1 -- "${split[@]}")
  wait_job "$jid"
  [ "$(job_state "$jid")" = COMPLETED ] || { cat "$work/n$n-$jid.out"; fail "-N $n job"; }
  "$bin" inspect --digest "$work/n$n.h5" > "$work/n$n.digest"
  diff -u "$work/one.digest" "$work/n$n.digest" || fail "-N $n output differs from one node"
  /usr/bin/python3 - "$work/n$n.h5" "$n" <<'PY'
import sys, h5py
t = h5py.File(sys.argv[1])["timing"]
hosts = [h.decode() for h in t.attrs["hosts"]]
remote = t.attrs["sent_p2p_remote_host_bytes"]
assert len(set(hosts)) == int(sys.argv[2]), hosts
assert all(h.startswith("cm-node") for h in hosts), hosts
assert remote.sum() > 0, remote
print(f"ranks on {hosts}; point-to-point bytes to other hosts per rank {list(remote)}")
PY
  echo "ok: -N $n output equals one node ($(wc -l < "$work/n$n.digest") datasets)"
done

# 2. The lock across nodes. Job A holds it on cm-node1; a run on cm-node2 is refused.
slow=(--export=ALL,CLEANMIX_TEST_PIECE_DELAY_MS=200)
jid=$(submit lockA -N 1 -w cm-node1 --ntasks-per-node 1 --no-requeue "${slow[@]}" -- "${split[@]}")
wait_for '[ -s "$work/lockA.h5.work/lock" ]'
holder=$(sed -n 's/^pid=//p' "$work/lockA.h5.work/lock")
rc=0
timeout 120 srun -N 1 -w cm-node2 --mpi=pmix "$bin" run "$cfg" --out "$work/lockA.h5" "${split[@]}" \
  > "$work/lockB.log" 2>&1 || rc=$?
grep fatal "$work/lockB.log" || true
[ "$rc" -ne 0 ] || fail "a second run on a held work directory succeeded"
grep -q "in use by another run (host cm-node1, pid $holder, Slurm job $jid" "$work/lockB.log" ||
  fail "the refusal does not name host cm-node1, pid $holder, job $jid"
echo "ok: refused on cm-node2 while job $jid holds the lock on cm-node1"
# The holder SIGKILLed: the lock stays, the job ends; a run on cm-node2 takes it over.
kill -KILL "$holder"; wait_job "$jid" 60  # the rank (one pid namespace here), as the OOM killer would
[ -s "$work/lockA.h5.work/lock" ] || fail "SIGKILL should leave the lock"
timeout 300 srun -N 1 -w cm-node2 --mpi=pmix "$bin" run "$cfg" --out "$work/lockA.h5" "${split[@]}" \
  --resume > "$work/lockC.log" 2>&1 || { tail "$work/lockC.log"; fail "takeover run failed"; }
grep "taking over" "$work/lockC.log"
grep -q "taking over from a run that is gone (host cm-node1, pid $holder, Slurm job $jid" \
  "$work/lockC.log" || fail "no takeover message naming the dead job"
"$bin" inspect --digest "$work/lockA.h5" | diff -u "$work/one.digest" - || fail "takeover output"
echo "ok: the lock of a SIGKILLed job on cm-node1 taken over from cm-node2, output identical"

# 3. scancel sends SIGTERM: finish the piece, checkpoint, exit 3.
jid=$(submit term -N 2 --ntasks-per-node 1 --no-requeue "${slow[@]}" -- "${split[@]}")
wait_for '[ "$(done_files term)" -ge 2 ]'
scancel "$jid"; wait_job "$jid" 60
grep -q "stop requested (SIGTERM) in the score stage" "$work"/term-"$jid".out ||
  { tail "$work"/term-"$jid".out; fail "scancel: no SIGTERM stop"; }
echo "ok: scancel (SIGTERM) checkpointed: $(grep -o 'stop requested.*checkpointed' "$work"/term-"$jid".out)"

# 4. Node loss. -N 2-3: three nodes now, two after the loss; the script's requeue path resumes.
jid=$(submit loss -N 2-3 --ntasks-per-node 1 "${slow[@]}" -- "${split[@]}")
wait_for '[ "$(done_files loss)" -ge 3 ]'
rank0=$(sed -n 's/^host=//p' "$work/loss.h5.work/lock")
t0=$(date +%s)
bash "$repo/slurm/local-cluster.sh" kill-node "$rank0"
for _ in $(seq 1 120); do
  [ "$(scontrol show job "$jid" | grep -oE 'Restarts=[0-9]+')" = Restarts=1 ] && break; sleep 1
done
took=$(( $(date +%s) - t0 ))
[ "$took" -lt 60 ] || fail "the job did not end within 60 s of the node loss"
echo "ok: the job ended $took s after losing $rank0 (SlurmdTimeout 10 s) and was requeued"
wait_job "$jid" 400
out="$work/loss-$jid.out"
grep -v "^\[cleanmix\] \(count\|score\) " "$out" | grep -E "Node failure|NODE FAILURE|taking over|restored|start 2|wrote" || true
[ "$(job_state "$jid")" = COMPLETED ] || fail "the requeued job did not complete"
grep -qE "Node failure on $rank0|nodes down or drained: .*$rank0" "$out" ||
  fail "the job output does not name the lost node $rank0"
grep -q "taking over from a run that is gone (host $rank0" "$out" || fail "no lock takeover"
grep -q "restored [0-9]* of its" "$out" || fail "the requeued job did not resume from checkpoints"
"$bin" inspect --digest "$work/loss.h5" | diff -u "$work/one.digest" - || fail "node-loss output"
/usr/bin/python3 -c "import h5py,sys; print('requeued job ran on', [h.decode() for h in h5py.File(sys.argv[1])['timing'].attrs['hosts']])" "$work/loss.h5"
echo "ok: node loss -> requeue -> resume on the survivors: output equals one node"
