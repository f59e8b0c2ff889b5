#include "cleanmix/stages/score.hpp"

#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <type_traits>

#include "cleanmix/comm/communicator.hpp"
#include "cleanmix/comm/records.hpp"
#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>

#include "cleanmix/core/archive.hpp"
#include "cleanmix/contam/dedup.hpp"
#include "cleanmix/core/error.hpp"
#include "cleanmix/tokenize/words.hpp"

namespace cleanmix {
namespace {

/// zstd level of compression_ratio: 1 runs at 1.4x level 3's speed and moves the sample's
/// ratios by 0.5% on average (docs/signals.md).
constexpr int kCompressionLevel = 1;

/// Per-document host work of a batch besides tokenizing: the zstd ratio, the NB text features,
/// decontamination matches and the exact-duplicate key.
struct HostWork {
  const BenchmarkIndex* bench = nullptr;
  const NbCounts* nb = nullptr;
  std::vector<std::uint8_t> isBenchmark;  // in: benchmark documents skip decontam and dedup
  std::vector<std::int8_t> ownClass;      // in: NB leave-one-out class of training documents, or -1
  std::vector<double> compression, nbUni, nbBi;
  std::vector<std::uint32_t> contaminated;
  std::vector<std::uint64_t> benchSources, exactKey;

  /// Tokenize (full mode) and do the host work for every document, on the host threads (never
  /// Kokkos inside OpenMP).
  void run(const Tokenizer& tok, const TextBatch& batch, std::vector<TokenizedDoc>& docs) {
    const std::size_t n = batch.size();
    if (docs.size() < n) docs.resize(n);
    compression.assign(n, 0.0);
    contaminated.assign(n, 0);
    benchSources.assign(n, 0);
    exactKey.assign(n, 0);
    nbUni.assign(n, 0.0);
    nbBi.assign(n, 0.0);
#pragma omp parallel
    {
      ZSTD_CCtx* cctx = ZSTD_createCCtx();
      std::string zbuf;
      std::vector<std::uint64_t> scratch;
#pragma omp for schedule(dynamic, 8)
      for (std::size_t i = 0; i < n; ++i) {
        tok.tokenize(batch.text(i), docs[i], true);
        const std::string& t = docs[i].norm;
        zbuf.resize(ZSTD_compressBound(t.size()));
        const std::size_t z = ZSTD_compressCCtx(cctx, zbuf.data(), zbuf.size(), t.data(), t.size(),
                                                kCompressionLevel);
        compression[i] =
            ZSTD_isError(z) ? 0.0 : static_cast<double>(t.size()) / static_cast<double>(z);
        if (nb) nbFeatures(*nb, docs[i].ids, ownClass[i], nbUni[i], nbBi[i]);
        if (isBenchmark[i]) continue;
        wordHashes(t, docs[i].words);
        if (bench) contaminated[i] = bench->match(docs[i].words, benchSources[i], scratch);
        exactKey[i] = (XXH3_64bits(t.data(), t.size()) ^ 0xE7AC7E57ull) | 1;
      }
      ZSTD_freeCCtx(cctx);
    }
  }
};

/// Scores batches into the rows of the piece being scored.
class BatchScorer {
 public:
  BatchScorer(const Corpus& corpus, const Tokenizer& tok, const CountResult& counts,
              const ClassifierSetup& cls, SignalScorer& kernel)
      : _corpus(corpus),
        _tok(tok),
        _counts(counts),
        _cls(cls),
        _kernel(kernel),
        _extraTokens(tok.extraTokens()) {
    if (cls.active) _work.nb = &counts.nb;
    _work.bench = counts.bench.empty() ? nullptr : &counts.bench;
  }

