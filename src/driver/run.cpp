#include "cleanmix/driver/run.hpp"

#include <omp.h>
#include <sys/resource.h>
#include <xxhash.h>
#include <zstd.h>

#include <boost/serialization/string.hpp>
#include <boost/serialization/utility.hpp>
#include <boost/serialization/vector.hpp>
#include <filesystem>
#include <cstring>
#include <fstream>
#include <cmath>
#include <numeric>
#include <optional>
#include <thread>
#include <functional>
#include <chrono>
#include <unordered_map>
#include <sstream>

#include <mpi.h>

#include "cleanmix/classify/model.hpp"
#include "cleanmix/comm/communicator.hpp"
#include "cleanmix/core/archive.hpp"
#include "cleanmix/core/config.hpp"
#include "cleanmix/core/error.hpp"
#include "cleanmix/core/kokkos_compat.hpp"
#include "cleanmix/core/tables.hpp"
#include "cleanmix/contam/decontam.hpp"
#include "cleanmix/contam/dedup.hpp"
#include "cleanmix/driver/checkpoint.hpp"
#include "cleanmix/driver/dedup.hpp"
#include "cleanmix/driver/audit_stage.hpp"
#include "cleanmix/driver/plan_stage.hpp"
#include "cleanmix/driver/progress.hpp"
#include "cleanmix/io/jsonl.hpp"
#include "cleanmix/io/line_reader.hpp"
#include "cleanmix/kernels/ngram_lm.hpp"
#include "cleanmix/kernels/signals.hpp"
#include "cleanmix/output/materialize.hpp"
#include "cleanmix/output/writer.hpp"
#include "cleanmix/stats/vocab_stats.hpp"
#include "cleanmix/tokenize/tokenizer.hpp"
#include "cleanmix/tokenize/words.hpp"

namespace cleanmix {
namespace fs = std::filesystem;

namespace {

enum Phase { kIndex = 0, kCount, kReduce, kScore, kDedup, kClassify, kPlan, kWrite, kNumPhases };
const std::vector<std::string> kPhaseNames{"index", "count",    "reduce", "score",
                                           "dedup", "classify", "plan",   "write"};

/// Documents read from input and waiting to be tokenized, with where they came from.
struct TextBatch {
  std::string arena;
  std::vector<std::size_t> off{0};
  std::vector<std::uint32_t> piece;      // index into the shard table's pieces
  std::vector<std::uint64_t> localLine;  // 1-based line within the piece
  std::vector<std::uint32_t> replaced;   // invalid UTF-8 repaired by the parser

  std::size_t size() const { return piece.size(); }
  std::string_view text(std::size_t i) const {
    return {arena.data() + off[i], off[i + 1] - off[i]};
  }
  void add(std::string_view t, std::uint32_t p, std::uint64_t line, std::uint32_t rep) {
    arena.append(t);
    off.push_back(arena.size());
    piece.push_back(p);
    localLine.push_back(line);
    replaced.push_back(rep);
  }
  void clear() {
    arena.clear();
    off.assign(1, 0);
    piece.clear();
    localLine.clear();
    replaced.clear();
  }
};

/// Per-piece tallies from the count stage (reduced globally into line/doc offsets).
struct PieceTally {
  std::vector<std::uint64_t> lines, docs, errors;
  explicit PieceTally(std::size_t n) : lines(n, 0), docs(n, 0), errors(n, 0) {}
};

/// Checkpoint hooks of a stage that is checkpointed per piece. With hooks, batches never span
/// pieces: the batch is flushed at the end of every piece, before `done(piece)`.
struct PieceHooks {
  std::function<bool(std::uint32_t)> skip;  ///< true: the piece was restored from a checkpoint
  std::function<void(std::uint32_t)> done;  ///< the piece is finished (its batch was flushed)
  bool honourStop = false;                  ///< a stop request (SIGUSR1) ends the loop early
  bool stopped = false;                     ///< out: the loop ended early on a stop request
};

/// Read every line of pieces [begin, end): documents go to `onDoc(batch)` in batches of about
/// `batchBytes`, quarantined lines to `onError(piece, line, reason)`.
template <class OnBatch, class OnError>
void readPieces(const RunConfig& cfg, const ShardTable& table, std::uint32_t begin,
                std::uint32_t end, PieceTally* tally, Progress& progress, OnBatch onBatch,
                OnError onError, PieceHooks* hooks = nullptr) {
  JsonlParser parser;
  TextBatch batch;
  std::uint64_t rawDone = 0;
  for (std::uint32_t p = begin; p < end; ++p) {
    if (hooks && hooks->honourStop && ckpt::stopRequested()) {
      hooks->stopped = true;
      break;
    }
    if (hooks && hooks->skip && hooks->skip(p)) {
      rawDone += pieceBytes(table.pieces[p]);
      progress.update(p - begin + 1, rawDone);
      continue;
    }
    const Piece& piece = table.pieces[p];
    const ShardInfo& shard = table.shards[piece.shard];
    const std::string& key = cfg.sources[shard.source].textKey;
    LineReader reader(shard, piece, cfg.maxLineBytes);
    Line line;
    std::uint64_t n = 0;
    while (reader.next(line)) {
      ++n;
      if (line.tooLong) {
        onError(p, n,
                fmt::format("line_too_long: {} bytes > max_line_bytes {}", line.length,
                            cfg.maxLineBytes));
        if (tally) ++tally->errors[p];
        continue;
      }
      ParsedLine r = parser.parse(line.text, key);
      if (!r.ok) {
        onError(p, n, r.reason);
        if (tally) ++tally->errors[p];
        continue;
      }
      batch.add(r.text, p, n, r.replaced);
      if (tally) ++tally->docs[p];
      if (batch.arena.size() >= cfg.batchBytes) {
        onBatch(batch);
        batch.clear();
      }
    }
    if (tally) tally->lines[p] = n;
    rawDone += std::min(reader.rawConsumed(), pieceBytes(piece));  // the reader reads ahead
    if (hooks) {
      if (batch.size() > 0) onBatch(batch);
      batch.clear();
      if (const int ms = ckpt::testPieceDelayMs(); ms > 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      if (hooks->done) hooks->done(p);
    }
    progress.update(p - begin + 1, rawDone);
  }
  if (batch.size() > 0) onBatch(batch);
}

/// Per-document host work of the score stage besides tokenizing (filled by tokenizeBatch).
struct HostScoreWork {
  const BenchmarkIndex* bench = nullptr;
  std::vector<std::uint8_t> isBenchmark;  // in: benchmark documents skip decontam and dedup
  std::vector<double> compression;
  std::vector<std::uint32_t> contaminated;
  std::vector<std::uint64_t> benchSources, exactKey;
  const NbCounts* nb = nullptr;
  std::vector<std::int8_t> ownClass;  // in: NB leave-one-out class of training documents, or -1
  std::vector<double> nbUni, nbBi;
};

/// Tokenize every document of a batch on the host threads (never Kokkos inside); with `work`,
/// also the zstd ratio, decontamination words and matches, and the exact-duplicate key.
void tokenizeBatch(const Tokenizer& tok, const TextBatch& batch, std::vector<TokenizedDoc>& docs,
                   bool full, HostScoreWork* work,
                   const std::vector<std::uint8_t>* only = nullptr) {
  const std::size_t n = batch.size();
  if (docs.size() < n) docs.resize(n);
  if (work) {
    work->compression.assign(n, 0.0);
    work->contaminated.assign(n, 0);
    work->benchSources.assign(n, 0);
    work->exactKey.assign(n, 0);
    work->nbUni.assign(n, 0.0);
    work->nbBi.assign(n, 0.0);
  }
#pragma omp parallel
  {
    ZSTD_CCtx* cctx = work ? ZSTD_createCCtx() : nullptr;
    std::string zbuf;
    std::vector<std::uint64_t> scratch;
#pragma omp for schedule(dynamic, 8)
    for (std::size_t i = 0; i < n; ++i) {
      if (only && !(*only)[i]) continue;  // documents the caller does not need
      tok.tokenize(batch.text(i), docs[i], full);
      if (!work) continue;
      const std::string& t = docs[i].norm;
      zbuf.resize(ZSTD_compressBound(t.size()));
      const std::size_t z =
          ZSTD_compressCCtx(cctx, zbuf.data(), zbuf.size(), t.data(), t.size(), 3);
      work->compression[i] =
          ZSTD_isError(z) ? 0.0 : static_cast<double>(t.size()) / static_cast<double>(z);
      if (work->nb)
        nbFeatures(*work->nb, docs[i].ids, work->ownClass[i], work->nbUni[i], work->nbBi[i]);
      if (work->isBenchmark[i]) continue;
      wordHashes(t, docs[i].words);
      if (work->bench)
        work->contaminated[i] = work->bench->match(docs[i].words, work->benchSources[i], scratch);
      work->exactKey[i] = (XXH3_64bits(t.data(), t.size()) ^ 0xE7AC7E57ull) | 1;
    }
    if (cctx) ZSTD_freeCCtx(cctx);
  }
}

/// Rank 0 computes, every rank throws the same error: no rank is left waiting in a collective.
template <class F>
void rootThenShare(const Communicator& comm, std::string& payload, F work) {
  std::string err;
  if (comm.isRoot()) {
    try {
      payload = work();
    } catch (const ConfigError& e) {
      err = std::string("C") + e.what();
    } catch (const std::exception& e) {
      err = std::string("E") + e.what();
    }
  }
  comm.bcastBytes(err);
  if (!err.empty()) {
    if (err[0] == 'C') throw ConfigError(err.substr(1));
    throw CollectiveError(err.substr(1));
  }
  comm.bcastBytes(payload);
}

/// A stop request ends a stage on every rank once any rank saw it (each finishes its current
/// piece first; their checkpoints are written by then). Collective.
bool stopAgreed(const Communicator& comm, bool stoppedHere, const ckpt::Store& store) {
  const int mine = store.enabled() && (stoppedHere || ckpt::stopRequested()) ? 1 : 0;
  return comm.allreduceMax<int>(mine) != 0;
}

/// The completion record in the work directory (Boost text archive: portable, outlives the job).
struct RunManifest {
  std::string version, configHash, output;
  std::uint64_t outputBytes = 0;
  std::string outputChecksum;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& version& configHash& output& outputBytes& outputChecksum;
  }
};

std::uint64_t peakRssBytes() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<std::uint64_t>(ru.ru_maxrss) * 1024;  // Linux reports KiB
}

std::string configHash(const RunConfig& cfg) {
  return fmt::format("{:016x}", XXH3_64bits(cfg.effectiveToml.data(), cfg.effectiveToml.size()));
}

/// What checkpoints must match: the config keys that can change a result.
std::string checkpointKey(const RunConfig& cfg) {
  return fmt::format("{:016x}", XXH3_64bits(cfg.resultToml.data(), cfg.resultToml.size()));
}

/// --resume: true when the manifest says this exact config already completed and the output
/// still has the recorded size and checksum.
bool alreadyComplete(const RunConfig& cfg, const fs::path& manifestPath) {
  RunManifest m;
  if (!readTextFile(manifestPath, m)) return false;
  std::uint64_t bytes = 0;
  return m.configHash == configHash(cfg) && m.output == cfg.output.string() &&
         m.version == CLEANMIX_VERSION &&
         ckpt::fileChecksum(cfg.output, bytes) == m.outputChecksum && bytes == m.outputBytes;
}

void writeManifest(const RunConfig& cfg, const fs::path& manifestPath) {
  RunManifest m{CLEANMIX_VERSION, configHash(cfg), cfg.output.string(), 0, {}};
  m.outputChecksum = ckpt::fileChecksum(cfg.output, m.outputBytes);
  try {
    writeTextFile(manifestPath, m);
  } catch (const Error& e) {  // the output is complete; only --resume's shortcut is lost
    fmt::print(stderr, "[cleanmix] warning: completion not recorded: {}\n", e.what());
  }
}

}  // namespace

