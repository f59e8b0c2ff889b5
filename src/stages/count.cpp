#include "cleanmix/stages/count.hpp"

#include <xxhash.h>

#include <boost/serialization/string.hpp>
#include <boost/serialization/utility.hpp>
#include <boost/serialization/vector.hpp>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <tuple>

#include "cleanmix/comm/communicator.hpp"
#include "cleanmix/comm/records.hpp"
#include "cleanmix/core/archive.hpp"
#include "cleanmix/core/error.hpp"
#include "cleanmix/tokenize/words.hpp"

namespace cleanmix {
namespace {

/// Everything this rank counts, before the reduce (the shape of a checkpoint segment).
struct Local {
  std::vector<std::uint64_t> counts;
  LmCounts lm;
  LmCounts contrast;                 ///< empty without a contrast LM
  LmCounts refFold0, contrastFold0;  ///< fold-0 groups' counts (ClassifierSetup::lmFolds)
  NbCounts nb;
  std::uint64_t anchorDocs = 0, contrastDocs = 0;
  PieceTally tally;
  std::vector<ErrorRow> errors;
  std::vector<std::uint32_t> errorPiece;  ///< piece of each error (lines are piece-local)
  std::vector<BenchNgram> bench;
  std::vector<std::uint64_t> benchSkipped;
};

/// Count one batch: benchmark n-grams, NB training counts, LM n-grams, unigram buckets.
class BatchCounter {
 public:
  BatchCounter(const CountParams& p, const Corpus& corpus, const Tokenizer& tok,
               const ClassifierSetup& cls, const std::vector<int>& benchBit, Local& local)
      : _p(p),
        _corpus(corpus),
        _tok(tok),
        _cls(cls),
        _benchBit(benchBit),
        _l(local),
        _buckets(std::uint64_t{1} << p.vocabBits) {}

  void operator()(const TextBatch& b) {
    const std::size_t n = b.size();
    if (_docs.size() < n) _docs.resize(n);
#pragma omp parallel for schedule(dynamic, 8)
    for (std::size_t i = 0; i < n; ++i) _tok.tokenize(b.text(i), _docs[i], false);
    const std::uint64_t mask = _buckets - 1;
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint32_t si = _corpus.sourceIndexOfPiece(b.piece[i]);
      const auto& src = (*_corpus.sources)[si];
      if (src.role == Role::Benchmark) {
        std::vector<std::uint64_t> words;
        wordHashes(_docs[i].norm, words);
        if (!benchmarkNgrams(words, static_cast<std::uint32_t>(_p.decontam.ngram),
                             static_cast<std::uint32_t>(_p.decontam.minWords),
                             std::uint64_t{1} << _benchBit[si], _l.bench))
          ++_l.benchSkipped[si];
        continue;
      }
      if (const int cls = trainingLabel(src); _cls.fitNb && cls >= 0) {
        const std::string_view raw = b.text(i);
        if (!inHoldout(src.name, XXH3_64bits(raw.data(), raw.size()))) _l.nb.add(_docs[i].ids, cls);
      }
      const bool fold0 = !_l.refFold0.table.empty() && lmFoldOf(b.group(i)) == 0;
      if (src.role == Role::Anchor) {
        _l.lm.addDocument(_docs[i].ids);
        ++_l.anchorDocs;
        if (fold0) _l.refFold0.addDocument(_docs[i].ids);
      }
      if (!_l.contrast.table.empty() && trainingLabel(src) == 1) {
        _l.contrast.addDocument(_docs[i].ids);
        ++_l.contrastDocs;
        if (fold0) _l.contrastFold0.addDocument(_docs[i].ids);
      }
      std::uint64_t* row = _l.counts.data() + static_cast<std::size_t>(src.provenance) * _buckets;
      for (const std::uint64_t id : _docs[i].ids) ++row[id & mask];
    }
  }

