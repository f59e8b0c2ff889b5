#!/usr/bin/python3
"""cleanmix report: an HTML page with the plots a curator wants from a run file.

Usage: /usr/bin/python3 scripts/report.py RUN.h5 --out DIR   (or: cleanmix report RUN.h5 --out DIR)
A `cleanmix simulate` file (DIR/simulate.h5) gets the collapse-simulation page instead.
Needs Debian's python3-h5py and python3-matplotlib. Writes DIR/index.html and DIR/*.png.
"""
import argparse
import html
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

CLASS_COLORS = ["#1b7837", "#7fbf7b", "#c51b7d", "#de77ae", "#888888"]


def labels(ds):
    return [x.decode() if isinstance(x, bytes) else str(x) for x in ds.attrs["labels"]]


def save(fig, out, name):
    fig.tight_layout()
    fig.savefig(os.path.join(out, name), dpi=90)
    plt.close(fig)
    return name


def signal_distributions(f, out):
    d = f["docs"]
    prov = d["provenance"][:]
    names = labels(d["provenance"])
    cols = [("entropy_bits", False), ("ttr", False), ("mattr", False), ("burstiness", False),
            ("compression_ratio", False), ("tail_score", False), ("ref_ppl", True),
            ("p_synthetic", False)]
    cols = [c for c in cols if c[0] in d]
    fig, axes = plt.subplots(2, (len(cols) + 1) // 2, figsize=(16, 6.5))
    for ax, (col, logx) in zip(axes.flat, cols):
        v = d[col][:].astype(float)
        ok = np.isfinite(v)
        if logx:
            ok &= v > 0
            v = np.log10(np.where(ok, v, 1))
        if not ok.any():
            ax.set_visible(False)
            continue
        bins = np.linspace(np.quantile(v[ok], 0.005), np.quantile(v[ok], 0.995) + 1e-9, 40)
        for c, name in enumerate(names):
            sel = ok & (prov == c)
            if sel.sum() >= 5:
                ax.hist(v[sel], bins=bins, density=True, histtype="step", lw=1.6,
                        color=CLASS_COLORS[c], label=f"{name} ({sel.sum()})")
        ax.set_title(("log10 " if logx else "") + col, fontsize=10)
    axes.flat[0].legend(fontsize=7)
    for ax in list(axes.flat)[len(cols):]:
        ax.set_visible(False)
    return save(fig, out, "signals.png")


def zipf(f, out):
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 4.5))
    counts = f["vocab/counts"]
    rows = [x.decode() if isinstance(x, bytes) else x for x in counts.attrs["rows"]]
    for k, name in enumerate(rows[:-1]):
        c = np.sort(counts[k, :])[::-1]
        c = c[c > 0]
        if len(c):
            a.loglog(np.arange(1, len(c) + 1), c / c.sum(), color=CLASS_COLORS[k], label=name)
    a.set(title="rank-frequency per provenance class", xlabel="rank", ylabel="frequency")
    a.legend(fontsize=8)
    if "plan/unigram_counts" in f:
        u = f["plan/unigram_counts"]
        for k, (name, col) in enumerate([("planned mix", "#2166ac"), ("reference (anchor)", "#1b7837")]):
            c = np.sort(u[k, :])[::-1]
            c = c[c > 0]
            b.loglog(np.arange(1, len(c) + 1), c / c.sum(), color=col, label=f"{name}: {len(c)} types")
        b.set(title="mix vs reference: does the tail survive?", xlabel="rank", ylabel="frequency")
        b.legend(fontsize=8)
    else:
        b.set_visible(False)
    return save(fig, out, "zipf.png")


