#!/usr/bin/python3
"""Offline leave-one-genre-out experiment: honest per-fold trigram LMs (docs/contamination.md).

Usage: /usr/bin/python3 scripts/experiments/classifier_lm.py RUN.h5   (a run of configs/sample.toml)
For each left-out genre it builds two interpolated trigram LMs (lambdas 0.1/0.3/0.6, like
cleanmix's): one from the other genres' human documents and one from their synthetic ones,
with training documents scored leave-one-out. It then computes per-document surprisal-shape
features under each LM (mean, sd, top-quartile mean, shares of tokens below 2 bits, below 6
bits and above 14 bits) and their difference, and fits the numpy logistic regression of
logo_common.py. Takes several minutes.
"""
import collections, math, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logo_common import *  # noqa: F401,F403 (the data and helpers)
W = [tokenize(t) for t in text]
def counts(idx):
    c1=collections.Counter(); c2=collections.Counter(); c3=collections.Counter(); n=0; ndoc=0
    for i in idx:
        w=['<s>','<s>']+W[i]+['</s>']
        for k in range(2,len(w)):
            c1[w[k]]+=1; c2[(w[k-1],w[k])]+=1; c3[(w[k-2],w[k-1],w[k])]+=1
        c1['<s>']+=1; c2[('<s>','<s>')]+=1; ndoc+=1  # context (<s>,<s>) count = docs
        n+=len(w)-2
    return c1,c2,c3,n
def own(i):
    return counts([i])
def surprisals(i, C, minus=None, V=200000):
    c1,c2,c3,n=C
    if minus: m1,m2,m3,mn=minus
    else: m1=m2=m3={}; mn=0
    g=lambda c,m,k: c.get(k,0)-m.get(k,0)
    w=['<s>','<s>']+W[i]+['</s>']; N=n-mn; out=[]
    for k in range(2,len(w)):
        u,v,x=w[k-2],w[k-1],w[k]
        cuv=g(c2,m2,(u,v)); cv=g(c1,m1,v); 
        p3=g(c3,m3,(u,v,x))/cuv if cuv>0 else 0
        p2=g(c2,m2,(v,x))/cv if cv>0 else 0
        p1=(g(c1,m1,x)+1)/(N+V)
        p=0.1*p3+0.3*p2+0.6*p1 if cuv>0 and cv>0 else (0.3/0.9*p2+0.6/0.9*p1 if cv>0 else p1)
        out.append(-math.log2(p))
    return np.array(out)
def shape(s):
    q=np.sort(s)
    return [s.mean(), s.std(), q[int(0.75*len(q)):].mean(), (s<2).mean(), (s<6).mean(), (s>14).mean()]
NAMES=['mean','sd','topq','lt2','lt6','gt14']
def lm_feats(train_idx, eval_idx):
    hum=[i for i in train_idx if lab[i]==0]; syn=[i for i in train_idx if lab[i]==1]
    A=counts(hum); S=counts(syn); trs=set(train_idx)
    out=[]
    for i in eval_idx:
        mA = own(i) if (i in trs and lab[i]==0) else None
        mS = own(i) if (i in trs and lab[i]==1) else None
        sa=surprisals(i,A,mA); ss=surprisals(i,S,mS)
        fa=shape(sa); fs=shape(ss)
        out.append(fa+fs+[fa[0]-fs[0], (sa-ss).std()])
    return np.array(out)
def runlm(featmask, label, use_lm=True, lm_cols=None):
    allS, allY, rows = [], [], []
    for g in groups:
        te = L[genre[L]==g]; tr = L[genre[L]!=g]
        Xtr = X[tr][:,featmask]; Xte = X[te][:,featmask]
        if use_lm:
            Ftr=lm_feats(tr,tr); Fte=lm_feats(tr,te)
            if lm_cols is not None: Ftr=Ftr[:,lm_cols]; Fte=Fte[:,lm_cols]
            Xtr=np.hstack([Xtr,Ftr]); Xte=np.hstack([Xte,Fte])
        m = fit(Xtr, lab[tr]); t = thr_at(m(Xtr)[lab[tr]==0], 0.01)
        s = m(Xte); y = lab[te]
        rows.append((g,(y==0).sum(),((s>=t)&(y==0)).sum(),(y==1).sum(),((s>=t)&(y==1)).sum()))
        allS.append(s); allY.append(y)
    S=np.concatenate(allS); Y=np.concatenate(allY)
    nh=sum(r[1] for r in rows); fp=sum(r[2] for r in rows); ns=sum(r[3] for r in rows); tp=sum(r[4] for r in rows)
    def tpr_at(fpr):
        t = thr_at(S[Y==0], fpr); return ((S>=t)&(Y==1)).sum()/max(1,(Y==1).sum())
    print(f"{label:44s} AUROC {auroc(S,Y):.3f} FPR {fp/nh:.3f} recall {tp/ns:.3f} TPR@1% {tpr_at(0.01):.3f} TPR@5% {tpr_at(0.05):.3f}", flush=True)
    print('   ', ' '.join(f"{g}:fp{fp}/{nh},tp{tp}/{ns}" for g,nh,fp,ns,tp in rows), flush=True)
# drop ref_ppl (leaky anchor LM) when using honest LMs
noppl = nonb & np.array([n!='log2_ref_ppl' and n!='sent_surprisal_sd' for n in feat_names])
runlm(noppl, '9 (no ref LM, no NB) + honest 2-LM feats')
runlm(np.zeros(nf,bool), 'honest 2-LM feats only')
runlm(np.zeros(nf,bool), 'ratio only', lm_cols=[12,13])
runlm(noppl, '9 + ratio', lm_cols=[12,13])