 private:
  const CountParams& _p;
  const Corpus& _corpus;
  const Tokenizer& _tok;
  const ClassifierSetup& _cls;
  const std::vector<int>& _benchBit;
  Local& _l;
  std::uint64_t _buckets;
  std::vector<TokenizedDoc> _docs;
};

/// This run's own checkpoint segment: everything this rank counted, over `pieces`.
CountSegment segmentOf(const Local& l, const std::vector<std::uint32_t>& pieces, bool withNb) {
  CountSegment seg;
  seg.pieces = pieces;
  for (const auto p : pieces) {
    seg.lines.push_back(l.tally.lines[p]);
    seg.docs.push_back(l.tally.docs[p]);
    seg.errors.push_back(l.tally.errors[p]);
  }
  for (std::size_t e = 0; e < l.errors.size(); ++e) {
    seg.errPiece.push_back(l.errorPiece[e]);
    seg.errLine.push_back(l.errors[e].line);
    seg.errReasonText.insert(seg.errReasonText.end(), l.errors[e].reason.begin(),
                             l.errors[e].reason.end());
    seg.errReasonEnd.push_back(seg.errReasonText.size());
  }
  ckpt::sparsify(l.counts, seg.countIdx, seg.countVal);
  ckpt::sparsify(l.lm.table, seg.lmIdx, seg.lmVal);
  ckpt::sparsify(l.contrast.table, seg.contrastIdx, seg.contrastVal);
  ckpt::sparsify(l.refFold0.table, seg.refFold0Idx, seg.refFold0Val);
  ckpt::sparsify(l.contrastFold0.table, seg.contrastFold0Idx, seg.contrastFold0Val);
  if (withNb) ckpt::sparsify(l.nb.counts, seg.nbIdx, seg.nbVal);
  for (const auto& g : l.bench) {
    seg.benchKey.push_back(g.key);
    seg.benchSources.push_back(g.sources);
    seg.benchLen.push_back(g.length);
  }
  seg.benchSkipped = l.benchSkipped;
  seg.anchorDocs = {l.anchorDocs};
  seg.contrastDocs = {l.contrastDocs};
  return seg;
}

/// Segments of earlier runs cover sets of pieces. Every rank verifies a strided share (checksum
/// and columns) and keeps what it verified; the accepted segments are disjoint (name order
/// decides). Marks their pieces in `counted`; returns this rank's verified segments.
std::vector<CountSegment> restoreSegments(const Communicator& comm, const Corpus& corpus,
                                          const ckpt::Store& store,
                                          std::vector<std::uint8_t>& counted,
                                          std::uint64_t& restoredPieces) {
  std::vector<std::pair<std::string, ckpt::Sidecar>> listed;
  unpackBytes(rootThenShare(comm, [&] { return packBytes(listCountSegments(store)); }), listed);
  std::vector<std::uint64_t> ok(listed.size(), 0);
  std::vector<std::optional<CountSegment>> mine(listed.size());
  for (std::size_t k = static_cast<std::size_t>(comm.rank()); k < listed.size();
       k += static_cast<std::size_t>(comm.size())) {
    std::string why;
    mine[k] = readCountSegment(store, listed[k].first, why);
    if (mine[k]) {
      ok[k] = 1;
      for (const auto p : mine[k]->pieces)
        if (p >= corpus.table.pieces.size()) ok[k] = 0;
    } else {
      fmt::print(stderr, "[cleanmix] rank {}: count checkpoint {} ignored: {}\n", comm.rank(),
                 listed[k].first, why);
    }
  }
  comm.allreduceSum(std::span<std::uint64_t>(ok));
  std::vector<CountSegment> restored;
  restoredPieces = 0;
  for (std::size_t k = 0; k < listed.size(); ++k) {
    if (!ok[k]) continue;
    bool disjoint = true;
    for (const auto p : listed[k].second.pieces) disjoint &= counted[p] == 0;
    if (!disjoint) continue;
    for (const auto p : listed[k].second.pieces) counted[p] = 1;
    restoredPieces += listed[k].second.pieces.size();
    if (mine[k]) restored.push_back(std::move(*mine[k]));
  }
  if (comm.isRoot())
    fmt::print(stderr, "[cleanmix] --resume: count stage restores {} of {} pieces from {}\n",
               restoredPieces, corpus.table.pieces.size(), (store.dir() / "count").string());
  return restored;
}

/// Add restored segments: integers add; quarantine rows go to the rank owning their piece now,
/// and every rank's rows end in input order, as an uninterrupted run lists them. Collective.
void mergeRestored(const Communicator& comm, const Corpus& corpus,
                   std::vector<CountSegment>& restored, bool withNb, Local& l) {
  std::vector<std::vector<QuarantineRecord>> errOut(comm.size());
  for (auto& seg : restored) {
    ckpt::addSparse(l.counts, seg.countIdx, seg.countVal, "count checkpoint unigram counts");
    ckpt::addSparse(l.lm.table, seg.lmIdx, seg.lmVal, "count checkpoint LM counts");
    ckpt::addSparse(l.contrast.table, seg.contrastIdx, seg.contrastVal,
                    "count checkpoint contrast LM counts");
    ckpt::addSparse(l.refFold0.table, seg.refFold0Idx, seg.refFold0Val,
                    "count checkpoint fold-0 LM counts");
    ckpt::addSparse(l.contrastFold0.table, seg.contrastFold0Idx, seg.contrastFold0Val,
                    "count checkpoint fold-0 contrast LM counts");
    if (withNb) ckpt::addSparse(l.nb.counts, seg.nbIdx, seg.nbVal, "count checkpoint NB counts");
    for (std::size_t k = 0; k < seg.pieces.size(); ++k) {
      l.tally.lines[seg.pieces[k]] += seg.lines[k];
      l.tally.docs[seg.pieces[k]] += seg.docs[k];
      l.tally.errors[seg.pieces[k]] += seg.errors[k];
    }
    for (std::size_t k = 0; k < seg.benchKey.size(); ++k)
      l.bench.push_back({seg.benchKey[k], seg.benchSources[k], seg.benchLen[k]});
    for (std::size_t k = 0; k < l.benchSkipped.size() && k < seg.benchSkipped.size(); ++k)
      l.benchSkipped[k] += seg.benchSkipped[k];
    l.anchorDocs += seg.anchorDocs[0];
    l.contrastDocs += seg.contrastDocs[0];
    for (std::size_t e = 0; e < seg.errPiece.size(); ++e) {
      const std::uint32_t p = seg.errPiece[e];
      const auto& first = corpus.assign.firstPiece;
      const int owner =
          static_cast<int>(std::upper_bound(first.begin(), first.end(), p) - first.begin() - 1);
      const std::uint64_t from = e ? seg.errReasonEnd[e - 1] : 0, to = seg.errReasonEnd[e];
      errOut[owner].push_back(
          {p, seg.errLine[e],
           std::string(seg.errReasonText.begin() + static_cast<std::ptrdiff_t>(from),
                       seg.errReasonText.begin() + static_cast<std::ptrdiff_t>(to))});
    }
  }
  restored = {};
  for (auto& r : exchangeRecords(comm, errOut)) {
    l.errors.push_back({corpus.table.pieces[r.piece].shard, r.line, std::move(r.reason)});
    l.errorPiece.push_back(r.piece);
  }
  std::vector<std::size_t> order(l.errors.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return std::tie(l.errorPiece[a], l.errors[a].line) <
           std::tie(l.errorPiece[b], l.errors[b].line);
  });
  std::vector<ErrorRow> e2;
  std::vector<std::uint32_t> p2;
  for (const auto k : order) {
    e2.push_back(std::move(l.errors[k]));
    p2.push_back(l.errorPiece[k]);
  }
  l.errors = std::move(e2);
  l.errorPiece = std::move(p2);
}