ShardTable indexStage(const RunConfig& cfg, const Communicator& comm) {
  // Rank 0 expands the globs (directory listings only) and shares the sorted paths.
  std::string bytes;
  rootThenShare(comm, bytes, [&] {
    ShardTable t;
    t.shards = expandShardPaths(cfg);
    return packBytes(t);
  });
  ShardTable t;
  unpackBytes(bytes, t);
  // Every rank stats and open-checks a strided slice (metadata load spread over the ranks);
  // sizes are summed, and the first error by path order is reported by every rank.
  std::vector<std::uint64_t> sizes(t.shards.size(), 0), mtimes(t.shards.size(), 0);
  std::uint64_t firstBad = UINT64_MAX;
  std::string err;
  for (std::size_t i = static_cast<std::size_t>(comm.rank()); i < t.shards.size();
       i += static_cast<std::size_t>(comm.size())) {
    try {
      statShard(t.shards[i], cfg.sources[t.shards[i].source].name);
      sizes[i] = t.shards[i].bytes;
      mtimes[i] = static_cast<std::uint64_t>(t.shards[i].mtimeNs);
    } catch (const Error& e) {
      firstBad = i;
      err = e.what();
      break;
    }
  }
  comm.allreduceSum(std::span<std::uint64_t>(sizes));
  comm.allreduceSum(std::span<std::uint64_t>(mtimes));
  const std::uint64_t bad = comm.allreduceMin(firstBad);
  if (bad != UINT64_MAX) {
    const int owner = static_cast<int>(bad % static_cast<std::uint64_t>(comm.size()));
    if (comm.rank() != owner) err.clear();
    const auto all = comm.gatherBytes(err);
    std::string msg;
    if (comm.isRoot())
      for (const auto& m : all) msg += m;
    comm.bcastBytes(msg);
    throw CollectiveError(msg);
  }
  for (std::size_t i = 0; i < t.shards.size(); ++i) {
    t.shards[i].bytes = sizes[i];
    t.shards[i].mtimeNs = static_cast<std::int64_t>(mtimes[i]);
  }
  t.pieces = splitIntoPieces(t.shards, pieceBytesFor(t.shards, comm.size(), cfg.splitBytes));
  return t;
}

std::uint64_t parseOnlyPass(const RunConfig& cfg, const ShardTable& table, std::uint32_t begin,
                            std::uint32_t end, std::uint64_t& lines, std::uint64_t& docs) {
  Progress quiet(false, 1e9);
  PieceTally tally(table.pieces.size());
  std::uint64_t raw = 0;
  readPieces(
      cfg, table, begin, end, &tally, quiet, [](const TextBatch&) {},
      [](std::uint32_t, std::uint64_t, const std::string&) {});
  lines = docs = 0;
  for (std::uint32_t p = begin; p < end; ++p) {
    lines += tally.lines[p];
    docs += tally.docs[p];
    raw += pieceBytes(table.pieces[p]);
  }
  return raw;
}

