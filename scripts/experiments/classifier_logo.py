#!/usr/bin/python3
"""Offline leave-one-genre-out experiment behind the classifier's default features
(docs/contamination.md, "Why the hashed features are out of the default").

Usage: /usr/bin/python3 scripts/experiments/classifier_logo.py RUN.h5
RUN.h5 is a run of configs/sample.toml (all 13 features in /docs). For each genre it fits a
logistic regression (numpy, standardised, class-balanced, L2 0.01) on the other genres and
scores the genre, and prints pooled AUROC, TPR at 1%/5% FPR, and per-genre FP/TP at the
in-sample threshold, for: all 13 features with the run's NB features (leaky: their counts
include the left-out genre); the 11 non-NB features; the 11 plus NB features recomputed per
fold from the other genres only (a Python word hash approximating cleanmix's buckets, training
documents leave-one-out); and a topic-masked NB (function words and punctuation kept). Takes
about a minute.
"""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logo_common import *  # noqa: F401,F403 (the data and helpers)
def run(featmask, label, nb_mode='leaky', thr_mode='train'):
    allS, allY, rows = [], [], []
    for g in groups:
        te = L[genre[L]==g]; tr = L[genre[L]!=g]
        Xtr = X[tr][:,featmask]; Xte = X[te][:,featmask]
        if nb_mode=='honest':
            Xtr = np.hstack([Xtr, nb_feats(tr, tr)]); Xte = np.hstack([Xte, nb_feats(tr, te)])
        m = fit(Xtr, lab[tr])
        if thr_mode=='train':
            t = thr_at(m(Xtr)[lab[tr]==0], 0.01)
        else:  # nested: out-of-group scores of the training groups
            oos = []
            for g2 in sorted(set(genre[tr])):
                te2 = tr[genre[tr]==g2]; tr2 = tr[genre[tr]!=g2]
                if (lab[te2]==0).sum()==0: continue
                m2 = fit(X[tr2][:,featmask], lab[tr2], iters=1500)
                oos.append(m2(X[te2][:,featmask])[lab[te2]==0])
            t = thr_at(np.concatenate(oos), 0.01)
        s = m(Xte); y = lab[te]
        fp = ((s>=t)&(y==0)).sum(); nh=(y==0).sum(); tp=((s>=t)&(y==1)).sum(); ns=(y==1).sum()
        rows.append((g, nh, fp, ns, tp))
        allS.append(s); allY.append(y)
    S = np.concatenate(allS); Y = np.concatenate(allY)
    nh=sum(r[1] for r in rows); fp=sum(r[2] for r in rows); ns=sum(r[3] for r in rows); tp=sum(r[4] for r in rows)
    # pooled TPR at 1%/5% FPR of pooled out-of-group scores
    def tpr_at(fpr):
        t = thr_at(S[Y==0], fpr); return ((S>=t)&(Y==1)).sum()/max(1,(Y==1).sum())
    print(f"{label:40s} pooled AUROC {auroc(S,Y):.3f} FPR {fp/nh:.3f} recall {tp/ns:.3f} TPR@1% {tpr_at(0.01):.3f} TPR@5% {tpr_at(0.05):.3f}")
    print('   ', ' '.join(f"{g}:fp{fp}/{nh},tp{tp}/{ns}" for g,nh,fp,ns,tp in rows))

allm = np.ones(nf,bool)
run(allm, 'all 13 (NB leaky, as in-run)')
run(nonb, '11 non-NB')
run(nonb, '11 non-NB + honest NB', nb_mode='honest')

# --- topic-masked NB ("text distortion"): function words and punctuation kept, other words -> shape
FW = set("""a about above after again against all am an and any are as at be because been before being below between both but by
can could did do does doing down during each few for from further had has have having he her here hers herself him himself his how
i if in into is it its itself just me more most my myself no nor not now of off on once only or other our ours ourselves out over own
same she should so some such than that the their theirs them themselves then there these they this those through to too under until up
very was we were what when where which while who whom why will with would you your yours yourself yourselves shall may might must upon
also however thus therefore yet still even though although whether since unless here there one ones let us""".split())
def masked(t):
    out=[]
    for m in re.finditer(r"[A-Za-z]+|\d+|[^\sA-Za-z\d]", t):
        w=m.group(0); lw=w.lower()
        if lw in FW: out.append(lw)
        elif w[0].isdigit(): out.append('<d>')
        elif w[0].isalpha(): out.append('<C>' if w[0].isupper() else '<w>')
        else: out.append(w)
    return out
def mids(t, B):
    w = masked(t); res=[]
    for n in (1,2,3):
        res.append([zlib.crc32(' '.join(w[i:i+n]).encode()) % B for i in range(len(w)-n+1)])
    return res
mcache = {}
def mnb(train_idx, eval_idx, bits=16):
    B=1<<bits; C=np.ones((2,3,B)); trs=set(train_idx)
    for i in train_idx:
        r = mcache.setdefault(i, mids(text[i],B))
        for o in range(3): np.add.at(C[lab[i],o], r[o], 1)
    out=np.zeros((len(eval_idx),3))
    for k,i in enumerate(eval_idx):
        r = mcache.setdefault(i, mids(text[i],B))
        Cc = C
        if i in trs:  # leave-one-out
            Cc = C.copy()
            for o in range(3): np.add.at(Cc[lab[i],o], r[o], -1)
        for o in range(3):
            lr = np.log(Cc[1,o]/Cc[1,o].sum()) - np.log(Cc[0,o]/Cc[0,o].sum())
            out[k,o] = lr[r[o]].mean() if r[o] else 0
    return out
def run2(featmask, label, use_mnb=True):
    allS, allY, rows = [], [], []
    for g in groups:
        te = L[genre[L]==g]; tr = L[genre[L]!=g]
        Xtr = X[tr][:,featmask]; Xte = X[te][:,featmask]
        if use_mnb:
            Xtr = np.hstack([Xtr, mnb(tr,tr)]); Xte = np.hstack([Xte, mnb(tr,te)])
        m = fit(Xtr, lab[tr]); t = thr_at(m(Xtr)[lab[tr]==0], 0.01)
        s = m(Xte); y = lab[te]
        rows.append((g,(y==0).sum(),((s>=t)&(y==0)).sum(),(y==1).sum(),((s>=t)&(y==1)).sum()))
        allS.append(s); allY.append(y)
    S=np.concatenate(allS); Y=np.concatenate(allY)
    nh=sum(r[1] for r in rows); fp=sum(r[2] for r in rows); ns=sum(r[3] for r in rows); tp=sum(r[4] for r in rows)
    def tpr_at(fpr):
        t = thr_at(S[Y==0], fpr); return ((S>=t)&(Y==1)).sum()/max(1,(Y==1).sum())
    print(f"{label:40s} pooled AUROC {auroc(S,Y):.3f} FPR {fp/nh:.3f} recall {tp/ns:.3f} TPR@1% {tpr_at(0.01):.3f} TPR@5% {tpr_at(0.05):.3f}")
    print('   ', ' '.join(f"{g}:fp{fp}/{nh},tp{tp}/{ns}" for g,nh,fp,ns,tp in rows))
run2(nonb, '11 non-NB + masked NB 1-3 (LOO)')
run2(np.zeros(nf,bool), 'masked NB 1-3 only (LOO)')
