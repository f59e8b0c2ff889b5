#!/usr/bin/env bash
# Strong and weak scaling of cleanmix over rank counts.
#   bash perf/scaling.sh --ranks 1,2,4 [--size MB] [--repeat N] --out DIR [--slurm]
#   bash perf/scaling.sh --slurm --nodes 1,2,3 [--size MB] --out DIR   (ranks = nodes x
#     $CLEANMIX_TASKS_PER_NODE; for a namespaced local cluster: slurm/local-cluster.sh start --nodes 3)
# Strong: one corpus of --size MB at every rank count. Weak: --size MB per rank.
# Locally each point is an mpirun; with --slurm each point is one `sbatch jobs/cleanmix.sbatch`
# (nodes = ranks / tasks-per-node, from $CLEANMIX_TASKS_PER_NODE, default 1) and the script
# waits for the job. Reads /timing from every output and writes DIR/scaling.csv and
# DIR/scaling.png (speedup and efficiency vs ranks, per-stage breakdown, straggler spread).
set -euo pipefail
ranks=1,2,4; size=100; repeat=1; out=""; slurm=0; nodes=""
while [ $# -gt 0 ]; do
  case "$1" in
    --ranks) ranks="$2"; shift 2;; --size) size="$2"; shift 2;;
    --repeat) repeat="$2"; shift 2;; --out) out="$2"; shift 2;;
    --slurm) slurm=1; shift;;
    --nodes) nodes="$2"; shift 2;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
[ -n "$out" ] || { echo "usage: bash perf/scaling.sh --ranks 1,2,4 [--size MB] --out DIR [--slurm]" >&2; exit 2; }
mkdir -p "$out"; out="$(cd "$out" && pwd)"
# With --slurm the jobs run the binary in place: no install, no build here.
if [ "$slurm" = 1 ]; then CLEANMIX_PERF_NO_BUILD=1; fi
source "$(dirname "$0")/common.sh"  # repo, bin, gen, mpiflags, gen_corpus; builds unless --slurm
bin="${CLEANMIX:-$bin}"
if [ -n "$nodes" ]; then
  [ "$slurm" = 1 ] || { echo "--nodes needs --slurm" >&2; exit 2; }
  IFS=, read -r -a nl <<< "$nodes"
  ranks=""; for n in "${nl[@]}"; do ranks+="${ranks:+,}$(( n * ${CLEANMIX_TASKS_PER_NODE:-1} ))"; done
fi
IFS=, read -r -a ranklist <<< "$ranks"

run_point() {  # mode np MB rep
  local mode="$1" np="$2" mb="$3" rep="$4" d h5
  d="$(gen_corpus "$mb")"  # generated once (deterministic), warmed in the page cache
  h5="$out/$mode-np$np-r$rep.h5"
  rm -rf "$h5" "$h5.work"  # the job script passes --resume: never time a stale completed run
  if [ "$slurm" = 1 ]; then
    local tpn="${CLEANMIX_TASKS_PER_NODE:-1}" nodes jid
    nodes=$(( (np + tpn - 1) / tpn ))
    jid=$(CLEANMIX="$bin" sbatch --parsable --nodes "$nodes" --ntasks "$np" \
          --ntasks-per-node "$tpn" --output "$out/$mode-np$np-r$rep.slurm.log" \
          "$repo/jobs/cleanmix.sbatch" "$d/corpus.toml" --out "$h5" \
          --set run.progress_seconds=1e9)
    while squeue -h -j "$jid" 2>/dev/null | grep -q .; do sleep 5; done
  else
    mpirun "${mpiflags[@]}" -np "$np" "$bin" run "$d/corpus.toml" --out "$h5" \
      --set run.progress_seconds=1e9 2> "$out/$mode-np$np-r$rep.log"
  fi
  [ -f "$h5" ] || { echo "no output for $mode np $np" >&2; exit 1; }
}

for rep in $(seq "$repeat"); do
  for np in "${ranklist[@]}"; do
    run_point strong "$np" "$size" "$rep"
    run_point weak "$np" "$((size * np))" "$rep"
  done
done

/usr/bin/python3 - "$out" "$repeat" "${ranklist[@]}" <<'PY'
import csv, sys
import h5py
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