  void operator()(const TextBatch& b, ScoreRows& cur) {
    labelAndHoldout(b, cur);
    _work.run(_tok, b, _docs);
    _in.clear();
    DocRows& d = cur.d;
    for (std::size_t i = 0; i < b.size(); ++i) {
      const TokenizedDoc& td = _docs[i];
      const Piece& piece = _corpus.table.pieces[b.piece[i]];
      const std::uint32_t si = _corpus.sourceIndexOfPiece(b.piece[i]);
      const auto& src = (*_corpus.sources)[si];
      std::uint8_t loo = 0;
      if (src.role == Role::Anchor && _counts.anchorDocs > 0) loo |= kLooReference;
      const int cls = trainingLabel(src);
      if (cls == 1 && _counts.anchorDocs > 0 && _counts.contrastDocs > 0) loo |= kLooContrast;
      if (cls >= 0 && _folds) loo |= kFoldScore | (lmFoldOf(b.group(i)) ? kFold1 : 0);
      _in.append(td.ids, td.lens, td.sentLens, td.lineHashes, loo, td.words);
      // The registry's Reader, Tokenizer and Host columns.
      d.source.push_back(static_cast<std::uint16_t>(si));
      d.shard.push_back(piece.shard);
      d.line.push_back(_counts.lineBase[b.piece[i]] + b.localLine[i]);
      d.provenance.push_back(static_cast<std::uint8_t>(src.provenance));
      d.group.push_back(d.groupIndex(b.group(i)));
      d.nBytes.push_back(td.norm.size());
      d.nTokens.push_back(td.ids.size() + _extraTokens);  // + the appended EOD
      d.nSentences.push_back(static_cast<std::uint32_t>(td.sentLens.size()));
      d.utf8Replaced.push_back(b.replaced[i] + td.replaced);
      d.compressionRatio.push_back(_work.compression[i]);
      d.contaminated.push_back(_work.contaminated[i]);
      d.nbUnigramLlr.push_back(_work.nbUni[i]);
      d.nbBigramLlr.push_back(_work.nbBi[i]);
      cur.exactKeys.push_back(_work.exactKey[i]);
      cur.provRank.push_back(provenanceRank(src.provenance));
      cur.participate.push_back(src.role == Role::Benchmark ? 0 : 1);
      for (int k = 0; k < 64; ++k)
        if (_work.benchSources[i] >> k & 1) ++cur.benchDirty[k];
    }
    // The registry's Kernel columns.
    _kernel.score(_in, _out);
    d.append(_out, [](const ColumnInfo& c) { return c.stage == ColumnStage::Kernel; });
    cur.bandKeys.insert(cur.bandKeys.end(), _out.bandKeys.begin(), _out.bandKeys.end());
    if (_folds) {
      constexpr auto kPer = static_cast<std::size_t>(kNumLmFolds) * kNumLmColumns;
      for (std::size_t i = 0; i < b.size(); ++i)
        if (_in.loo[i] & kFoldScore)
          cur.foldLm.insert(cur.foldLm.end(), _out.foldLm.begin() + i * kPer,
                            _out.foldLm.begin() + (i + 1) * kPer);
    }
    if (_counts.anchorDocs > 0)
      for (std::size_t i = 0; i < b.size(); ++i)
        if (_in.loo[i] & kLooReference) {
          const double tokens = static_cast<double>(_docs[i].ids.size() + 1);
          cur.looBitsMicro += std::llround(std::log2(_out.refPpl[i]) * tokens * 1e6);
          cur.looTokens += _docs[i].ids.size() + 1;
        }
  }

 private:
  /// The classifier's label (0/1, 255 unlabelled) and hold-out flag of every document; NB
  /// training documents are scored leave-one-out.
  void labelAndHoldout(const TextBatch& b, ScoreRows& cur) {
    _folds = _cls.lmFolds && !_counts.refFold0.table.empty() && _counts.anchorDocs > 0;
    _work.isBenchmark.resize(b.size());
    _work.ownClass.assign(b.size(), -1);
    for (std::size_t i = 0; i < b.size(); ++i) {
      const auto& src = _corpus.sourceOfPiece(b.piece[i]);
      _work.isBenchmark[i] = src.role == Role::Benchmark;
      const int cls = trainingLabel(src);
      const std::string_view raw = b.text(i);
      const bool holdout = inHoldout(src.name, XXH3_64bits(raw.data(), raw.size()));
      cur.label.push_back(cls < 0 ? 255 : static_cast<std::uint8_t>(cls));
      cur.holdout.push_back(holdout ? 1 : 0);
      if (_cls.fitNb && cls >= 0 && !holdout) _work.ownClass[i] = static_cast<std::int8_t>(cls);
    }
  }