def allocation(f, out):
    if "plan/sources" not in f:
        return None
    p = f["plan/sources"]
    names = [x.decode() for x in f["sources/name"][:]]
    keep = [i for i in range(len(names))
            if p["eligible_human"][i] + p["eligible_synthetic"][i] > 0]
    x = np.arange(len(keep))
    fig, ax = plt.subplots(figsize=(max(9, 1.6 * len(keep) + 4), 4.8))
    w = 0.38
    eh, es = p["eligible_human"][:][keep], p["eligible_synthetic"][:][keep]
    rh, rs = p["realised_human"][:][keep], p["realised_synthetic"][:][keep]
    ax.bar(x - w / 2, eh, w, color="#a6dba0", label="available: human")
    ax.bar(x - w / 2, es, w, bottom=eh, color="#f1b6da", label="available: synthetic")
    ax.bar(x + w / 2, rh, w, color="#1b7837", label="planned: human")
    ax.bar(x + w / 2, rs, w, bottom=rh, color="#c51b7d", label="planned: synthetic")
    ep = p["epochs"][:][keep]
    for xi, top, e in zip(x, rh + rs, ep):
        ax.text(xi + w / 2, top, f"{e:.2f} ep", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, [names[i] for i in keep])
    s = f["plan/summary"].attrs
    ax.set_ylabel("tokens")
    ax.set_title(f"{s['allocation'].decode()}: budget {s['budget_tokens']:.0f} tokens, realised "
                 f"{s['realised_tokens']}, synthetic share {s['realised_synthetic_share']:.3f} "
                 f"(cap {s['synthetic_cap']})", fontsize=10)
    ax.legend(fontsize=8)
    return save(fig, out, "allocation.png")


def audit(f, out):
    if "audit/batches" not in f:
        return None
    b = f["audit/batches"]
    e, hold = b["entropy_bits"][:], b["hold"][:].astype(bool)
    floor = f["audit"].attrs["floor_bits"]
    fig, ax = plt.subplots(figsize=(13, 4))
    ax.plot(np.arange(len(e)), e, color="#2166ac", lw=1, label="batch entropy")
    ax.axhline(floor, color="#b2182b", ls="--",
               label=f"floor {floor:.2f} bits (p{f['audit'].attrs['floor_percentile']} of anchor windows)")
    ax.scatter(np.nonzero(hold)[0], e[hold], color="#b2182b", zorder=3, label=f"held ({hold.sum()})")
    ax.set(xlabel="batch (training order)", ylabel="unigram entropy, bits",
           title=f"batch entropy audit: {len(e)} batches of {f['audit'].attrs['batch_tokens']} tokens")
    ax.legend(fontsize=8)
    return save(fig, out, "audit.png")


def classifier(f, out):
    if "classifier" not in f or not f["classifier"].attrs["enabled"]:
        return None, ""
    a = f["classifier"].attrs
    d = f["docs"]
    p, prov = d["p_synthetic"][:], d["provenance"][:]
    names = labels(d["provenance"])
    fig, ax = plt.subplots(figsize=(7, 4))
    bins = np.linspace(0, 1, 41)
    for c, name in enumerate(names):
        sel = (prov == c) & np.isfinite(p)
        if sel.sum() >= 5:
            ax.hist(p[sel], bins=bins, density=True, histtype="step", lw=1.6,
                    color=CLASS_COLORS[c], label=name)
    ax.axvline(a["linear_threshold"], color="k", ls=":", label="threshold")
    ax.set(xlabel="p_synthetic", title="classifier scores by declared class")
    ax.legend(fontsize=8)
    rows = "".join(
        f"<tr><td>{m}</td>" + "".join(f"<td>{a[f'holdout_{m}_{k}']:.3f}</td>"
                                      for k in ("precision", "recall", "f1", "auroc", "fpr"))
        + "</tr>" for m in ("linear", "vote"))
    table = ("<table><tr><th>model</th><th>precision</th><th>recall</th><th>F1</th><th>AUROC</th>"
             f"<th>FPR</th></tr>{rows}</table><p>held-out documents: {a['holdout_docs']}; "
             f"decision model: {a['decision'].decode()}</p>")
    return save(fig, out, "classifier.png"), table


SIM_METRICS = [("types_kept", "generation-0 types kept"),
               ("bigrams_kept", "generation-0 bigram types kept"),
               ("heldout_ppl", "held-out human perplexity"),
               ("tail_mass", "mass beyond generation-0 rank tail_rank"),
               ("kl_to_gen0", "KL(generation 0 || mix), bits"),
               ("chao1", "Chao1 richness")]