out, repeat, ranks = sys.argv[1], int(sys.argv[2]), [int(r) for r in sys.argv[3:]]
rows, phases = [], None
for mode in ("strong", "weak"):
    for np_ in ranks:
        runs = []
        for rep in range(1, repeat + 1):
            f = h5py.File(f"{out}/{mode}-np{np_}-r{rep}.h5", "r")
            t = f["timing"]
            phases = [p.decode() if isinstance(p, bytes) else p for p in t.attrs["phases"]]
            per_rank = t[:]  # [ranks, phases]
            corpus = int(f["shards/n_bytes"][:].sum())
            runs.append((per_rank, corpus))
        # median run by wall time (sum of per-phase maxima)
        walls = [pr.max(axis=0).sum() for pr, _ in runs]
        per_rank, corpus = runs[int(np.argsort(walls)[len(walls) // 2])]
        stage = per_rank.max(axis=0)
        a = t.attrs
        hosts = [h.decode() if isinstance(h, bytes) else h for h in a.get("hosts", [])]
        p2p = a.get("sent_p2p_bytes", np.zeros(1))
        remote = a.get("sent_p2p_remote_host_bytes", np.zeros(1))
        coll = a.get("sent_collective_bytes", np.zeros(1))
        work = per_rank[:, phases.index("count")] + per_rank[:, phases.index("score")]
        spread = (work.max() - work.min()) / work.mean() if work.mean() > 0 else 0
        rows.append(dict(mode=mode, ranks=np_, nodes=len(set(hosts)) or 1, corpus_bytes=corpus,
                         wall_s=stage.sum(),
                         **{f"{p}_s": stage[i] for i, p in enumerate(phases)},
                         straggler_spread=spread,
                         # per rank, max over ranks: what each rank sends (docs/operations.md)
                         p2p_bytes_per_rank_max=int(p2p.max()),
                         collective_bytes_per_rank_max=int(coll.max()),
                         # share of all bytes sent that crossed hosts (collectives: payload,
                         # counted as crossing when there is more than one host)
                         internode_share=(float(remote.sum()) + (float(coll.sum()) if len(set(hosts)) > 1 else 0.0))
                                         / max(1.0, float(p2p.sum() + coll.sum())),
                         p2p_internode_share=float(remote.sum()) / max(1.0, float(p2p.sum()))))
for mode in ("strong", "weak"):
    base = next(r for r in rows if r["mode"] == mode and r["ranks"] == ranks[0])
    for r in rows:
        if r["mode"] != mode:
            continue
        if mode == "strong":
            r["speedup"] = base["wall_s"] / r["wall_s"] * ranks[0]
            r["efficiency"] = r["speedup"] / r["ranks"]
        else:  # same work per rank: ideal wall is constant
            r["speedup"] = base["wall_s"] / r["wall_s"] * r["ranks"] / ranks[0]
            r["efficiency"] = base["wall_s"] / r["wall_s"]
with open(f"{out}/scaling.csv", "w", newline="") as fh:
    w = csv.DictWriter(fh, fieldnames=list(rows[0].keys()))
    w.writeheader()
    w.writerows(rows)

fig, ax = plt.subplots(2, 2, figsize=(12, 8))
for mode, c in (("strong", "#2166ac"), ("weak", "#b2182b")):
    rr = [r for r in rows if r["mode"] == mode]
    x = [r["ranks"] for r in rr]
    ax[0, 0].plot(x, [r["speedup"] for r in rr], "o-", color=c, label=mode)
    ax[0, 1].plot(x, [r["efficiency"] for r in rr], "o-", color=c, label=mode)
    ax[1, 1].plot(x, [r["straggler_spread"] for r in rr], "o-", color=c, label=mode)
ax[0, 0].plot(ranks, ranks, "k:", label="ideal")
ax[0, 0].set(title="speedup", xlabel="ranks")
ax[0, 1].set(title="parallel efficiency", xlabel="ranks", ylim=(0, 1.1))
ax[1, 1].set(title="straggler spread: (max - min) / mean of count+score per rank", xlabel="ranks")
strong = [r for r in rows if r["mode"] == "strong"]
bottom = np.zeros(len(strong))
for p in phases:
    v = np.array([r[f"{p}_s"] for r in strong])
    ax[1, 0].bar([str(r["ranks"]) for r in strong], v, bottom=bottom, label=p)
    bottom += v
ax[1, 0].set(title="strong scaling: seconds per stage (slowest rank)", xlabel="ranks")
for a in ax.flat:
    a.legend(fontsize=8)
fig.tight_layout()
fig.savefig(f"{out}/scaling.png", dpi=90)
for r in rows:
    print(f"{r['mode']:6s} np {r['ranks']} on {r['nodes']} hosts: {r['corpus_bytes'] / 1e6:7.1f} MB  wall {r['wall_s']:6.2f} s  "
          f"speedup {r['speedup']:5.2f}  efficiency {r['efficiency']:4.2f}  spread {r['straggler_spread']:.2f}  "
          f"sent/rank p2p {r['p2p_bytes_per_rank_max'] / 1e6:.2f} MB coll {r['collective_bytes_per_rank_max'] / 1e6:.1f} MB  "
          f"p2p between hosts {100 * r['p2p_internode_share']:.0f}%")
print(f"wrote {out}/scaling.csv and {out}/scaling.png")
PY