/// The reduce: integer histograms, tallies, line offsets, the benchmark index. Collective.
CountResult reduce(const Communicator& comm, const Corpus& corpus, const CountParams& p,
                   bool withNb, std::vector<int> benchBit, Local& l) {
  const std::size_t nsrc = corpus.sources->size();
  const std::uint64_t nb = std::uint64_t{1} << p.vocabBits;
  CountResult r;
  comm.allreduceSum(std::span<std::uint64_t>(l.counts));
  comm.allreduceSum(std::span<std::uint64_t>(l.lm.table));
  comm.allreduceSum(std::span<std::uint64_t>(l.contrast.table));
  comm.allreduceSum(std::span<std::uint64_t>(l.refFold0.table));
  comm.allreduceSum(std::span<std::uint64_t>(l.contrastFold0.table));
  if (withNb) comm.allreduceSum(std::span<std::uint64_t>(l.nb.counts));
  l.nb.computeTotals();
  r.anchorDocs = comm.allreduceSum(l.anchorDocs);
  r.contrastDocs = comm.allreduceSum(l.contrastDocs);
  comm.allreduceSum(std::span<std::uint64_t>(l.tally.lines));
  comm.allreduceSum(std::span<std::uint64_t>(l.tally.docs));
  comm.allreduceSum(std::span<std::uint64_t>(l.tally.errors));
  // Line offset of each piece within its shard: lines of the earlier pieces of the same shard.
  const auto& pieces = corpus.table.pieces;
  r.lineBase.assign(pieces.size(), 0);
  for (std::size_t k = 1; k < pieces.size(); ++k)
    if (pieces[k].shard == pieces[k - 1].shard)
      r.lineBase[k] = r.lineBase[k - 1] + l.tally.lines[k - 1];
  for (std::size_t e = 0; e < l.errors.size(); ++e) l.errors[e].line += r.lineBase[l.errorPiece[e]];
  // Every rank gets every benchmark n-gram (benchmarks are small next to the corpus).
  const std::vector<BenchNgram> benchAll =
      comm.alltoallv(std::vector<std::vector<BenchNgram>>(comm.size(), l.bench));
  l.bench = {};
  comm.allreduceSum(std::span<std::uint64_t>(l.benchSkipped));
  r.benchNgrams.assign(nsrc, 0);
  for (const auto& g : benchAll)
    for (std::size_t s = 0; s < nsrc; ++s)
      if (benchBit[s] >= 0 && (g.sources >> benchBit[s] & 1)) ++r.benchNgrams[s];
  r.bench = BenchmarkIndex(benchAll);
  r.decontam = {p.decontam.ngram, p.decontam.minWords, r.bench.size(), 0};
  r.unigram.assign(nb, 0);
  for (int c = 0; c < kNumProvenance; ++c)
    for (std::uint64_t b = 0; b < nb; ++b) r.unigram[b] += l.counts[c * nb + b];
  r.counts = std::move(l.counts);
  r.lm = std::move(l.lm);
  r.contrast = std::move(l.contrast);
  r.refFold0 = std::move(l.refFold0);
  r.contrastFold0 = std::move(l.contrastFold0);
  r.nb = std::move(l.nb);
  r.tally = std::move(l.tally);
  r.errors = std::move(l.errors);
  r.benchBit = std::move(benchBit);
  r.benchSkipped = std::move(l.benchSkipped);
  return r;
}

}  // namespace

