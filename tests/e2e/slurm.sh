#!/usr/bin/env bash
# A real local Slurm: start it, submit jobs/cleanmix.sbatch on the sample (srun --mpi=pmix, 2
# ranks), wait, and check that the output equals a direct mpirun run dataset for dataset. Then the
# time-limit path: USR1 to the batch script (what --signal=B:USR1@120 sends), the ranks
# checkpoint and exit 3, the script requeues the job, and the requeued job resumes to the same
# output. (slurm.conf sets cred_expire=10, so a requeued job waits ~11 s instead of 121 s.)
set -euo pipefail
source "$(dirname "$0")/common.sh"
export CLEANMIX_SLURM_DIR="$work/slurm" CLEANMIX_SLURMCTLD_PORT=16917 CLEANMIX_SLURMD_PORT=16918
trap 'bash "$repo/slurm/local-cluster.sh" stop >/dev/null 2>&1 || true' EXIT
bash "$repo/slurm/local-cluster.sh" start
export SLURM_CONF="$CLEANMIX_SLURM_DIR/slurm.conf"
jid=$(CLEANMIX="$bin" sbatch --parsable --chdir="$work" --output="$work/job-%j.out" \
      "$repo/jobs/cleanmix.sbatch" "$repo/configs/sample.toml" --out "$work/slurm.h5")
echo "submitted job $jid"
wait_job() {  # JOBID: until it leaves the queue (or 300 s)
  for _ in $(seq 1 300); do
    squeue -h -j "$1" 2>/dev/null | grep -q . || break
    sleep 1
  done
}
wait_job "$jid"
state=$(scontrol show job "$jid" 2>/dev/null | grep -oE "JobState=[A-Z_]+" || true)
echo "$state"; cat "$work/job-$jid.out" | tail -3
[ "$state" = "JobState=COMPLETED" ] || { echo "FAIL: job $jid did not complete"; exit 1; }
grep -q "cleanmix: 1 nodes, 2 ranks" "$work/job-$jid.out"
timeout 600 "$mpiexec" -n 2 "${flags[@]}" "$bin" run "$repo/configs/sample.toml" \
  --out "$work/mpirun.h5" --workdir "$work/mpirun.work" 2> "$work/mpirun.log"
"$bin" inspect --digest "$work/slurm.h5" > "$work/slurm.digest"
"$bin" inspect --digest "$work/mpirun.h5" > "$work/mpirun.digest"
diff -u "$work/mpirun.digest" "$work/slurm.digest"
echo "sbatch output equals the direct mpirun run ($(wc -l < "$work/slurm.digest") datasets)"

# Time limit: USR1 mid-score -> checkpoint, exit 3, requeue, resume.
jid=$(CLEANMIX="$bin" CLEANMIX_TEST_PIECE_DELAY_MS=150 sbatch --parsable --chdir="$work" \
      --output="$work/job-%j.out" "$repo/jobs/cleanmix.sbatch" "$repo/configs/sample.toml" \
      --out "$work/requeue.h5" --set ingest.split_bytes=65536)
echo "submitted job $jid (to be signalled)"
for _ in $(seq 1 600); do
  [ "$(find "$work/requeue.h5.work/ckpt/score" -name '*.done' 2>/dev/null | wc -l)" -ge 2 ] && break
  sleep 0.2
done
scancel --signal=USR1 --batch "$jid"
wait_job "$jid"
info=$(scontrol show job "$jid" 2>/dev/null || true)
echo "$info" | grep -oE "JobState=[A-Z_]+|Restarts=[0-9]+" | tr '\n' ' '; echo
grep -v "^\[cleanmix\] \(count\|score\|plan\) " "$work/job-$jid.out"
echo "$info" | grep -q "JobState=COMPLETED" || { echo "FAIL: job $jid did not complete"; exit 1; }
echo "$info" | grep -q "Restarts=1" || { echo "FAIL: job $jid was not requeued once"; exit 1; }
grep -q "stop requested (SIGUSR1) in the score stage" "$work/job-$jid.out"
grep -q "requeueing job $jid" "$work/job-$jid.out"
grep -q "restored [0-9]* of its" "$work/job-$jid.out"
"$bin" inspect --digest "$work/requeue.h5" > "$work/requeue.digest"
diff -u "$work/mpirun.digest" "$work/requeue.digest"
echo "USR1, exit 3, requeue and resume: output equals the direct mpirun run"