def simulate_page(f, out):
    """The collapse simulation (cleanmix simulate): each metric per arm over generations, the mean
    over seeds with the seeds' range as a band."""
    g = f["simulate"]
    arm, gen = g["arm"][:], g["generation"][:]
    names = labels(g["arm"])
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    rows = []
    last = int(gen.max())
    for ax, (key, title) in zip(axes.flat, SIM_METRICS):
        v = g[key][:]
        for a in sorted(set(arm.tolist())):
            gens = np.arange(last + 1)
            per = [v[(arm == a) & (gen == k)] for k in gens]
            mean = np.array([x.mean() for x in per])
            ax.plot(gens, mean, label=names[a])
            ax.fill_between(gens, [x.min() for x in per], [x.max() for x in per], alpha=0.2)
        ax.set_title(title)
        ax.set_xlabel("generation")
        if key == "heldout_ppl":
            ax.set_yscale("log")
    axes.flat[0].legend()
    for a in sorted(set(arm.tolist())):
        sel = (arm == a) & (gen == last)
        cells = "".join(f"<td>{g[k][:][sel].mean():.4g}</td>" for k, _ in SIM_METRICS)
        rows.append(f"<tr><td style='text-align:left'>{html.escape(names[a])}</td>{cells}</tr>")
    head = "".join(f"<th>{html.escape(k)}</th>" for k, _ in SIM_METRICS)
    table = (f"<table><tr><th>arm (generation {last}, mean over {int(g.attrs['seeds'])} seeds)"
             f"</th>{head}</tr>{''.join(rows)}</table>")
    a = g.attrs
    model = a["model"].decode() if isinstance(a["model"], bytes) else a["model"]
    caption = (f"model {model}, Zipf s = {a['zipf_s']} over V = {a['vocab']}, "
               f"{a['tokens_per_generation']} tokens per generation, anchor share "
               f"{a['anchor_share']}, seed {a['seed']}")
    return save(fig, out, "simulate.png"), table, caption


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("h5")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with h5py.File(args.h5, "r") as f:
        if "simulate" in f and "docs" not in f:
            img, table, caption = simulate_page(f, args.out)
            figs = [("Collapse simulation: arms over generations", img, table)]
            header = html.escape(caption)
            return write_page(args, figs, header)
        figs = [("Signal distributions per provenance class", signal_distributions(f, args.out), ""),
                ("Rank-frequency (Zipf) curves", zipf(f, args.out), "")]
        alloc = allocation(f, args.out)
        if alloc:
            figs.append(("Allocation per source: available vs planned", alloc, ""))
        au = audit(f, args.out)
        if au:
            figs.append(("Batch entropy over the training order", au, ""))
        cl, table = classifier(f, args.out)
        if cl:
            figs.append(("Provenance classifier (held-out split)", cl, table))
        meta = dict(f.attrs)
        n_docs = f["docs/doc_id"].shape[0]
    header = (f"{n_docs} documents, cleanmix {meta['cleanmix_version'].decode()}, "
              f"{meta['n_ranks']} ranks, seed {meta['seed']}")
    return write_page(args, figs, header)


def write_page(args, figs, header):
    body = "".join(
        f"<section><h2>{html.escape(t)}</h2>{extra}<img src='{img}' alt='{html.escape(t)}'></section>"
        for t, img, extra in figs)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>cleanmix report</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}}
img{{max-width:100%;border:1px solid #ddd}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}</style></head><body>
<h1>cleanmix report</h1>
<p>{html.escape(os.path.abspath(args.h5))}: {header}</p>
{body}
<p id="image-status">images: not checked</p>
<script>
window.addEventListener("load", () => {{
  const imgs = [...document.images];
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  document.getElementById("image-status").textContent = `images loaded: ${{ok}}/${{imgs.length}}`;
}});
</script></body></html>"""
    with open(os.path.join(args.out, "index.html"), "w") as fh:
        fh.write(page)
    print(os.path.join(args.out, "index.html"))


if __name__ == "__main__":
    sys.exit(main())