CountResult runCount(const Communicator& comm, const CountParams& params, const Corpus& corpus,
                     const Tokenizer& tokenizer, const ClassifierSetup& classifier,
                     const StageEnv& env) {
  const std::size_t nsrc = corpus.sources->size();
  LmParams lmParams = params.lm;
  lmParams.unigramBits = params.vocabBits;
  Local l;
  l.counts.assign(kNumProvenance * (std::size_t{1} << params.vocabBits), 0);
  l.lm = LmCounts(lmParams);
  if (lmParams.contrastTableBits > 0 && classifier.hasSyntheticLabels) {
    LmParams c = lmParams;
    c.tableBits = lmParams.contrastTableBits;
    l.contrast = LmCounts(c);
    if (classifier.lmFolds) l.contrastFold0 = LmCounts(c);
  }
  if (classifier.lmFolds) l.refFold0 = LmCounts(lmParams);
  l.nb = classifier.initialNb();
  l.tally = PieceTally(corpus.table.pieces.size());
  l.benchSkipped.assign(nsrc, 0);
  if (comm.isRoot())
    fmt::print(stderr,
               "[cleanmix] reference LM: order 3, tables of 2^{} + 2 x 2^{} counters, {:.1f} MB "
               "per rank\n",
               params.vocabBits, params.lm.tableBits, static_cast<double>(l.lm.bytes()) / 1e6);
  if (comm.isRoot() && !l.contrast.table.empty())
    fmt::print(stderr,
               "[cleanmix] contrast LM (synthetic_known sources): tables of 2^{} + 2 x 2^{} "
               "counters, {:.1f} MB per rank\n",
               params.vocabBits, lmParams.contrastTableBits,
               static_cast<double>(l.contrast.bytes()) / 1e6);
  if (comm.isRoot() && !l.refFold0.table.empty())
    fmt::print(stderr,
               "[cleanmix] classifier.cv_lm = folds: fold-0 copies of the LM tables, {:.1f} MB "
               "per rank, for the leave-one-group-out evaluation\n",
               static_cast<double>(l.refFold0.bytes() + l.contrastFold0.bytes()) / 1e6);
  // Benchmark sources get one bit each (the config allows at most 64).
  std::vector<int> benchBit(nsrc, -1);
  for (std::size_t s = 0, k = 0; s < nsrc; ++s)
    if ((*corpus.sources)[s].role == Role::Benchmark) benchBit[s] = static_cast<int>(k++);

  const ckpt::Store& store = env.store;
  std::vector<std::uint8_t> counted(corpus.table.pieces.size(), 0);
  std::vector<CountSegment> restored;
  std::uint64_t restoredPieces = 0;
  if (corpus.resumed) restored = restoreSegments(comm, corpus, store, counted, restoredPieces);

  // This run's own segment, rewritten every checkpoint_seconds, at the end of the rank's range
  // and on a stop request.
  std::vector<std::uint32_t> countedNow;
  std::size_t snapshotted = 0;
  auto lastSnapshot = std::chrono::steady_clock::now();
  auto snapshot = [&] {
    if (!store.enabled() || countedNow.empty() || snapshotted == countedNow.size()) return;
    CountSegment seg = segmentOf(l, countedNow, classifier.fitNb);
    writeCountSegment(store, countSegmentName(countedNow.front()), seg);
    snapshotted = countedNow.size();
    lastSnapshot = std::chrono::steady_clock::now();
  };
  PieceHooks hooks;
  hooks.stop = [&] { return store.enabled() && env.stopSignal() != 0; };
  hooks.skip = [&](std::uint32_t p) { return counted[p] != 0; };
  hooks.done = [&](std::uint32_t p) {
    countedNow.push_back(p);
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - lastSnapshot).count() >=
        params.checkpointSeconds)
      snapshot();
  };
  BatchCounter countBatch(params, corpus, tokenizer, classifier, benchBit, l);
  env.progress.start("count", corpus.end - corpus.begin, corpus.myBytes);
  readPieces(
      corpus, params.ingest, params.batchBytes, &l.tally, env.progress,
      [&](const TextBatch& b) { countBatch(b); },
      [&](std::uint32_t p, std::uint64_t line, const std::string& reason) {
        l.errors.push_back({corpus.table.pieces[p].shard, line, reason});
        l.errorPiece.push_back(p);
      },
      &hooks);
  env.progress.finish();
  snapshot();
  env.timer.lap("count");  // before the first collective: excludes waiting for other ranks
  if (const int sig = stopAgreed(comm, hooks.stopped, env)) {
    const std::uint64_t done = comm.allreduceSum<std::uint64_t>(countedNow.size());
    if (comm.isRoot())
      fmt::print(stderr,
                 "[cleanmix] stop requested ({}) in the count stage: {} + {} of {} pieces "
                 "checkpointed in {}; exiting with status {} (rerun with --resume, any rank "
                 "count)\n",
                 ckpt::signalName(sig), restoredPieces, done, corpus.table.pieces.size(),
                 store.dir().string(), ckpt::kExitStopped);
    CountResult r;
    r.stopped = true;
    return r;
  }
  if (corpus.resumed) mergeRestored(comm, corpus, restored, classifier.fitNb, l);
  return reduce(comm, corpus, params, classifier.fitNb, std::move(benchBit), l);
}

