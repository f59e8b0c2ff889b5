"""Shared by the offline leave-one-genre-out experiments (scripts/experiments/classifier_*.py):
loads a run of configs/sample.toml with each document's genre and text from the input shards,
and provides the numpy logistic regression, thresholds and AUROC they use."""

import h5py, json, gzip, subprocess, numpy as np, re, sys, zlib, collections
f = h5py.File(sys.argv[1])
paths = [p.decode() for p in f['shards/path'][:]]
def lines(p):
    if p.endswith('.gz'): return gzip.open(p,'rt').read().split('\n')
    if p.endswith('.zst'): return subprocess.run(['zstd','-dc',p],capture_output=True,text=True).stdout.split('\n')
    return open(p).read().split('\n')
meta = {}
for si,p in enumerate(paths):
    for li,l in enumerate(lines(p)):
        try: d=json.loads(l)
        except Exception: continue
        if isinstance(d,dict): meta[(si,li+1)] = (d.get('genre'), d.get('text',''))
D = f['docs']
prov = D['provenance'][:]; src = D['source'][:]; shard = D['shard'][:]; line = D['line'][:]
feat_names = [n.decode() for n in f['classifier'].attrs['features']]
cols = []
for n in feat_names:
    if n.startswith('log2_'): cols.append(np.log2(D[n[5:]][:]))
    else: cols.append(D[n][:].astype(float))
X = np.stack(cols,1)
genre = np.array([meta.get((s,l),(None,''))[0] for s,l in zip(shard,line)], dtype=object)
text = [meta.get((s,l),(None,''))[1] for s,l in zip(shard,line)]
lab = np.full(len(prov), -1); lab[prov==0]=0; lab[prov==2]=1
print('labelled', (lab>=0).sum(), 'human', (lab==0).sum(), 'synth', (lab==1).sum())

def fit(X, y, l2=0.01, iters=3000, lr=0.5):
    mu = X.mean(0); sd = X.std(0); sd[sd==0]=1
    Z = (X-mu)/sd
    w = np.zeros(X.shape[1]); b = 0.0
    wpos = 0.5/ max(1,(y==1).sum()); wneg = 0.5/max(1,(y==0).sum())
    sw = np.where(y==1, wpos, wneg)
    for _ in range(iters):
        p = 1/(1+np.exp(-(Z@w+b)))
        g = (p-y)*sw
        w -= lr*(Z.T@g + l2*w); b -= lr*g.sum()
    return lambda Xn: 1/(1+np.exp(-(((Xn-mu)/sd)@w+b)))

def thr_at(scores_h, fpr):
    s = np.sort(scores_h)[::-1]; k = int(np.floor(fpr*len(s)))
    return s[k] + 1e-12 if k < len(s) else 0

def auroc(s, y):
    from itertools import product
    pos = s[y==1]; neg = s[y==0]
    if len(pos)==0 or len(neg)==0: return float('nan')
    r = (pos[:,None] > neg[None,:]).mean() + 0.5*(pos[:,None]==neg[None,:]).mean()
    return r

def nb_feats(train_idx, eval_idx, bits=14):
    # honest NB: counts from training docs only (python word hashing, an approximation)
    B = 1<<bits
    def toks(t): return re.findall(r"\w+", t.lower())
    def ids(t):
        w = toks(t); u = [zlib.crc32(x.encode()) % B for x in w]
        bi = [zlib.crc32((a+' '+c).encode()) % B for a,c in zip(w,w[1:])]
        return u, bi
    C = np.ones((2,2,B))
    cache = {}
    for i in train_idx:
        u,bi = cache.setdefault(i, ids(text[i]))
        np.add.at(C[lab[i],0], u, 1); np.add.at(C[lab[i],1], bi, 1)
    LR = np.log(C[1]/C[1].sum(1,keepdims=True)) - np.log(C[0]/C[0].sum(1,keepdims=True))
    out = np.zeros((len(eval_idx),2)); trs=set(train_idx)
    for k,i in enumerate(eval_idx):
        u,bi = cache.get(i) or ids(text[i])
        if i in trs:
            Cc = C.copy(); np.add.at(Cc[lab[i],0], u, -1); np.add.at(Cc[lab[i],1], bi, -1)
            LRi = np.log(Cc[1]/Cc[1].sum(1,keepdims=True)) - np.log(Cc[0]/Cc[0].sum(1,keepdims=True))
        else: LRi = LR
        out[k,0] = LRi[0][u].mean() if u else 0; out[k,1] = LRi[1][bi].mean() if bi else 0
    return out

L = np.where(lab>=0)[0]
groups = sorted(set(genre[L]))
nf = len(feat_names)
nonb = np.array([not n.startswith('nb_') for n in feat_names])
def tokenize(t): return re.findall(r"\w+|[^\w\s]", t.lower())
