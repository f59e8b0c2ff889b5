#!/usr/bin/env bash
# A real local Slurm: start it, submit jobs/cleanmix.sbatch on the sample (srun --mpi=pmix, 2
# ranks), wait, and check that the output equals a direct mpirun run dataset for dataset.
set -euo pipefail
source "$(dirname "$0")/common.sh"
export CLEANMIX_SLURM_DIR="$work/slurm" CLEANMIX_SLURMCTLD_PORT=16917 CLEANMIX_SLURMD_PORT=16918
trap 'bash "$repo/slurm/local-cluster.sh" stop >/dev/null 2>&1 || true' EXIT
bash "$repo/slurm/local-cluster.sh" start
export SLURM_CONF="$CLEANMIX_SLURM_DIR/slurm.conf"
jid=$(CLEANMIX="$bin" sbatch --parsable --chdir="$work" --output="$work/job-%j.out" \
      "$repo/jobs/cleanmix.sbatch" "$repo/configs/sample.toml" --out "$work/slurm.h5")
echo "submitted job $jid"
for _ in $(seq 1 300); do
  squeue -h -j "$jid" 2>/dev/null | grep -q . || break
  sleep 1
done
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
