#include "cleanmix/output/writer.hpp"

#include <sys/statvfs.h>

#include <array>
#include <cstdio>
#include <system_error>

#include "cleanmix/classify/model.hpp"
#include "cleanmix/comm/communicator.hpp"
#include "cleanmix/core/config.hpp"
#include "cleanmix/core/error.hpp"
#include "cleanmix/core/columns.hpp"
#include "cleanmix/core/types.hpp"
#include "cleanmix/output/h5.hpp"

namespace cleanmix {
namespace fs = std::filesystem;

namespace {

template <class T>
std::span<const T> sp(const std::vector<T>& v) {
  return {v.data(), v.size()};
}

/// Replicated small table: rank 0 writes all rows, the others join with none.
template <class T>
void writeReplicated(const Communicator& c, const h5::ParallelFile& f, hid_t g,
                     const std::string& name, const std::vector<T>& all) {
  const std::span<const T> mine = c.isRoot() ? sp(all) : std::span<const T>{};
  h5::writeColumn<T>(f, g, name, mine, 0, all.size());
}

void writeReplicatedStrings(const Communicator& c, const h5::ParallelFile& f, hid_t g,
                            const std::string& name, const std::vector<std::string>& all) {
  std::size_t width = 1;
  for (const auto& s : all) width = std::max(width, s.size());
  h5::writeStrings(f, g, name, c.isRoot() ? all : std::vector<std::string>{}, 0, all.size(), width);
}

template <class Row, class T, class Get>
std::vector<T> column(const std::vector<Row>& rows, Get get) {
  std::vector<T> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(static_cast<T>(get(r)));
  return out;
}

/// The `labels` attribute of an enumeration column.
const std::vector<std::string>* labelsOf(Labels l) {
  switch (l) {
    case Labels::Provenance: return &provenanceLabels();
    case Labels::Verdict: return &verdictLabels();
    case Labels::None: return nullptr;
  }
  return nullptr;
}

/// /docs: doc_id, then every registry column (those of the plan only when it ran), each with
/// its `meaning` and, for enumerations, `labels`. The group's `columns` attribute lists them.
void writeDocs(const Communicator& c, const h5::ParallelFile& f, const DocRows& d, bool planRan) {
  const std::uint64_t n = d.size();
  const std::uint64_t off = c.exscanSum(n);
  const std::uint64_t total = c.allreduceSum(n);
  h5::Id g = f.createGroup(f.id(), "docs");
  h5::writeAttr(g, "n_docs", total);
  std::vector<std::uint64_t> docId(n);
  for (std::uint64_t i = 0; i < n; ++i) docId[i] = off + i;
  h5::writeColumn<std::uint64_t>(f, g, "doc_id", sp(docId), off, total);
  std::vector<std::string> names{"doc_id"};
  d.visit([&](const ColumnInfo& ci, const auto& v) {
    if (ci.stage == ColumnStage::Plan && !planRan) return;
    using T = typename std::decay_t<decltype(v)>::value_type;
    const std::string name(ci.name);
    h5::writeColumn<T>(f, g, name, sp(v), off, total);
    h5::Id ds(h5::checkId(H5Dopen2(g, name.c_str(), H5P_DEFAULT), "writeDocs"), H5Dclose);
    h5::writeAttr(ds, "meaning", std::string(ci.meaning));
    if (const auto* labels = labelsOf(ci.labels)) h5::writeAttr(ds, "labels", *labels);
    names.push_back(name);
  });
  h5::writeAttr(g, "columns", names);
}

void writeErrors(const Communicator& c, const h5::ParallelFile& f,
                 const std::vector<ErrorRow>& errors) {
  const std::uint64_t n = errors.size();
  const std::uint64_t off = c.exscanSum(n);
  const std::uint64_t total = c.allreduceSum(n);
  std::uint64_t width = 1;
  for (const auto& e : errors) width = std::max<std::uint64_t>(width, e.reason.size());
  width = c.allreduceMax(width);
  h5::Id g = f.createGroup(f.id(), "errors");
  h5::writeAttr(g, "n_errors", total);
  h5::writeColumn<std::uint32_t>(
      f, g, "shard", sp(column<ErrorRow, std::uint32_t>(errors, [](auto& e) { return e.shard; })),
      off, total);
  h5::writeColumn<std::uint64_t>(
      f, g, "line", sp(column<ErrorRow, std::uint64_t>(errors, [](auto& e) { return e.line; })),
      off, total);
  std::vector<std::string> reasons;
  for (const auto& e : errors) reasons.push_back(e.reason);
  h5::writeStrings(f, g, "reason", reasons, off, total, width);
}

/// Per-source count matrices: documents per verdict and per inferred provenance.
void writeSourceMatrices(const Communicator& c, const h5::ParallelFile& f, hid_t g,
                         const std::vector<SourceRow>& s) {
  auto matrix = [&](const char* name, std::vector<std::uint64_t> SourceRow::*member,
                    std::uint64_t cols, const std::vector<std::string>& labels) {
    std::vector<std::uint64_t> m;
    for (const auto& r : s) m.insert(m.end(), (r.*member).begin(), (r.*member).end());
    h5::writeMatrix<std::uint64_t>(
        f, g, name,
        c.isRoot() ? std::span<const std::uint64_t>(m) : std::span<const std::uint64_t>{}, 0,
        s.size(), cols);
    h5::Id ds(h5::checkId(H5Dopen2(g, name, H5P_DEFAULT), "writeSources"), H5Dclose);
    h5::writeAttr(ds, "columns", labels);
  };
  matrix("verdict_counts", &SourceRow::verdictCounts, kNumVerdicts, verdictLabels());
  matrix("inferred_counts", &SourceRow::inferredCounts, kNumProvenance, provenanceLabels());
}

void writeSources(const Communicator& c, const h5::ParallelFile& f,
                  const std::vector<SourceRow>& s) {
  h5::Id g = f.createGroup(f.id(), "sources");
  writeReplicatedStrings(c, f, g, "name",
                         column<SourceRow, std::string>(s, [](auto& r) { return r.name; }));
  writeReplicated(c, f, g, "provenance",
                  column<SourceRow, std::uint8_t>(s, [](auto& r) { return r.provenance; }));
  writeReplicated(c, f, g, "role",
                  column<SourceRow, std::uint8_t>(s, [](auto& r) { return r.role; }));
  {
    h5::Id p(h5::checkId(H5Dopen2(g, "provenance", H5P_DEFAULT), "writeSources"), H5Dclose);
    h5::writeAttr(p, "labels", provenanceLabels());
    h5::Id r(h5::checkId(H5Dopen2(g, "role", H5P_DEFAULT), "writeSources"), H5Dclose);
    h5::writeAttr(r, "labels", roleLabels());
  }
  writeReplicated(c, f, g, "n_shards",
                  column<SourceRow, std::uint64_t>(s, [](auto& r) { return r.nShards; }));
  writeReplicated(c, f, g, "n_docs",
                  column<SourceRow, std::uint64_t>(s, [](auto& r) { return r.nDocs; }));
  writeReplicated(c, f, g, "n_tokens",
                  column<SourceRow, std::uint64_t>(s, [](auto& r) { return r.nTokens; }));
  writeReplicated(c, f, g, "n_bytes",
                  column<SourceRow, std::uint64_t>(s, [](auto& r) { return r.nBytes; }));
  writeReplicated(c, f, g, "n_quarantined",
                  column<SourceRow, std::uint64_t>(s, [](auto& r) { return r.nQuarantined; }));
  writeReplicated(c, f, g, "bench_ngrams",
                  column<SourceRow, std::uint64_t>(s, [](auto& r) { return r.benchNgrams; }));
  writeReplicated(c, f, g, "bench_items_skipped",
                  column<SourceRow, std::uint64_t>(s, [](auto& r) { return r.benchSkipped; }));
  writeReplicated(c, f, g, "n_dirty",
                  column<SourceRow, std::uint64_t>(s, [](auto& r) { return r.dirtyDocs; }));
  writeSourceMatrices(c, f, g, s);
  writeReplicated(c, f, g, "utf8_replaced",
                  column<SourceRow, std::uint64_t>(s, [](auto& r) { return r.utf8Replaced; }));
}

void writeShards(const Communicator& c, const h5::ParallelFile& f, const std::vector<ShardRow>& s) {
  h5::Id g = f.createGroup(f.id(), "shards");
  writeReplicatedStrings(c, f, g, "path",
                         column<ShardRow, std::string>(s, [](auto& r) { return r.path; }));
  writeReplicated(c, f, g, "source",
                  column<ShardRow, std::uint32_t>(s, [](auto& r) { return r.source; }));
  writeReplicated(c, f, g, "n_lines",
                  column<ShardRow, std::uint64_t>(s, [](auto& r) { return r.nLines; }));
  writeReplicated(c, f, g, "n_bytes",
                  column<ShardRow, std::uint64_t>(s, [](auto& r) { return r.nBytes; }));
  writeReplicated(c, f, g, "n_docs",
                  column<ShardRow, std::uint64_t>(s, [](auto& r) { return r.nDocs; }));
  writeReplicated(c, f, g, "n_errors",
                  column<ShardRow, std::uint64_t>(s, [](auto& r) { return r.nErrors; }));
}

void writeVocab(const Communicator& c, const h5::ParallelFile& f, const RunOutput& run) {
  h5::Id g = f.createGroup(f.id(), "vocab");
  h5::writeAttr(g, "vocab_bits", static_cast<std::uint64_t>(run.vocabBits));
  h5::writeAttr(g, "tokenizer", run.tokenizer);
  const std::uint64_t nb = std::uint64_t{1} << run.vocabBits;
  const std::uint64_t classes = run.vocabCounts.size() / nb;
  // counts are replicated: each rank writes a contiguous block of rows-by-buckets? Rows are
  // classes (few); split the flattened array into equal slabs by writing per class row blocks.
  {
    const std::uint64_t r0 = classes * c.rank() / c.size(),
                        r1 = classes * (c.rank() + 1) / c.size();
    std::span<const std::uint64_t> mine(run.vocabCounts.data() + r0 * nb, (r1 - r0) * nb);
    h5::writeMatrix<std::uint64_t>(f, g, "counts", mine, r0, classes, nb);
    h5::Id ds(h5::checkId(H5Dopen2(g, "counts", H5P_DEFAULT), "writeVocab"), H5Dclose);
    h5::writeAttr(ds, "rows", run.vocabClasses);
  }
  h5::Id st = f.createGroup(g, "stats");
  const auto& v = run.vocabStats;
  writeReplicatedStrings(c, f, st, "class", run.vocabClasses);
  writeReplicated(c, f, st, "tokens",
                  column<VocabStats, std::uint64_t>(v, [](auto& r) { return r.tokens; }));
  writeReplicated(c, f, st, "types",
                  column<VocabStats, std::uint64_t>(v, [](auto& r) { return r.types; }));
  writeReplicated(c, f, st, "entropy_bits",
                  column<VocabStats, double>(v, [](auto& r) { return r.entropyBits; }));
  writeReplicated(c, f, st, "miller_madow_bits",
                  column<VocabStats, double>(v, [](auto& r) { return r.millerMadowBits; }));
  writeReplicated(c, f, st, "f1",
                  column<VocabStats, std::uint64_t>(v, [](auto& r) { return r.f1; }));
  writeReplicated(c, f, st, "f2",
                  column<VocabStats, std::uint64_t>(v, [](auto& r) { return r.f2; }));
  writeReplicated(c, f, st, "chao1",
                  column<VocabStats, double>(v, [](auto& r) { return r.chao1; }));
}

void writeLm(const h5::ParallelFile& f, const RunOutput& run) {
  h5::Id g = f.createGroup(f.id(), "lm");
  h5::writeAttr(g, "kind", std::string("interpolated Jelinek-Mercer, hashed counts"));
  h5::writeAttr(g, "order", std::uint64_t{3});
  h5::writeAttr(g, "unigram_bits", static_cast<std::uint64_t>(run.lm.unigramBits));
  h5::writeAttr(g, "table_bits", static_cast<std::uint64_t>(run.lm.tableBits));
  h5::writeAttr(g, "table_bytes_per_rank", run.lm.tableBytes);
  h5::writeAttr(g, "lambda_unigram", run.lm.lambda[0]);
  h5::writeAttr(g, "lambda_bigram", run.lm.lambda[1]);
  h5::writeAttr(g, "lambda_trigram", run.lm.lambda[2]);
  h5::writeAttr(g, "anchor_docs", run.lm.anchorDocs);
  h5::writeAttr(g, "predicted_tokens", run.lm.predictedTokens);
  h5::writeAttr(g, "anchor_loo_perplexity", run.lm.anchorLooPerplexity);
}

void writeContam(const h5::ParallelFile& f, const RunOutput& run) {
  h5::Id g = f.createGroup(f.id(), "dedup");
  h5::writeAttr(g, "enabled", std::uint64_t{run.dedup.enabled ? 1u : 0u});
  h5::writeAttr(g, "method", std::string("MinHash LSH over word shingles + exact text hash"));
  h5::writeAttr(g, "bands", static_cast<std::uint64_t>(run.dedup.bands));
  h5::writeAttr(g, "rows", static_cast<std::uint64_t>(run.dedup.rows));
  h5::writeAttr(g, "shingle_words", static_cast<std::uint64_t>(run.dedup.shingle));
  h5::writeAttr(g, "candidate_pairs", run.dedup.candidatePairs);
  h5::writeAttr(g, "clusters", run.dedup.clusters);
  h5::writeAttr(g, "duplicates", run.dedup.duplicates);
  h5::writeAttr(g, "label_rounds", run.dedup.rounds);
  h5::Id d = f.createGroup(f.id(), "decontam");
  h5::writeAttr(d, "rule",
                std::string("GPT-3: n-grams of lower-cased, punctuation-stripped words"));
  h5::writeAttr(d, "ngram", static_cast<std::uint64_t>(run.decontam.ngram));
  h5::writeAttr(d, "min_words", static_cast<std::uint64_t>(run.decontam.minWords));
  h5::writeAttr(d, "benchmark_ngrams", run.decontam.indexNgrams);
  h5::writeAttr(d, "contaminated_docs", run.decontam.contaminatedDocs);
}

void writeClassifier(const h5::ParallelFile& f, const RunOutput& run) {
  const auto& c = run.classifier;
  h5::Id g = f.createGroup(f.id(), "classifier");
  h5::writeAttr(g, "enabled", std::uint64_t{c.enabled ? 1u : 0u});
  if (!c.enabled) return;
  h5::writeAttr(g, "decision", c.decision);
  h5::writeAttr(g, "model", c.source);
  h5::writeAttr(g, "features", featureNames());
  h5::writeAttr(g, "linear_threshold", c.threshold);
  h5::writeAttr(g, "target_fpr", c.targetFpr);
  h5::writeAttr(g, "vote_threshold_log2_ppl", c.voteThreshold[0]);
  h5::writeAttr(g, "vote_threshold_burstiness", c.voteThreshold[1]);
  h5::writeAttr(g, "vote_threshold_ttr", c.voteThreshold[2]);
  h5::writeAttr(g, "train_docs", c.trainDocs);
  h5::writeAttr(g, "holdout_docs", c.holdoutDocs);
  h5::writeAttr(g, "inferred_synthetic_suspected", c.suspected);
  const char* m[5] = {"precision", "recall", "f1", "auroc", "fpr"};
  for (int k = 0; k < 5; ++k) {
    h5::writeAttr(g, std::string("holdout_linear_") + m[k], c.linear[k]);
    h5::writeAttr(g, std::string("holdout_vote_") + m[k], c.vote[k]);
  }
}

void writePlan(const Communicator& c, const h5::ParallelFile& f, const RunOutput& run) {
  const auto& p = run.plan;
  if (!p.enabled) return;
  h5::Id g = f.createGroup(f.id(), "plan");
  {
    h5::Id s = f.createGroup(g, "sources");
    writeReplicated(c, f, s, "eligible_human", p.eligible[0]);
    writeReplicated(c, f, s, "eligible_synthetic", p.eligible[1]);
    writeReplicated(c, f, s, "planned_human", p.planned_[0]);
    writeReplicated(c, f, s, "planned_synthetic", p.planned_[1]);
    writeReplicated(c, f, s, "realised_human", p.realisedBy[0]);
    writeReplicated(c, f, s, "realised_synthetic", p.realisedBy[1]);
    writeReplicated(c, f, s, "epochs", p.epochs);
    writeReplicated(c, f, s, "weight", p.weight);
  }
  {
    h5::Id s = f.createGroup(g, "summary");
    h5::writeAttr(s, "allocation", p.allocation);
    h5::writeAttr(s, "budget_tokens", p.budget);
    h5::writeAttr(s, "planned_tokens", p.planned);
    h5::writeAttr(s, "realised_tokens", p.realised);
    h5::writeAttr(s, "realised_synthetic_tokens", p.realisedSynthetic);
    h5::writeAttr(s, "realised_synthetic_share",
                  p.realised
                      ? static_cast<double>(p.realisedSynthetic) / static_cast<double>(p.realised)
                      : 0.0);
    h5::writeAttr(s, "planned_synthetic_share", p.plannedSyntheticShare);
    h5::writeAttr(s, "shortfall_tokens", p.shortfall);
    h5::writeAttr(s, "synthetic_cap", p.syntheticCap);
    h5::writeAttr(s, "synthetic_cap_binding", std::uint64_t{p.syntheticCapBinding ? 1u : 0u});
    h5::writeAttr(s, "max_epochs", p.maxEpochs);
    h5::writeAttr(s, "max_repeats", p.maxRepeats);
    h5::writeAttr(s, "temperature_alpha", p.alpha);
  }
  {  // the two histograms behind the coverage rows, for rank-frequency plots
    const std::uint64_t nb = p.mixCounts.size();
    std::vector<std::uint64_t> both(p.mixCounts);
    both.insert(both.end(), p.referenceCounts.begin(), p.referenceCounts.end());
    const std::uint64_t r0 = 2 * c.rank() / c.size(), r1 = 2 * (c.rank() + 1) / c.size();
    h5::writeMatrix<std::uint64_t>(
        f, g, "unigram_counts",
        std::span<const std::uint64_t>(both.data() + r0 * nb, (r1 - r0) * nb), r0, 2, nb);
    h5::Id ds(h5::checkId(H5Dopen2(g, "unigram_counts", H5P_DEFAULT), "writePlan"), H5Dclose);
    h5::writeAttr(ds, "rows", std::vector<std::string>{"mix", "reference"});
  }
  {  // tail coverage: row 0 the planned mix, row 1 the reference (anchor) unigram
    h5::Id s = f.createGroup(g, "coverage");
    const std::vector<VocabStats> rows{p.mix, p.reference};
    writeReplicatedStrings(c, f, s, "name", std::vector<std::string>{"mix", "reference"});
    writeReplicated(c, f, s, "tokens",
                    column<VocabStats, std::uint64_t>(rows, [](auto& r) { return r.tokens; }));
    writeReplicated(c, f, s, "types",
                    column<VocabStats, std::uint64_t>(rows, [](auto& r) { return r.types; }));
    writeReplicated(c, f, s, "f1",
                    column<VocabStats, std::uint64_t>(rows, [](auto& r) { return r.f1; }));
    writeReplicated(c, f, s, "good_turing_unseen", column<VocabStats, double>(rows, [](auto& r) {
                      return r.tokens ? static_cast<double>(r.f1) / static_cast<double>(r.tokens)
                                      : 0.0;
                    }));
    writeReplicated(c, f, s, "chao1",
                    column<VocabStats, double>(rows, [](auto& r) { return r.chao1; }));
    writeReplicated(c, f, s, "entropy_bits",
                    column<VocabStats, double>(rows, [](auto& r) { return r.entropyBits; }));
    writeReplicated(c, f, s, "miller_madow_bits",
                    column<VocabStats, double>(rows, [](auto& r) { return r.millerMadowBits; }));
  }
}

void writeAudit(const h5::ParallelFile& f, const RunOutput& run) {
  const auto& a = run.audit;
  if (!a.enabled) return;
  h5::Id g = f.createGroup(f.id(), "audit");
  h5::writeAttr(g, "batch_tokens", a.batchTokens);
  h5::writeAttr(g, "floor_percentile", a.floorPercentile);
  h5::writeAttr(g, "floor_bits", a.floorBits);
  h5::writeAttr(g, "absolute_floor_bits", a.absoluteFloor);
  h5::writeAttr(g, "anchor_windows", a.anchorWindows);
  h5::writeAttr(g, "n_batches", a.batches);
  h5::writeAttr(g, "n_held", a.held);
  h5::writeAttr(g, "order", std::string("counter-based key per (seed, doc_id, copy), ascending"));
  h5::Id b = f.createGroup(g, "batches");
  const auto& k = a.block;
  h5::writeColumn<double>(f, b, "entropy_bits", std::span<const double>(k.entropy), k.first,
                          a.batches);
  h5::writeColumn<std::uint32_t>(f, b, "n_types", std::span<const std::uint32_t>(k.types), k.first,
                                 a.batches);
  h5::writeColumn<std::uint64_t>(f, b, "n_tokens", std::span<const std::uint64_t>(k.tokens),
                                 k.first, a.batches);
  h5::writeColumn<std::uint8_t>(f, b, "hold", std::span<const std::uint8_t>(k.hold), k.first,
                                a.batches);
}

void writeTiming(const Communicator& c, const h5::ParallelFile& f, const RunOutput& run,
                 const std::vector<double>& timing) {
  const std::uint64_t phases = run.phaseNames.size();
  h5::writeMatrix<double>(f, f.id(), "timing", std::span<const double>(timing),
                          static_cast<std::uint64_t>(c.rank()),
                          static_cast<std::uint64_t>(c.size()), phases);
  h5::Id ds(h5::checkId(H5Dopen2(f.id(), "timing", H5P_DEFAULT), "writeTiming"), H5Dclose);
  h5::writeAttr(ds, "phases", run.phaseNames);
  h5::writeAttr(ds, "units", std::string("seconds"));
  // Peak resident memory of each rank, for scaling studies (an attribute: not a result).
  const auto rss = c.allgather(run.peakRssBytes);
  h5::Id space(h5::checkId(H5Screate_simple(1, std::array<hsize_t, 1>{rss.size()}.data(), nullptr),
                           "writeTiming"),
               H5Sclose);
  h5::Id a(h5::checkId(
               H5Acreate2(ds, "peak_rss_bytes", H5T_NATIVE_UINT64, space, H5P_DEFAULT, H5P_DEFAULT),
               "writeTiming"),
           H5Aclose);
  h5::check(H5Awrite(a, H5T_NATIVE_UINT64, rss.data()), "writeTiming");
  h5::writeAttr(ds, "dedup_alltoallv_bytes_max", run.dedup.alltoallvBytesMax);
}

}  // namespace

static void writeAll(const Communicator& comm, const fs::path& partial, const RunOutput& run,
                     const std::function<std::vector<double>()>& timingNow) {
  h5::ParallelFile f(partial.string(), comm.comm());
  h5::writeAttr(f.id(), "cleanmix_version", std::string(CLEANMIX_VERSION));
  h5::writeAttr(f.id(), "schema_version", static_cast<std::uint64_t>(CLEANMIX_SCHEMA_VERSION));
  h5::writeAttr(f.id(), "config", run.configText);
  h5::writeAttr(f.id(), "n_ranks", static_cast<std::uint64_t>(comm.size()));
  h5::writeAttr(f.id(), "seed", run.seed);
  h5::writeAttr(f.id(), "kokkos_backend", run.backend);

  writeDocs(comm, f, run.docs, run.plan.enabled);
  writeSources(comm, f, run.sources);
  writeShards(comm, f, run.shards);
  writeErrors(comm, f, run.errors);
  writeVocab(comm, f, run);
  writeLm(f, run);
  writeContam(f, run);
  writeClassifier(f, run);
  writePlan(comm, f, run);
  writeAudit(f, run);
  writeTiming(comm, f, run, timingNow());
  f.close();
}

void writeRunFile(const Communicator& comm, const fs::path& out, const RunOutput& run,
                  const std::function<std::vector<double>()>& timingNow) {
  const fs::path partial = fs::path(out.string() + ".partial");
  std::string err;
  if (comm.isRoot()) {
    std::error_code ec;
    if (out.has_parent_path()) fs::create_directories(out.parent_path(), ec);
    if (ec)
      err = fmt::format("cannot create output directory '{}': {}", out.parent_path().string(),
                        ec.message());
  }
  comm.bcastBytes(err);
  if (!err.empty()) throw CollectiveError("cleanmix::writeRunFile: " + err);

  // Only rank 0 reports HDF5's own error stack; the others stay quiet.
  if (!comm.isRoot()) H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  try {
    writeAll(comm, partial, run, timingNow);
  } catch (const CollectiveError&) {
    throw;
  } catch (const std::exception& e) {
    struct statvfs fsInfo {};
    std::string space;
    if (::statvfs(partial.parent_path().c_str(), &fsInfo) == 0)
      space = fmt::format(", {} bytes free on that filesystem",
                          static_cast<std::uint64_t>(fsInfo.f_bavail) * fsInfo.f_frsize);
    fail("writeRunFile", "writing '{}' failed{} ({})", partial.string(), space, e.what());
  }

  comm.barrier();
  if (comm.isRoot()) {
    std::error_code ec;
    fs::rename(partial, out, ec);
    if (ec)
      err = fmt::format("cannot rename '{}' to '{}': {}", partial.string(), out.string(),
                        ec.message());
  }
  comm.bcastBytes(err);
  if (!err.empty()) throw CollectiveError("cleanmix::writeRunFile: " + err);
}

}  // namespace cleanmix