  const Corpus& _corpus;
  const Tokenizer& _tok;
  const CountResult& _counts;
  const ClassifierSetup& _cls;
  SignalScorer& _kernel;
  std::uint64_t _extraTokens;  ///< tokens a trainer sees beyond the ids (the EOD)
  HostWork _work;
  bool _folds = false;  ///< labelled documents are also scored under the fold LMs
  std::vector<TokenizedDoc> _docs;
  BatchInput _in;
  BatchOutput _out;
};

}  // namespace

void ScoreRows::append(ScoreRows& o) {
  // o's group indices refer to o's names: map them to ours.
  std::vector<std::uint32_t> toOurs;
  toOurs.reserve(o.d.groupNames.size());
  for (const auto& name : o.d.groupNames) toOurs.push_back(d.groupIndex(name));
  for (auto& g : o.d.group) g = toOurs.at(g);
  std::vector<void*> from;
  o.visit([&](const char*, auto& v) { from.push_back(&v); });
  std::size_t k = 0;
  visit([&](const char*, auto& v) {
    using V = std::remove_reference_t<decltype(v)>;
    const V& src = *static_cast<V*>(from[k++]);
    v.insert(v.end(), src.begin(), src.end());
  });
  for (std::size_t b = 0; b < benchDirty.size(); ++b) benchDirty[b] += o.benchDirty[b];
  looBitsMicro += o.looBitsMicro;
  looTokens += o.looTokens;
}

void ScoreRows::reserve(std::size_t docs, std::size_t bands) {
  visit([&](const char* name, auto& v) {
    const std::string_view n = name;
    if (n == "fold_lm") return;  // labelled documents only
    v.reserve(n == "band_keys" ? docs * bands : docs);
  });
}

void agreeGroups(const Communicator& comm, DocRows& d) {
  const auto all = comm.gatherBytes(packBytes(d.groupNames));
  std::vector<std::string> names;
  unpackBytes(rootThenShare(comm,
                            [&] {
                              std::set<std::string> u;
                              for (const auto& bytes : all) {
                                std::vector<std::string> v;
                                unpackBytes(bytes, v);
                                u.insert(v.begin(), v.end());
                              }
                              return packBytes(std::vector<std::string>(u.begin(), u.end()));
                            }),
              names);
  std::vector<std::uint32_t> toGlobal;
  for (const auto& n : d.groupNames)
    toGlobal.push_back(static_cast<std::uint32_t>(std::lower_bound(names.begin(), names.end(), n) -
                                                  names.begin()));
  for (auto& g : d.group) g = toGlobal.at(g);
  d.groupNames = std::move(names);
}

ScoreResult runScore(const Communicator& comm, const ScoreParams& params,
                     const IngestParams& ingest, const std::optional<MinHashParams>& minHash,
                     const Corpus& corpus, const Tokenizer& tokenizer, const CountResult& counts,
                     const ClassifierSetup& classifier, const StageEnv& env) {
  auto kernel = makeSignalScorer(params.backend);
  kernel->setUnigram(counts.unigram);
  if (counts.anchorDocs > 0) kernel->setLm(counts.lm);
  if (counts.anchorDocs > 0 && counts.contrastDocs > 0) kernel->setContrastLm(counts.contrast);
  if (counts.anchorDocs > 0 && classifier.lmFolds && !counts.refFold0.table.empty())
    kernel->setFoldLms(counts.refFold0, counts.contrastFold0);
  if (minHash) kernel->setMinHash(*minHash);
  BatchScorer scoreBatch(corpus, tokenizer, counts, classifier, *kernel);

  // Rows of the piece being scored (checkpointed when it is done) and of the rank so far.
  ScoreResult r;
  r.backend = kernel->backend();
  std::uint64_t myDocs = 0;  // known from the count stage
  for (std::uint32_t p = corpus.begin; p < corpus.end; ++p) myDocs += counts.tally.docs[p];
  r.rows.reserve(myDocs, minHash ? static_cast<std::size_t>(minHash->bands) : 0);
  ScoreRows cur;
  std::uint64_t restored = 0, scoredNow = 0;
  const ckpt::Store& store = env.store;
  PieceHooks hooks;
  hooks.stop = [&] { return store.enabled() && env.stopSignal() != 0; };
  hooks.skip = [&](std::uint32_t p) {
    if (!corpus.resumed) return false;
    auto rows = readScorePiece(store, p, counts.tally.docs[p]);
    if (!rows) return false;
    r.rows.append(*rows);
    ++restored;
    return true;
  };
  hooks.done = [&](std::uint32_t p) {
    if (store.enabled()) writeScorePiece(store, p, cur);
    r.rows.append(cur);
    cur.clear();
    ++scoredNow;
  };
  env.progress.start("score", corpus.end - corpus.begin, corpus.myBytes);
  readPieces(
      corpus, ingest, params.batchBytes, nullptr, env.progress,
      [&](const TextBatch& b) { scoreBatch(b, cur); },
      [](std::uint32_t, std::uint64_t, const std::string&) {}, &hooks);
  env.progress.finish();
  env.timer.lap("score");  // before the stop agreement: waiting counts in the next phase
  if (corpus.resumed && comm.isRoot())
    fmt::print(stderr, "[cleanmix] --resume: rank 0 restored {} of its {} score pieces\n", restored,
               corpus.end - corpus.begin);
  if (const int sig = stopAgreed(comm, hooks.stopped, env)) {
    const std::uint64_t done = comm.allreduceSum(restored + scoredNow);
    if (comm.isRoot())
      fmt::print(stderr,
                 "[cleanmix] stop requested ({}) in the score stage: {} of {} pieces "
                 "checkpointed in {}; exiting with status {} (rerun with --resume, any rank "
                 "count)\n",
                 ckpt::signalName(sig), done, corpus.table.pieces.size(), store.dir().string(),
                 ckpt::kExitStopped);
    r.stopped = true;
    return r;
  }
  agreeGroups(comm, r.rows.d);
  if (r.rows.size() != myDocs)
    fail("runScore",
         "rank {}: score stage saw {} documents, count stage {} (input changed "
         "during the run?)",
         comm.rank(), r.rows.size(), myDocs);
  return r;
}

// ---- checkpoint records -------------------------------------------------------------------

namespace {
/// Group names in a checkpoint: each followed by a NUL.
std::vector<std::uint8_t> packNames(const std::vector<std::string>& names) {
  std::vector<std::uint8_t> out;
  for (const auto& n : names) {
    out.insert(out.end(), n.begin(), n.end());
    out.push_back(0);
  }
  return out;
}
std::vector<std::string> unpackNames(const std::vector<std::uint8_t>& bytes) {
  std::vector<std::string> out;
  std::string cur;
  for (const auto b : bytes) {
    if (b == 0) {
      out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(static_cast<char>(b));
    }
  }
  return out;
}
}  // namespace

void writeScorePiece(const ckpt::Store& store, std::uint32_t piece, ScoreRows& rows) {
  store.write(
      "score", fmt::format("p{:08d}.h5", piece),
      [&](const h5::SerialFile& f) {
        rows.visit([&](const char* n, const auto& v) { f.put(n, v); });
        f.put("bench_dirty", rows.benchDirty);
        f.put("loo_bits_micro", std::vector<std::int64_t>{rows.looBitsMicro});
        f.put("loo_tokens", std::vector<std::uint64_t>{rows.looTokens});
        f.put("group_names", packNames(rows.d.groupNames));
      },
      {piece}, rows.size());
}

std::optional<ScoreRows> readScorePiece(const ckpt::Store& store, std::uint32_t piece,
                                        std::uint64_t docs) {
  std::string why;
  auto opened = store.open("score", fmt::format("p{:08d}.h5", piece), why);
  if (!opened || opened->second.pieces != std::vector<std::uint32_t>{piece} ||
      opened->second.docs != docs)
    return std::nullopt;
  const h5::SerialFile& f = opened->first;
  ScoreRows rows;
  rows.visit([&](const char* n, auto& v) { f.get(n, v); });
  f.get("bench_dirty", rows.benchDirty);
  std::vector<std::int64_t> loo;
  std::vector<std::uint64_t> looTok;
  f.get("loo_bits_micro", loo);
  f.get("loo_tokens", looTok);
  std::vector<std::uint8_t> names;
  f.get("group_names", names);
  rows.d.groupNames = unpackNames(names);
  for (const auto g : rows.d.group)
    if (g >= rows.d.groupNames.size()) return std::nullopt;
  if (loo.size() != 1 || looTok.size() != 1 || rows.benchDirty.size() != 64) return std::nullopt;
  rows.looBitsMicro = loo[0];
  rows.looTokens = looTok[0];
  // Every per-document column must have one row per document (band keys: bands per row).
  bool ok = true;
  rows.visit([&](const char* n, const auto& v) {
    if (std::string_view(n) != "band_keys" && std::string_view(n) != "fold_lm" && v.size() != docs)
      ok = false;
  });
  if (!ok || (docs && rows.bandKeys.size() % docs != 0)) return std::nullopt;
  std::size_t labelled = 0;
  for (const auto l : rows.label) labelled += l != 255;
  if (!rows.foldLm.empty() &&
      rows.foldLm.size() != labelled * static_cast<std::size_t>(kNumLmFolds * kNumLmColumns))
    return std::nullopt;
  return rows;
}

}  // namespace cleanmix