std::vector<std::uint64_t> referenceUnigram(const CountResult& counts) {
  const LmCounts& lm = counts.lm;
  std::vector<std::uint64_t> ref(lm.table.begin(), lm.table.begin() + lm.uniSize());
  ref[lm::uniIndex(kBoundaryId, lm.uniSize() - 1)] -= counts.anchorDocs;
  return ref;
}

// ---- checkpoint records -------------------------------------------------------------------

std::string countSegmentName(std::uint32_t firstPiece) {
  return fmt::format("s{:08d}.h5", firstPiece);
}

void writeCountSegment(const ckpt::Store& store, const std::string& name, CountSegment& seg) {
  std::uint64_t docs = 0;
  for (auto d : seg.docs) docs += d;
  store.write(
      "count", name,
      [&](const h5::SerialFile& f) {
        seg.visit([&](const char* n, const auto& v) { f.put(n, v); });
      },
      seg.pieces, docs);
}

std::vector<std::pair<std::string, ckpt::Sidecar>> listCountSegments(const ckpt::Store& store) {
  return store.list("count");
}

std::optional<CountSegment> readCountSegment(const ckpt::Store& store, const std::string& name,
                                             std::string& why) {
  auto opened = store.open("count", name, why);
  if (!opened) return std::nullopt;
  CountSegment seg;
  seg.visit([&](const char* n, auto& v) { opened->first.get(n, v); });
  const std::size_t np = seg.pieces.size();
  if (seg.pieces != opened->second.pieces || seg.lines.size() != np || seg.docs.size() != np ||
      seg.errors.size() != np || seg.errLine.size() != seg.errPiece.size() ||
      seg.errReasonEnd.size() != seg.errPiece.size() || seg.anchorDocs.size() != 1 ||
      seg.contrastDocs.size() != 1) {
    why = "inconsistent columns";
    return std::nullopt;
  }
  return seg;
}

}  // namespace cleanmix
