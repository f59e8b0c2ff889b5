// The driver: the order of the stages and the run context they share. Each stage lives in
// stages/ (its Params, inputs and Result in its header); nothing here computes a document's
// value, packs a wire record or builds a table.
#include "cleanmix/driver/run.hpp"

#include <fmt/format.h>
#include <omp.h>

#include <memory>
#include <optional>

#include "cleanmix/classify/setup.hpp"
#include "cleanmix/comm/communicator.hpp"
#include "cleanmix/core/error.hpp"
#include "cleanmix/driver/manifest.hpp"
#include "cleanmix/driver/workdir_lock.hpp"
#include "cleanmix/output/writer.hpp"
#include "cleanmix/stages/audit.hpp"
#include "cleanmix/stages/checkpoint.hpp"
#include "cleanmix/stages/classify.hpp"
#include "cleanmix/stages/count.hpp"
#include "cleanmix/stages/dedup.hpp"
#include "cleanmix/stages/index.hpp"
#include "cleanmix/stages/materialize.hpp"
#include "cleanmix/stages/mix.hpp"
#include "cleanmix/stages/plan.hpp"
#include "cleanmix/stages/score.hpp"

namespace cleanmix {
namespace {

/// The /timing columns, in the order the phases run.
const std::vector<std::string> kPhases{"index", "count",    "reduce", "score",
                                       "dedup", "classify", "plan",   "write"};

CountParams countParams(const RunConfig& cfg) {
  CountParams p;
  p.vocabBits = cfg.tokenizer.vocabBits;
  p.lm = cfg.lm;
  p.lm.unigramBits = cfg.tokenizer.vocabBits;
  p.decontam = cfg.decontam;
  p.ingest = cfg.ingest;
  p.batchBytes = cfg.score.batchBytes;
  p.checkpointSeconds = cfg.run.checkpointSeconds;
  return p;
}

MixPassParams mixParams(const RunConfig& cfg, bool audit) {
  MixPassParams p;
  p.seed = cfg.run.seed;
  p.vocabBits = cfg.tokenizer.vocabBits;
  p.ingest = cfg.ingest;
  p.batchBytes = cfg.score.batchBytes;
  p.audit = audit;
  p.auditWindow = cfg.audit.batchTokens;
  p.roundBytes = cfg.materialize.roundBytes;
  p.spillDir = cfg.run.workdir / "mixtext";
  return p;
}

/// `cleanmix calibrate`: the fitted model is saved and its held-out table printed (rank 0).
int finishCalibration(const Communicator& comm, const ClassifierSetup& setup,
                      const CountResult& counts, const ClassifyResult& cl,
                      const std::string& modelOut) {
  if (!setup.active || counts.anchorDocs == 0)
    throw CollectiveError(
        "cleanmix::calibrate: need anchor (human_verified) and synthetic_known sources to fit a "
        "classifier");
  if (comm.isRoot()) {
    saveModel(cl.model, modelOut);
    printCalibration(stdout, cl.summary, modelOut);
  }
  return 0;
}

/// Plan, then the mix pass over the planned documents (the mix's tail coverage, the copies in
/// training order), materialize and audit. Leaves the plan and audit summaries in `r`.
void planMixAudit(const Communicator& comm, const RunConfig& cfg, const RunOptions& opts,
                  const Corpus& corpus, const Tokenizer& tokenizer, std::uint64_t docOffset,
                  StageResults& r, Progress& progress) {
  DocRows& docs = r.score.rows.d;
  r.plan = runPlan(comm, cfg.plan, cfg.sources, cfg.run.seed, docs, docOffset);
  std::unique_ptr<Materializer> materializer;
  if (!opts.materializeDir.empty())
    materializer = std::make_unique<Materializer>(comm, cfg.materialize, opts.materializeDir,
                                                  corpus, tokenizer);
  MixPass mix = runMixPass(comm, mixParams(cfg, cfg.audit.enabled), corpus, tokenizer, docs,
                           docOffset, materializer.get(), progress);
  if (materializer) materializer->finish(mix, cfg.run.seed, r.plan.realised);
  if (cfg.audit.enabled) r.audit = runAudit(comm, cfg.audit, mix);
  setCoverage(r.plan, mix.mixCounts, referenceUnigram(r.counts), comm.isRoot());
}

}  // namespace

int runPipeline(const RunConfig& cfg, const Communicator& comm, const RunOptions& opts) {
  // One run per work directory, before anything in it is read or removed (calibrate writes
  // nothing there).
  std::optional<WorkdirLock> lock;
  if (!opts.calibrateOnly) lock.emplace(comm, cfg.run.workdir, cfg.run.output.string());
  if (opts.resume && alreadyComplete(comm, cfg)) {
    return 0;
  }
  if (cfg.score.ompThreads > 0) {
    omp_set_num_threads(cfg.score.ompThreads);
    // The Kokkos OpenMP pool was sized at start-up (OMP_NUM_THREADS); the host regions now use
    // score.omp_threads. Not an error (they take turns), but one of them leaves cores idle.
    const auto scorer = makeSignalScorer(cfg.score.backend);
    if (comm.isRoot() && scorer->backend() == "OpenMP" &&
        scorer->concurrency() != cfg.score.ompThreads)
      fmt::print(stderr,
                 "[cleanmix] note: score.omp_threads = {} host threads, but the Kokkos OpenMP "
                 "kernels have {} (OMP_NUM_THREADS at start); set OMP_NUM_THREADS={} to match\n",
                 cfg.score.ompThreads, scorer->concurrency(), cfg.score.ompThreads);
  }
  // Checkpoints (not for calibrate, which writes no run file).
  const ckpt::Store store(cfg.run.workdir, checkpointKey(cfg),
                          cfg.run.checkpoint && !opts.calibrateOnly);
  if (store.enabled()) ckpt::installStopHandler();
  PhaseTimer timer(kPhases);
  Progress progress(comm.isRoot(), cfg.run.progressSeconds);
  const StageEnv env{progress, timer, store, [] { return ckpt::stopSignal(); }};

  const Corpus corpus = runIndex(comm, cfg.sources, cfg.ingest, opts.resume, env);
  timer.lap("index");

  const auto tokenizer = makeTokenizer(cfg.tokenizer);
  const ClassifierSetup classifier = setupClassifier(cfg.classifier, cfg.sources);
  StageResults r;
  r.corpus = &corpus;
  r.counts = runCount(comm, countParams(cfg), corpus, *tokenizer, classifier, env);
  if (r.counts.stopped) return ckpt::kExitStopped;
  timer.lap("reduce");

  r.score = runScore(comm, cfg.score, cfg.ingest, cfg.dedup.minHash(cfg.run.seed), corpus,
                     *tokenizer, r.counts, classifier, env);
  if (r.score.stopped) return ckpt::kExitStopped;
  const std::uint64_t docOffset = comm.exscanSum(r.score.rows.size());

  DedupParams dedup = cfg.dedup;
  dedup.enabled &= !opts.calibrateOnly;
  r.dedup = runDedup(comm, dedup, cfg.sources, r.score.rows, docOffset);
  if (comm.isRoot() && dedup.enabled)
    fmt::print(stderr,
               "[cleanmix] dedup: {} candidate pairs, {} clusters, {} duplicates, {} label rounds; "
               "decontam: {} benchmark n-grams\n",
               r.dedup.candidatePairs, r.dedup.clusters, r.dedup.duplicates, r.dedup.rounds,
               r.counts.bench.size());
  timer.lap("dedup");

  const ClassifyResult cl =
      runClassify(comm, cfg.classifier, classifier, r.counts.nb, r.counts.anchorDocs, cfg.sources,
                  r.score.rows, docOffset, cfg.run.seed);
  r.classifier = cl.summary;
  timer.lap("classify");
  if (opts.calibrateOnly) return finishCalibration(comm, classifier, r.counts, cl, opts.modelOut);

  if (cfg.plan.enabled) planMixAudit(comm, cfg, opts, corpus, *tokenizer, docOffset, r, progress);
  timer.lap("plan");

  const RunInfo info{cfg.effectiveToml, cfg.run.seed, std::string(tokenizer->name()),
                     tokenizer->identity()};
  runWrite(comm, cfg.run.output, info, std::move(r), timer);
  recordCompletion(comm, cfg, store);
  return 0;
}

}  // namespace cleanmix