int runPipeline(const RunConfig& cfg, const Communicator& comm, const RunOptions& opts) {
  const fs::path manifestPath = cfg.workdir / "run.manifest";
  if (opts.resume) {
    const bool done = comm.isRoot() && alreadyComplete(cfg, manifestPath);
    if (comm.allreduceMax<int>(done ? 1 : 0)) {
      if (comm.isRoot())
        fmt::print(stderr, "[cleanmix] --resume: {} is complete for this config; nothing to do\n",
                   cfg.output.string());
      return 0;
    }
  }
  if (cfg.ompThreads > 0) omp_set_num_threads(cfg.ompThreads);
  // Checkpoints (not for calibrate, which writes no run file).
  const ckpt::Store store(cfg.workdir, checkpointKey(cfg), cfg.checkpoint && !opts.calibrateOnly);
  if (store.enabled()) ckpt::installStopHandler();

  std::vector<double> timing(kNumPhases, 0.0);
  double t = MPI_Wtime();
  auto lap = [&](Phase p) {
    const double now = MPI_Wtime();
    timing[p] += now - t;
    t = now;
  };
  Progress progress(comm.isRoot(), cfg.progressSeconds);

  // ---- index (a resume reuses the saved pieces: their boundaries depend on the rank count) ----
  ShardTable table = indexStage(cfg, comm);
  bool resumed = false;
  if (store.enabled()) {
    std::string saved;
    rootThenShare(comm, saved, [&]() -> std::string {
      std::string why;
      if (opts.resume) {
        if (auto t = store.loadIndex(table, why)) {
          store.ensureDirs();
          return "R" + packBytes(*t);
        }
        fmt::print(stderr, "[cleanmix] --resume: {}; starting from the beginning\n", why);
      }
      store.startFresh(table);
      return "F";
    });
    if (saved[0] == 'R') {
      unpackBytes(saved.substr(1), table);
      resumed = true;
    }
  }
  const ShardAssignment assign = assignPieces(table, comm.size());
  const std::uint32_t pBegin = assign.begin(comm.rank()), pEnd = assign.end(comm.rank());
  std::uint64_t myBytes = 0;
  for (std::uint32_t p = pBegin; p < pEnd; ++p) myBytes += pieceBytes(table.pieces[p]);
  if (comm.isRoot())
    fmt::print(stderr, "[cleanmix] index: {} sources, {} shards, {} pieces over {} ranks{}\n",
               cfg.sources.size(), table.shards.size(), table.pieces.size(), comm.size(),
               resumed ? " (pieces of the checkpointed run)" : "");
  lap(kIndex);

  // ---- count: tokenize, unigram buckets per provenance class (anchor + pool documents) ----
  const auto tokenizer = makeTokenizer(cfg);
  const std::uint64_t nb = std::uint64_t{1} << cfg.vocabBits, mask = nb - 1;
  std::vector<std::uint64_t> counts(kNumProvenance * nb, 0);
  LmParams lmParams;
  lmParams.unigramBits = cfg.vocabBits;
  lmParams.tableBits = cfg.lmTableBits;
  for (int k = 0; k < 3; ++k) lmParams.lambda[k] = cfg.lmLambda[k];
  LmCounts lm(lmParams);
  std::uint64_t anchorDocs = 0;
  if (comm.isRoot())
    fmt::print(stderr,
               "[cleanmix] reference LM: order 3, tables of 2^{} + 2 x 2^{} counters, {:.1f} MB "
               "per rank\n",
               cfg.vocabBits, cfg.lmTableBits, static_cast<double>(lm.bytes()) / 1e6);
  // Benchmark sources get one bit each (the config allows at most 64).
  std::vector<int> benchBit(cfg.sources.size(), -1);
  for (std::size_t s = 0, k = 0; s < cfg.sources.size(); ++s)
    if (cfg.sources[s].role == Role::Benchmark) benchBit[s] = static_cast<int>(k++);
  std::vector<BenchNgram> benchLocal;
  std::vector<std::uint64_t> benchSkipped(cfg.sources.size(), 0);
  // Classifier text features: NB histograms of the labelled training split, or the model's.
  auto labelOf = [&](const SourceConfig& src) -> int {
    if (src.role == Role::Benchmark) return -1;
    if (src.provenance == Provenance::HumanVerified) return 0;
    if (src.provenance == Provenance::SyntheticKnown) return 1;
    return -1;
  };
  std::optional<ClassifierModel> loaded;
  if (!cfg.classifierModel.empty()) loaded = loadModel(cfg.classifierModel);
  NbCounts nbc(loaded ? loaded->nbBits : cfg.classifierNbBits);
  if (loaded) nbc.counts = loaded->nbCounts;
  bool hasHuman = false, hasSynthetic = false;
  for (const auto& src : cfg.sources) {
    hasHuman |= labelOf(src) == 0;
    hasSynthetic |= labelOf(src) == 1;
  }
  // The classifier runs with a model, or when both labelled classes exist to fit one.
  const bool classifierActive = cfg.classifierEnabled && (loaded || (hasHuman && hasSynthetic));
  const bool fitNb = classifierActive && !loaded;
  PieceTally tally(table.pieces.size());
  std::vector<ErrorRow> errors;
  std::vector<std::uint32_t> errorPiece;
  std::vector<TokenizedDoc> tdocs;
  // Count checkpoints: segments of earlier runs cover sets of pieces. Every rank verifies a
  // strided share (checksum and columns) and keeps what it verified; the accepted segments are
  // disjoint (name order decides), and their pieces are not read again.
  std::vector<std::uint8_t> counted(table.pieces.size(), 0);
  std::vector<ckpt::CountSegment> restored;  // verified segments this rank adds after counting
  std::uint64_t restoredPieces = 0;
  if (resumed) {
    std::vector<std::pair<std::string, ckpt::Sidecar>> listed;
    std::string bytes;
    rootThenShare(comm, bytes, [&] { return packBytes(store.listCountSegments()); });
    unpackBytes(bytes, listed);
    std::vector<std::uint64_t> ok(listed.size(), 0);
    std::vector<std::optional<ckpt::CountSegment>> mine(listed.size());
    for (std::size_t k = static_cast<std::size_t>(comm.rank()); k < listed.size();
         k += static_cast<std::size_t>(comm.size())) {
      std::string why;
      mine[k] = store.readCountSegment(listed[k].first, why);
      if (mine[k]) {
        ok[k] = 1;
        for (const auto p : mine[k]->pieces)
          if (p >= table.pieces.size()) ok[k] = 0;
      } else {
        fmt::print(stderr, "[cleanmix] rank {}: count checkpoint {} ignored: {}\n", comm.rank(),
                   listed[k].first, why);
      }
    }
    comm.allreduceSum(std::span<std::uint64_t>(ok));
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
                 restoredPieces, table.pieces.size(), (store.dir() / "count").string());
  }
  // This run's own segment: everything this rank counts now, rewritten every
  // checkpoint_seconds, at the end of its range and on a stop request.
  std::vector<std::uint32_t> countedNow;
  std::size_t snapshotted = 0;
  auto lastSnapshot = std::chrono::steady_clock::now();
  auto snapshot = [&] {
    if (!store.enabled() || countedNow.empty() || snapshotted == countedNow.size()) return;
    ckpt::CountSegment seg;
    seg.pieces = countedNow;
    for (const auto p : countedNow) {
      seg.lines.push_back(tally.lines[p]);
      seg.docs.push_back(tally.docs[p]);
      seg.errors.push_back(tally.errors[p]);
    }
    for (std::size_t e = 0; e < errors.size(); ++e) {
      seg.errPiece.push_back(errorPiece[e]);
      seg.errLine.push_back(errors[e].line);
      seg.errReasonText.insert(seg.errReasonText.end(), errors[e].reason.begin(),
                               errors[e].reason.end());
      seg.errReasonEnd.push_back(seg.errReasonText.size());
    }
    ckpt::sparsify(counts, seg.countIdx, seg.countVal);
    ckpt::sparsify(lm.table, seg.lmIdx, seg.lmVal);
    if (fitNb) ckpt::sparsify(nbc.counts, seg.nbIdx, seg.nbVal);
    for (const auto& g : benchLocal) {
      seg.benchKey.push_back(g.key);
      seg.benchSources.push_back(g.sources);
      seg.benchLen.push_back(g.length);
    }
    seg.benchSkipped = benchSkipped;
    seg.anchorDocs = {anchorDocs};
    store.writeCountSegment(ckpt::Store::countName(countedNow.front()), seg);
    snapshotted = countedNow.size();
    lastSnapshot = std::chrono::steady_clock::now();
  };
  PieceHooks countHooks;
  countHooks.honourStop = store.enabled();
  countHooks.skip = [&](std::uint32_t p) { return counted[p] != 0; };
  countHooks.done = [&](std::uint32_t p) {
    countedNow.push_back(p);
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - lastSnapshot).count() >=
        cfg.checkpointSeconds)
      snapshot();
  };
  progress.start("count", pEnd - pBegin, myBytes);
  readPieces(
      cfg, table, pBegin, pEnd, &tally, progress,
      [&](const TextBatch& b) {
        tokenizeBatch(*tokenizer, b, tdocs, false, nullptr);
        for (std::size_t i = 0; i < b.size(); ++i) {
          const std::uint32_t si = table.shards[table.pieces[b.piece[i]].shard].source;
          const auto& src = cfg.sources[si];
          if (src.role == Role::Benchmark) {
            std::vector<std::uint64_t> words;
            wordHashes(tdocs[i].norm, words);
            if (!benchmarkNgrams(words, static_cast<std::uint32_t>(cfg.decontamNgram),
                                 static_cast<std::uint32_t>(cfg.decontamMinWords),
                                 std::uint64_t{1} << benchBit[si], benchLocal))
              ++benchSkipped[si];
            continue;
          }
          if (const int cls = labelOf(src); fitNb && cls >= 0) {
            const std::string_view raw = b.text(i);
            if (!inHoldout(src.name, XXH3_64bits(raw.data(), raw.size())))
              nbc.add(tdocs[i].ids, cls);
          }
          if (src.role == Role::Anchor) {
            lm.addDocument(tdocs[i].ids);
            ++anchorDocs;
          }
          std::uint64_t* row = counts.data() + static_cast<std::size_t>(src.provenance) * nb;
          for (const std::uint64_t id : tdocs[i].ids) ++row[id & mask];
        }
      },
      [&](std::uint32_t p, std::uint64_t line, const std::string& reason) {
        errors.push_back({table.pieces[p].shard, line, reason});
        errorPiece.push_back(p);
      },
      &countHooks);
  progress.finish();
  snapshot();
  lap(kCount);  // before the first collective: a rank's count time excludes waiting for others
  if (stopAgreed(comm, countHooks.stopped, store)) {
    const std::uint64_t done = comm.allreduceSum<std::uint64_t>(countedNow.size());
    if (comm.isRoot())
      fmt::print(stderr,
                 "[cleanmix] stop requested (SIGUSR1) in the count stage: {} + {} of {} pieces "
                 "checkpointed in {}; exiting with status {} (rerun with --resume, any rank "
                 "count)\n",
                 restoredPieces, done, table.pieces.size(), store.dir().string(),
                 ckpt::kExitStopped);
    return ckpt::kExitStopped;
  }
  // Restored segments: integers add; quarantine rows go to the rank owning their piece now.
  if (resumed) {
    std::vector<std::vector<char>> errOut(comm.size());
    for (auto& seg : restored) {
      ckpt::addSparse(counts, seg.countIdx, seg.countVal, "count checkpoint unigram counts");
      ckpt::addSparse(lm.table, seg.lmIdx, seg.lmVal, "count checkpoint LM counts");
      if (fitNb) ckpt::addSparse(nbc.counts, seg.nbIdx, seg.nbVal, "count checkpoint NB counts");
      for (std::size_t k = 0; k < seg.pieces.size(); ++k) {
        tally.lines[seg.pieces[k]] += seg.lines[k];
        tally.docs[seg.pieces[k]] += seg.docs[k];
        tally.errors[seg.pieces[k]] += seg.errors[k];
      }
      for (std::size_t k = 0; k < seg.benchKey.size(); ++k)
        benchLocal.push_back({seg.benchKey[k], seg.benchSources[k], seg.benchLen[k]});
      for (std::size_t k = 0; k < benchSkipped.size() && k < seg.benchSkipped.size(); ++k)
        benchSkipped[k] += seg.benchSkipped[k];
      anchorDocs += seg.anchorDocs[0];
      for (std::size_t e = 0; e < seg.errPiece.size(); ++e) {
        const std::uint32_t p = seg.errPiece[e];
        const int owner = static_cast<int>(
            std::upper_bound(assign.firstPiece.begin(), assign.firstPiece.end(), p) -
            assign.firstPiece.begin() - 1);
        const std::uint64_t from = e ? seg.errReasonEnd[e - 1] : 0, to = seg.errReasonEnd[e];
        auto& out = errOut[owner];
        const std::uint64_t head[3] = {p, seg.errLine[e], to - from};
        out.insert(out.end(), reinterpret_cast<const char*>(head),
                   reinterpret_cast<const char*>(head) + sizeof head);
        out.insert(out.end(), seg.errReasonText.begin() + static_cast<std::ptrdiff_t>(from),
                   seg.errReasonText.begin() + static_cast<std::ptrdiff_t>(to));
      }
    }
    restored = {};
    const std::vector<char> in = comm.alltoallv(errOut);
    for (std::size_t o = 0; o < in.size();) {
      std::uint64_t head[3];
      std::memcpy(head, in.data() + o, sizeof head);
      o += sizeof head;
      const auto p = static_cast<std::uint32_t>(head[0]);
      errors.push_back({table.pieces[p].shard, head[1], std::string(in.data() + o, head[2])});
      errorPiece.push_back(p);
      o += head[2];
    }
    // Quarantine rows in input order, as an uninterrupted run lists them.
    std::vector<std::size_t> order(errors.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return std::tie(errorPiece[a], errors[a].line) < std::tie(errorPiece[b], errors[b].line);
    });
    std::vector<ErrorRow> e2;
    std::vector<std::uint32_t> p2;
    for (const auto k : order) {
      e2.push_back(std::move(errors[k]));
      p2.push_back(errorPiece[k]);
    }
    errors = std::move(e2);
    errorPiece = std::move(p2);
  }

  // ---- reduce: integer histograms and per-piece tallies ----
  comm.allreduceSum(std::span<std::uint64_t>(counts));
  comm.allreduceSum(std::span<std::uint64_t>(lm.table));
  if (fitNb) comm.allreduceSum(std::span<std::uint64_t>(nbc.counts));
  nbc.computeTotals();
  anchorDocs = comm.allreduceSum(anchorDocs);
  comm.allreduceSum(std::span<std::uint64_t>(tally.lines));
  comm.allreduceSum(std::span<std::uint64_t>(tally.docs));
  comm.allreduceSum(std::span<std::uint64_t>(tally.errors));
  // Line offset of each piece within its shard: lines of the earlier pieces of the same shard.
  std::vector<std::uint64_t> lineBase(table.pieces.size(), 0);
  for (std::size_t p = 1; p < table.pieces.size(); ++p)
    if (table.pieces[p].shard == table.pieces[p - 1].shard)
      lineBase[p] = lineBase[p - 1] + tally.lines[p - 1];
  for (std::size_t e = 0; e < errors.size(); ++e) errors[e].line += lineBase[errorPiece[e]];
  // Every rank gets every benchmark n-gram (benchmarks are small next to the corpus).
  const std::vector<BenchNgram> benchAll =
      comm.alltoallv(std::vector<std::vector<BenchNgram>>(comm.size(), benchLocal));
  benchLocal = {};
  comm.allreduceSum(std::span<std::uint64_t>(benchSkipped));
  std::vector<std::uint64_t> benchNgrams(cfg.sources.size(), 0);
  for (const auto& g : benchAll)
    for (std::size_t s = 0; s < cfg.sources.size(); ++s)
      if (benchBit[s] >= 0 && (g.sources >> benchBit[s] & 1)) ++benchNgrams[s];
  const BenchmarkIndex benchIndex(benchAll);
  std::vector<std::uint64_t> unigram(nb, 0);  // anchor + pool, all classes
  for (int c = 0; c < kNumProvenance; ++c)
    for (std::uint64_t b = 0; b < nb; ++b) unigram[b] += counts[c * nb + b];
  lap(kReduce);

  // ---- score: re-read, tokenize fully, Kokkos kernels ----
  auto scorer = makeSignalScorer(cfg.backend);
  scorer->setUnigram(unigram);
  if (anchorDocs > 0) scorer->setLm(lm);
  if (cfg.dedupEnabled)
    scorer->setMinHash({cfg.dedupBands, cfg.dedupRows, cfg.dedupShingle, cfg.seed});
  HostScoreWork work;
  if (classifierActive) work.nb = &nbc;
  work.bench = benchIndex.empty() ? nullptr : &benchIndex;
  DedupInput dedupIn;
  dedupIn.bands = cfg.dedupEnabled ? cfg.dedupBands : 0;
  RunOutput run;
  DocRows& docs = run.docs;
  BatchInput bin;
  BatchOutput bout;
  // Rows of the piece being scored (checkpointed when it is done) and of the rank so far.
  ckpt::ScoreRows cur, acc;
  std::uint64_t scoreRestored = 0, scoredNow = 0;
  PieceHooks scoreHooks;
  scoreHooks.honourStop = store.enabled();
  scoreHooks.skip = [&](std::uint32_t p) {
    if (!resumed) return false;
    auto rows = store.readScorePiece(p, tally.docs[p]);
    if (!rows) return false;
    acc.append(*rows);
    ++scoreRestored;
    return true;
  };
  scoreHooks.done = [&](std::uint32_t p) {
    if (store.enabled()) store.writeScorePiece(p, cur);
    acc.append(cur);
    cur.clear();
    ++scoredNow;
  };
  progress.start("score", pEnd - pBegin, myBytes);
  readPieces(
      cfg, table, pBegin, pEnd, nullptr, progress,
      [&](const TextBatch& b) {
        work.isBenchmark.resize(b.size());
        work.ownClass.assign(b.size(), -1);
        for (std::size_t i = 0; i < b.size(); ++i) {
          const auto& src = cfg.sources[table.shards[table.pieces[b.piece[i]].shard].source];
          work.isBenchmark[i] = src.role == Role::Benchmark;
          const int cls = labelOf(src);
          const std::string_view raw = b.text(i);
          const bool holdout = inHoldout(src.name, XXH3_64bits(raw.data(), raw.size()));
          cur.label.push_back(cls < 0 ? 255 : static_cast<std::uint8_t>(cls));
          cur.holdout.push_back(holdout ? 1 : 0);
          if (fitNb && cls >= 0 && !holdout) work.ownClass[i] = static_cast<std::int8_t>(cls);
        }
        tokenizeBatch(*tokenizer, b, tdocs, true, &work);
        bin.clear();
        DocRows& d = cur.d;
        for (std::size_t i = 0; i < b.size(); ++i) {
          const TokenizedDoc& td = tdocs[i];
          const Piece& piece = table.pieces[b.piece[i]];
          const auto& src = cfg.sources[table.shards[piece.shard].source];
          bin.append(td.ids, td.lens, td.sentLens, td.lineHashes, src.role == Role::Anchor,
                     td.words);
          d.source.push_back(static_cast<std::uint16_t>(table.shards[piece.shard].source));
          d.shard.push_back(piece.shard);
          d.line.push_back(lineBase[b.piece[i]] + b.localLine[i]);
          d.provenance.push_back(static_cast<std::uint8_t>(src.provenance));
          d.nBytes.push_back(td.norm.size());
          d.nTokens.push_back(td.ids.size());
          d.nSentences.push_back(static_cast<std::uint32_t>(td.sentLens.size()));
          d.utf8Replaced.push_back(b.replaced[i] + td.replaced);
          d.compressionRatio.push_back(work.compression[i]);
          d.contaminated.push_back(work.contaminated[i]);
          d.nbUnigramLlr.push_back(work.nbUni[i]);
          d.nbBigramLlr.push_back(work.nbBi[i]);
          cur.exactKeys.push_back(work.exactKey[i]);
          cur.provRank.push_back(provenanceRank(src.provenance));
          cur.participate.push_back(src.role == Role::Benchmark ? 0 : 1);
          for (int k = 0; k < 64; ++k)
            if (work.benchSources[i] >> k & 1) ++cur.benchDirty[k];
        }
        scorer->score(bin, bout);
        d.append(bout, [](const ColumnInfo& c) { return c.stage == ColumnStage::Kernel; });
        cur.bandKeys.insert(cur.bandKeys.end(), bout.bandKeys.begin(), bout.bandKeys.end());
        if (anchorDocs > 0)
          for (std::size_t i = 0; i < b.size(); ++i)
            if (bin.anchor[i]) {
              const double tokens = static_cast<double>(tdocs[i].ids.size() + 1);
              cur.looBitsMicro += std::llround(std::log2(bout.refPpl[i]) * tokens * 1e6);
              cur.looTokens += tdocs[i].ids.size() + 1;
            }
      },
      [](std::uint32_t, std::uint64_t, const std::string&) {}, &scoreHooks);
  progress.finish();
  lap(kScore);  // before the stop agreement (a collective): waiting counts in the next phase
  if (resumed && comm.isRoot())
    fmt::print(stderr, "[cleanmix] --resume: rank 0 restored {} of its {} score pieces\n",
               scoreRestored, pEnd - pBegin);
  if (stopAgreed(comm, scoreHooks.stopped, store)) {
    const std::uint64_t done = comm.allreduceSum(scoreRestored + scoredNow);
    if (comm.isRoot())
      fmt::print(stderr,
                 "[cleanmix] stop requested (SIGUSR1) in the score stage: {} of {} pieces "
                 "checkpointed in {}; exiting with status {} (rerun with --resume, any rank "
                 "count)\n",
                 done, table.pieces.size(), store.dir().string(), ckpt::kExitStopped);
    return ckpt::kExitStopped;
  }
  docs = std::move(acc.d);
  dedupIn.exactKeys = std::move(acc.exactKeys);
  dedupIn.bandKeys = std::move(acc.bandKeys);
  dedupIn.provRank = std::move(acc.provRank);
  dedupIn.participate = std::move(acc.participate);
  const std::vector<std::uint8_t> docLabel = std::move(acc.label);  // 0/1 labelled class or 255
  const std::vector<std::uint8_t> docHoldout = std::move(acc.holdout);
  std::vector<std::uint64_t> benchDirtyLocal = std::move(acc.benchDirty);
  // Anchor leave-one-out surprisal in micro-bits: an exact integer sum.
  std::int64_t looBitsMicro = acc.looBitsMicro;
  std::uint64_t looTokens = acc.looTokens;
  std::uint64_t myDocs = 0;
  for (std::uint32_t p = pBegin; p < pEnd; ++p) myDocs += tally.docs[p];
  if (docs.size() != myDocs)
    fail("runPipeline",
         "rank {}: score stage saw {} documents, count stage {} (input changed "
         "during the run?)",
         comm.rank(), docs.size(), myDocs);

  // ---- dedup: LSH band keys shuffled by key, components across ranks ----
  dedupIn.docOffset = comm.exscanSum(docs.size());
  DedupResult dedup;
  if (cfg.dedupEnabled && !opts.calibrateOnly) {
    dedup = findDuplicates(comm, dedupIn);
  } else {
    dedup.dupOf.assign(docs.size(), -1);
  }
  docs.dupOf = dedup.dupOf;
  docs.verdict.resize(docs.size());
  for (std::size_t i = 0; i < docs.size(); ++i) {
    const Role role = cfg.sources[docs.source[i]].role;
    Verdict v = Verdict::Keep;
    if (role == Role::Benchmark)
      v = Verdict::Benchmark;
    else if (role == Role::Anchor)
      v = Verdict::Anchor;
    else if (docs.contaminated[i] > 0)
      v = Verdict::Contaminated;
    else if (docs.dupOf[i] >= 0)
      v = Verdict::Duplicate;
    docs.verdict[i] = static_cast<std::uint8_t>(v);
  }
  if (comm.isRoot() && cfg.dedupEnabled)
    fmt::print(stderr,
               "[cleanmix] dedup: {} candidate pairs, {} clusters, {} duplicates, {} label rounds; "
               "decontam: {} benchmark n-grams\n",
               dedup.candidatePairs, dedup.clusters, dedup.duplicates, dedup.rounds,
               benchIndex.size());
  lap(kDedup);

  // ---- classify: fit on rank 0 from the gathered labelled rows (or load), score every doc ----
  RunOutput::Classifier& cl = run.classifier;
  const bool canClassify = classifierActive && anchorDocs > 0;
  docs.pSynthetic.assign(docs.size(), kx::quietNaN());
  docs.inferred = docs.provenance;
  if (canClassify) {
    // Labelled rows go to rank 0; beyond max_train_docs a deterministic subsample keyed by
    // (seed, doc_id) keeps the gather bounded (the same rows at any rank count).
    std::uint64_t labelled = 0;
    for (auto l : docLabel) labelled += l != 255;
    labelled = comm.allreduceSum(labelled);
    const double keep =
        labelled > cfg.classifierMaxTrainDocs
            ? static_cast<double>(cfg.classifierMaxTrainDocs) / static_cast<double>(labelled)
            : 1.0;
    std::vector<double> rows;  // labelled rows: features, label, holdout
    for (std::size_t i = 0; i < docs.size(); ++i) {
      if (docLabel[i] == 255) continue;
      if (keep < 1.0 && planUniform(cfg.seed ^ 0xC1A551F1ull, dedupIn.docOffset + i) >= keep)
        continue;
      double x[kNumFeatures];
      docs.features(i, x);
      rows.insert(rows.end(), x, x + kNumFeatures);
      rows.push_back(docLabel[i]);
      rows.push_back(docHoldout[i]);
    }
    std::string packed(reinterpret_cast<const char*>(rows.data()), rows.size() * sizeof(double));
    const auto all = comm.gatherBytes(packed);
    std::string modelBytes;
    rootThenShare(comm, modelBytes, [&] {
      constexpr std::size_t w = kNumFeatures + 2;
      std::vector<double> tr, ho;
      std::vector<std::uint8_t> ytr, yho;
      for (const auto& part : all) {
        const auto* d = reinterpret_cast<const double*>(part.data());
        for (std::size_t r = 0; r + w <= part.size() / sizeof(double); r += w) {
          auto& dst = d[r + kNumFeatures + 1] != 0 ? ho : tr;
          dst.insert(dst.end(), d + r, d + r + kNumFeatures);
          (d[r + kNumFeatures + 1] != 0 ? yho : ytr)
              .push_back(static_cast<std::uint8_t>(d[r + kNumFeatures]));
        }
      }
      ClassifierModel m;
      if (loaded) {
        m = *loaded;
      } else {
        m.nbBits = nbc.bits;
        m.nbCounts = nbc.counts;
        m.linear = fitLinear(tr, ytr, cfg.classifierL2, cfg.classifierTargetFpr);
        m.vote = fitVote(tr, ytr);
        m.trainDocs = ytr.size();
      }
      std::vector<double> pl, pv;
      for (std::size_t r = 0; r < yho.size(); ++r) {
        pl.push_back(m.linear.probability(&ho[r * kNumFeatures]));
        pv.push_back(m.vote.votes(&ho[r * kNumFeatures]) / 3.0);
      }
      const Metrics ml = evaluate(pl, yho, m.linear.threshold), mv = evaluate(pv, yho, 2.0 / 3.0);
      const std::vector<double> metrics{ml.precision,
                                        ml.recall,
                                        ml.f1,
                                        ml.auroc,
                                        ml.fpr,
                                        mv.precision,
                                        mv.recall,
                                        mv.f1,
                                        mv.auroc,
                                        mv.fpr,
                                        static_cast<double>(yho.size()),
                                        static_cast<double>(ml.positives),
                                        static_cast<double>(ml.negatives)};
      return packBytes(m, metrics);
    });
    ClassifierModel model;
    std::vector<double> metrics;
    unpackBytes(modelBytes, model, metrics);
    cl.enabled = true;
    cl.decision = cfg.classifierDecision;
    cl.source = loaded ? cfg.classifierModel : "fitted in-run";
    cl.threshold = model.linear.threshold;
    cl.targetFpr = cfg.classifierTargetFpr;
    for (int k = 0; k < 3; ++k) cl.voteThreshold[k] = model.vote.threshold[k];
    cl.weights = model.linear.weight;
    cl.trainDocs = model.trainDocs;
    cl.holdoutDocs = static_cast<std::uint64_t>(metrics[10]);
    std::copy(metrics.begin(), metrics.begin() + 5, cl.linear);
    std::copy(metrics.begin() + 5, metrics.begin() + 10, cl.vote);
    std::uint64_t suspected = 0;
    for (std::size_t i = 0; i < docs.size(); ++i) {
      double x[kNumFeatures];
      docs.features(i, x);
      bool flag;
      if (cfg.classifierDecision == "vote") {
        const int v = model.vote.votes(x);
        docs.pSynthetic[i] = v / 3.0;
        flag = v >= 2;
      } else {
        docs.pSynthetic[i] = model.linear.probability(x);
        flag = docs.pSynthetic[i] >= model.linear.threshold;
      }
      const auto p = static_cast<Provenance>(docs.provenance[i]);
      if (flag && (p == Provenance::HumanUnverified || p == Provenance::Unknown) &&
          cfg.sources[docs.source[i]].role != Role::Benchmark) {
        docs.inferred[i] = static_cast<std::uint8_t>(Provenance::SyntheticSuspected);
        ++suspected;
      }
    }
    cl.suspected = comm.allreduceSum(suspected);
    if (comm.isRoot()) {
      fmt::print(stderr,
                 "[cleanmix] classifier ({}): held-out {} docs; linear P {:.3f} R {:.3f} F1 {:.3f} "
                 "AUROC {:.3f} FPR {:.3f}; vote P {:.3f} R {:.3f} F1 {:.3f} AUROC {:.3f}; {} "
                 "documents inferred synthetic_suspected\n",
                 cl.source, cl.holdoutDocs, cl.linear[0], cl.linear[1], cl.linear[2], cl.linear[3],
                 cl.linear[4], cl.vote[0], cl.vote[1], cl.vote[2], cl.vote[3], cl.suspected);
      if (opts.calibrateOnly) {
        saveModel(model, opts.modelOut);
        fmt::print(stdout,
                   "held-out split: {} documents ({} synthetic_known, {} human_verified); "
                   "trained on {}\n"
                   "model   precision  recall     F1  AUROC    FPR  (threshold)\n"
                   "linear  {:9.3f} {:7.3f} {:6.3f} {:6.3f} {:6.3f}  (p >= {:.4f}, target FPR {})\n"
                   "vote    {:9.3f} {:7.3f} {:6.3f} {:6.3f} {:6.3f}  (2 of: log2 ppl < {:.3f}, "
                   "burstiness < {:.3f}, ttr < {:.3f})\nwrote {}\n",
                   cl.holdoutDocs, static_cast<std::uint64_t>(metrics[11]),
                   static_cast<std::uint64_t>(metrics[12]), cl.trainDocs, cl.linear[0],
                   cl.linear[1], cl.linear[2], cl.linear[3], cl.linear[4], cl.threshold,
                   cl.targetFpr, cl.vote[0], cl.vote[1], cl.vote[2], cl.vote[3], cl.vote[4],
                   cl.voteThreshold[0], cl.voteThreshold[1], cl.voteThreshold[2], opts.modelOut);
      }
    }
  } else if (comm.isRoot() && cfg.classifierEnabled) {
    fmt::print(stderr,
               "[cleanmix] classifier: skipped ({}); p_synthetic is NaN and inferred = "
               "declared\n",
               anchorDocs == 0 ? "no anchor documents, so no reference LM"
                               : "needs human_verified and synthetic_known sources, or a model");
  }
  lap(kClassify);
  if (opts.calibrateOnly) {
    if (!canClassify)
      throw CollectiveError(
          "cleanmix::calibrate: need anchor (human_verified) and "
          "synthetic_known sources to fit a classifier");
    return 0;
  }

  // ---- plan: eligibility, allocation, weights, repeats; then the mix's tail coverage ----
  if (cfg.planEnabled) {
    planStage(comm, cfg, docs, dedupIn.docOffset, run.plan);
    // Audit: every planned copy gets a training-order key; keys are uniform, so the key space
    // is split into equal ranges per rank (the copy goes to the owner of its key).
    const bool audit = cfg.auditEnabled;
    const bool materialize = !opts.materializeDir.empty();
    const bool needCopies = audit || materialize;
    const fs::path matDir = opts.materializeDir;
    if (materialize) {
      std::string err;
      if (comm.isRoot()) {
        std::error_code ec;
        fs::create_directories(matDir, ec);
        if (ec) err = fmt::format("cannot create '{}': {}", matDir.string(), ec.message());
      }
      comm.bcastBytes(err);
      if (!err.empty()) throw CollectiveError("cleanmix::materialize: " + err);
    }
    ShardWriter mixWriter(matDir, "mix", comm.rank(), cfg.materializeShardBytes);
    ShardWriter anchorWriter(matDir, "anchor", comm.rank(), cfg.materializeShardBytes);
    struct TextHeader {  // precedes each shipped text
      std::uint64_t doc, tokens, line, bytes;
      std::uint32_t source, shard;
      std::uint8_t provenance, pad[7];
    };
    std::vector<std::string> textOut(comm.size());
    auto identity = [&](std::uint32_t source, std::uint32_t shard, std::uint64_t line) {
      return fmt::format("{}:{}:{}", cfg.sources[source].name,
                         fs::path(table.shards[shard].path).filename().string(), line);
    };
    struct Copy {
      std::uint64_t key, doc, tokens, copy;
    };
    std::vector<std::vector<Copy>> copiesOut(comm.size());
    std::vector<std::vector<int>> copyDest(docs.size());  // ranks that need doc i's tokens
    if (needCopies)
      for (std::size_t i = 0; i < docs.size(); ++i)
        for (std::uint32_t k = 0; k < docs.repeats[i]; ++k) {
          const std::uint64_t key = copyKey(cfg.seed, dedupIn.docOffset + i, k);
          const int dest = static_cast<int>(
              (static_cast<unsigned __int128>(key) * static_cast<unsigned>(comm.size())) >> 64);
          copiesOut[dest].push_back({key, dedupIn.docOffset + i, docs.nTokens[i], k});
          if (std::find(copyDest[i].begin(), copyDest[i].end(), dest) == copyDest[i].end())
            copyDest[i].push_back(dest);
        }
    std::vector<std::vector<std::uint32_t>> tokensOut(comm.size());  // [doc lo, doc hi, n, buckets]
    std::vector<StreamSegment> anchorStream;
    // Third pass: the unigram histogram of the planned mix (repeats x token buckets), and the
    // bucket streams the audit needs.
    std::vector<std::uint64_t> mixCounts(nb, 0);
    std::size_t row = 0;
    progress.start("plan", pEnd - pBegin, myBytes);
    readPieces(
        cfg, table, pBegin, pEnd, nullptr, progress,
        [&](const TextBatch& b) {
          std::vector<std::uint8_t> want(b.size());
          bool any = false;
          for (std::size_t i = 0; i < b.size(); ++i) {
            const bool anchor = cfg.sources[docs.source[row + i]].role == Role::Anchor;
            want[i] = docs.repeats[row + i] > 0 || ((audit || materialize) && anchor);
            any |= want[i] != 0;
          }
          if (any) tokenizeBatch(*tokenizer, b, tdocs, false, nullptr, &want);
          for (std::size_t i = 0; i < b.size(); ++i, ++row) {
            if (!want[i]) continue;
            const auto& ids = tdocs[i].ids;
            for (const std::uint64_t id : ids) mixCounts[id & mask] += docs.repeats[row];
            const std::uint64_t doc = dedupIn.docOffset + row;
            if (materialize) {
              const std::string_view text = b.text(i);
              if (cfg.sources[docs.source[row]].role == Role::Anchor)
                anchorWriter.add(
                    {text, identity(docs.source[row], docs.shard[row], docs.line[row]),
                     cfg.sources[docs.source[row]].name,
                     std::string(toString(static_cast<Provenance>(docs.provenance[row]))), doc,
                     ids.size(), 0});
              for (const int dest : copyDest[row]) {
                TextHeader h{doc,
                             ids.size(),
                             docs.line[row],
                             text.size(),
                             docs.source[row],
                             docs.shard[row],
                             docs.inferred[row],
                             {}};
                textOut[dest].append(reinterpret_cast<const char*>(&h), sizeof h);
                textOut[dest].append(text);
              }
            }
            if (!audit) continue;
            if (cfg.sources[docs.source[row]].role == Role::Anchor) {
              StreamSegment seg;
              for (auto id : ids) seg.buckets.push_back(static_cast<std::uint32_t>(id & mask));
              anchorStream.push_back(std::move(seg));
            }
            for (const int dest : copyDest[row]) {
              auto& out = tokensOut[dest];
              out.push_back(static_cast<std::uint32_t>(doc));
              out.push_back(static_cast<std::uint32_t>(doc >> 32));
              out.push_back(static_cast<std::uint32_t>(ids.size()));
              for (auto id : ids) out.push_back(static_cast<std::uint32_t>(id & mask));
            }
          }
        },
        [](std::uint32_t, std::uint64_t, const std::string&) {});
    progress.finish();
    comm.allreduceSum(std::span<std::uint64_t>(mixCounts));
    run.plan.mix = computeVocabStats(mixCounts);
    // My copies in training (key) order.
    std::vector<Copy> copies;
    if (needCopies) {
      copies = comm.alltoallv(copiesOut);
      copiesOut = {};
      std::sort(copies.begin(), copies.end(),
                [](const Copy& a, const Copy& b) { return a.key < b.key; });
    }
    if (materialize) {
      std::vector<std::vector<char>> parts(comm.size());
      for (int r = 0; r < comm.size(); ++r) parts[r].assign(textOut[r].begin(), textOut[r].end());
      textOut = {};
      const std::vector<char> texts = comm.alltoallv(parts);
      std::unordered_map<std::uint64_t, std::size_t> at;  // doc -> header offset
      for (std::size_t o = 0; o < texts.size();) {
        TextHeader h;
        std::memcpy(&h, texts.data() + o, sizeof h);
        at[h.doc] = o;
        o += sizeof h + h.bytes;
      }
      for (const auto& c : copies) {
        TextHeader h;
        const std::size_t o = at.at(c.doc);
        std::memcpy(&h, texts.data() + o, sizeof h);
        mixWriter.add({std::string_view(texts.data() + o + sizeof h, h.bytes),
                       identity(h.source, h.shard, h.line), cfg.sources[h.source].name,
                       std::string(toString(static_cast<Provenance>(h.provenance))), h.doc,
                       h.tokens, static_cast<std::uint32_t>(c.copy)});
      }
      mixWriter.close();
      anchorWriter.close();
      writeManifest(comm, matDir, mixWriter.entries(), anchorWriter.entries(), cfg.seed,
                    run.plan.realised);
      if (comm.isRoot())
        fmt::print(stderr,
                   "[cleanmix] materialized the mix ({} tokens) and the anchor split in {}\n",
                   run.plan.realised, (matDir / "manifest.json").string());
    }
    if (audit) {
      const auto flat = comm.alltoallv(tokensOut);
      tokensOut = {};
      std::unordered_map<std::uint64_t, std::pair<std::size_t, std::uint32_t>>
          where;  // doc -> (at, n)
      for (std::size_t at = 0; at < flat.size();) {
        const std::uint64_t doc = flat[at] | (static_cast<std::uint64_t>(flat[at + 1]) << 32);
        const std::uint32_t len = flat[at + 2];
        where[doc] = {at + 3, len};
        at += 3 + len;
      }
      std::uint64_t myTokens = 0;
      for (const auto& c : copies) myTokens += c.tokens;
      std::uint64_t pos = comm.exscanSum(myTokens);
      std::vector<StreamSegment> train;
      for (const auto& c : copies) {
        const auto [at, len] = where.at(c.doc);
        StreamSegment seg;
        seg.start = pos;
        seg.buckets.assign(flat.begin() + static_cast<std::ptrdiff_t>(at),
                           flat.begin() + static_cast<std::ptrdiff_t>(at + len));
        pos += len;
        train.push_back(std::move(seg));
      }
      // Anchor stream: anchor documents in doc_id order (they are local and in order here).
      std::uint64_t myAnchor = 0;
      for (const auto& seg : anchorStream) myAnchor += seg.buckets.size();
      std::uint64_t apos = comm.exscanSum(myAnchor);
      for (auto& seg : anchorStream) {
        seg.start = apos;
        apos += seg.buckets.size();
      }
      const std::uint64_t W = cfg.auditBatchTokens;
      const WindowStats batches = windowStats(comm, train, W);
      const WindowStats windows = windowStats(comm, anchorStream, W);
      // Floor: the percentile of complete anchor windows (every rank gets them all).
      std::vector<double> full;
      for (std::size_t k = 0; k < windows.entropy.size(); ++k)
        if (windows.tokens[k] == W) full.push_back(windows.entropy[k]);
      std::vector<double> allFull =
          comm.alltoallv(std::vector<std::vector<double>>(comm.size(), full));
      std::sort(allFull.begin(), allFull.end());
      auto& au = run.audit;
      au.enabled = true;
      au.batchTokens = W;
      au.floorPercentile = cfg.auditFloorPercentile;
      au.absoluteFloor = cfg.auditAbsoluteFloor;
      au.anchorWindows = allFull.size();
      au.floorBits =
          allFull.empty()
              ? 0.0
              : allFull[static_cast<std::size_t>(std::floor(
                    cfg.auditFloorPercentile / 100.0 * static_cast<double>(allFull.size() - 1)))];
      const double floor = std::max(au.floorBits, cfg.auditAbsoluteFloor);
      au.block.first = batches.first;
      au.block.entropy = batches.entropy;
      au.block.types = batches.types;
      au.block.tokens = batches.tokens;
      std::uint64_t held = 0;
      for (std::size_t k = 0; k < batches.entropy.size(); ++k) {
        // Only complete batches are judged: a short final batch has less entropy by size alone.
        const bool hold = batches.tokens[k] == W && batches.entropy[k] < floor;
        au.block.hold.push_back(hold ? 1 : 0);
        held += hold;
      }
      au.held = comm.allreduceSum(held);
      au.batches = comm.allreduceSum<std::uint64_t>(batches.entropy.size());
      if (comm.isRoot())
        fmt::print(stderr,
                   "[cleanmix] audit: {} batches of {} tokens, floor {:.3f} bits (p{} of {} anchor "
                   "windows), {} held for review\n",
                   au.batches, W, floor, cfg.auditFloorPercentile, au.anchorWindows, au.held);
    }
    // Reference: the anchor unigram of the LM (its outcome counts, minus the boundary tokens).
    std::vector<std::uint64_t> ref(lm.uni(), lm.uni() + lm.uniSize());
    ref[lm::uniIndex(kBoundaryId, lm.uniSize() - 1)] -= anchorDocs;
    run.plan.reference = computeVocabStats(ref);
    run.plan.mixCounts = mixCounts;
    run.plan.referenceCounts = std::move(ref);
    if (comm.isRoot())
      fmt::print(stderr,
                 "[cleanmix] plan ({}): budget {:.0f}, planned {:.0f}, realised {}, shortfall "
                 "{:.0f}, synthetic share {:.4f} (cap {}); mix types {} vs reference {}\n",
                 cfg.planAllocation, run.plan.budget, run.plan.planned, run.plan.realised,
                 run.plan.shortfall,
                 run.plan.realised ? static_cast<double>(run.plan.realisedSynthetic) /
                                         static_cast<double>(run.plan.realised)
                                   : 0.0,
                 cfg.planSyntheticCap, run.plan.mix.types, run.plan.reference.types);
  }
  lap(kPlan);

  // ---- tables ----
  const std::size_t ns = cfg.sources.size();
  std::vector<std::uint64_t> srcTokens(ns, 0), srcReplaced(ns, 0),
      srcVerdicts(ns * kNumVerdicts, 0), srcInferred(ns * kNumProvenance, 0);
  for (std::size_t i = 0; i < docs.size(); ++i) {
    srcTokens[docs.source[i]] += docs.nTokens[i];
    srcReplaced[docs.source[i]] += docs.utf8Replaced[i];
    ++srcVerdicts[docs.source[i] * kNumVerdicts + docs.verdict[i]];
    ++srcInferred[docs.source[i] * kNumProvenance + docs.inferred[i]];
  }
  comm.allreduceSum(std::span<std::uint64_t>(srcTokens));
  comm.allreduceSum(std::span<std::uint64_t>(srcReplaced));
  comm.allreduceSum(std::span<std::uint64_t>(srcVerdicts));
  comm.allreduceSum(std::span<std::uint64_t>(srcInferred));
  comm.allreduceSum(std::span<std::uint64_t>(benchDirtyLocal));
  run.sources.resize(ns);
  for (std::size_t s = 0; s < ns; ++s) {
    run.sources[s].name = cfg.sources[s].name;
    run.sources[s].provenance = static_cast<std::uint8_t>(cfg.sources[s].provenance);
    run.sources[s].role = static_cast<std::uint8_t>(cfg.sources[s].role);
    run.sources[s].nTokens = srcTokens[s];
    run.sources[s].utf8Replaced = srcReplaced[s];
    run.sources[s].verdictCounts.assign(srcVerdicts.begin() + s * kNumVerdicts,
                                        srcVerdicts.begin() + (s + 1) * kNumVerdicts);
    run.sources[s].inferredCounts.assign(srcInferred.begin() + s * kNumProvenance,
                                         srcInferred.begin() + (s + 1) * kNumProvenance);
    if (benchBit[s] >= 0) {
      run.sources[s].benchNgrams = benchNgrams[s];
      run.sources[s].benchSkipped = benchSkipped[s];
      run.sources[s].dirtyDocs = benchDirtyLocal[benchBit[s]];
    }
  }
  run.shards.resize(table.shards.size());
  for (std::size_t i = 0; i < table.shards.size(); ++i) {
    run.shards[i].path = table.shards[i].path;
    run.shards[i].source = table.shards[i].source;
    run.shards[i].nBytes = table.shards[i].bytes;
    auto& src = run.sources[table.shards[i].source];
    ++src.nShards;
    src.nBytes += table.shards[i].bytes;
  }
  for (std::size_t p = 0; p < table.pieces.size(); ++p) {
    auto& sh = run.shards[table.pieces[p].shard];
    sh.nLines += tally.lines[p];
    sh.nDocs += tally.docs[p];
    sh.nErrors += tally.errors[p];
    auto& src = run.sources[sh.source];
    src.nDocs += tally.docs[p];
    src.nQuarantined += tally.errors[p];
  }
  run.vocabClasses = provenanceLabels();
  run.vocabClasses.push_back("anchor+pool");
  run.vocabCounts = std::move(counts);
  for (int c = 0; c < kNumProvenance; ++c)
    run.vocabStats.push_back(
        computeVocabStats(std::span<const std::uint64_t>(run.vocabCounts.data() + c * nb, nb)));
  run.vocabStats.push_back(computeVocabStats(unigram));
  run.configText = cfg.effectiveToml;
  run.seed = cfg.seed;
  run.vocabBits = cfg.vocabBits;
  run.tokenizer = std::string(tokenizer->name());
  run.backend = scorer->backend();
  run.errors = std::move(errors);
  run.lm.unigramBits = cfg.vocabBits;
  run.lm.tableBits = cfg.lmTableBits;
  for (int k = 0; k < 3; ++k) run.lm.lambda[k] = cfg.lmLambda[k];
  run.lm.tableBytes = lm.bytes();
  run.lm.anchorDocs = anchorDocs;
  for (std::size_t b = 0; b < lm.uniSize(); ++b) run.lm.predictedTokens += lm.table[b];
  looBitsMicro = comm.allreduceSum(looBitsMicro);
  looTokens = comm.allreduceSum(looTokens);
  run.lm.anchorLooPerplexity =
      looTokens
          ? std::exp2(static_cast<double>(looBitsMicro) / 1e6 / static_cast<double>(looTokens))
          : 0.0;
  run.dedup = {cfg.dedupEnabled, cfg.dedupBands,       cfg.dedupRows,
               cfg.dedupShingle, dedup.candidatePairs, dedup.clusters,
               dedup.duplicates, dedup.rounds,         comm.allreduceMax(dedup.alltoallvBytes)};
  run.decontam.ngram = cfg.decontamNgram;
  run.decontam.minWords = cfg.decontamMinWords;
  run.decontam.indexNgrams = benchIndex.size();
  for (const auto& src : run.sources)
    run.decontam.contaminatedDocs += src.verdictCounts[static_cast<int>(Verdict::Contaminated)];
  run.phaseNames = kPhaseNames;
  run.peakRssBytes = peakRssBytes();

  // ---- write (the /timing row is taken just before it is written, so it covers the write) ----
  writeRunFile(comm, cfg.output, run, [&] {
    lap(kWrite);
    return timing;
  });

  const double maxRss = static_cast<double>(comm.allreduceMax(run.peakRssBytes));
  if (comm.isRoot()) {
    std::error_code ec;
    fs::create_directories(cfg.workdir, ec);
    if (!ec) writeManifest(cfg, manifestPath);
    // The run is complete and recorded: its checkpoints are no longer needed.
    if (store.enabled() && !cfg.keepCheckpoints) store.remove();
    std::uint64_t nd = 0, nq = 0, nl = 0;
    for (const auto& s : run.sources) {
      nd += s.nDocs;
      nq += s.nQuarantined;
    }
    for (const auto& s : run.shards) nl += s.nLines;
    fmt::print(stderr,
               "[cleanmix] wrote {}: {} docs, {} quarantined, {} input lines ({}), {:.2f} s, "
               "peak RSS {:.1f} MB (max over ranks)\n",
               cfg.output.string(), nd, nq, nl, nd + nq == nl ? "reconciled" : "MISMATCH",
               std::accumulate(timing.begin(), timing.end(), 0.0), maxRss / 1e6);
  }
  return 0;
}

}  // namespace cleanmix
