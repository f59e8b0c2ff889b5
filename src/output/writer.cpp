#include "cleanmix/output/writer.hpp"

#include <sys/statvfs.h>

#include <array>
#include <cstdio>
#include <functional>
#include <system_error>
#include <type_traits>

#include "cleanmix/comm/communicator.hpp"
#include "cleanmix/comm/records.hpp"
#include "cleanmix/core/columns.hpp"
#include "cleanmix/core/config.hpp"
#include "cleanmix/core/error.hpp"
#include "cleanmix/core/types.hpp"
#include "cleanmix/io/h5.hpp"

namespace cleanmix {
namespace fs = std::filesystem;

namespace {

using Attrs = std::vector<std::pair<std::string, h5::AttrValue>>;

template <class T>
std::span<const T> sp(const std::vector<T>& v) {
  return {v.data(), v.size()};
}

/// One dataset of a replicated table (identical on every rank: rank 0 writes all rows, the
/// others join with none): its name, how to take it from the rows, and its `labels`.
template <class Row>
struct Field {
  std::string name;
  std::function<void(const Communicator&, const h5::ParallelFile&, hid_t, const std::string&,
                     const std::vector<Row>&)>
      write;
  const std::vector<std::string>* labels = nullptr;
};

/// A field of type T computed from a row.
template <class T, class Row, class Get>
Field<Row> field(std::string name, Get get, const std::vector<std::string>* labels = nullptr) {
  return {std::move(name),
          [get](const Communicator& c, const h5::ParallelFile& f, hid_t g, const std::string& n,
                const std::vector<Row>& rows) {
            std::vector<T> col;
            col.reserve(rows.size());
            for (const auto& r : rows) col.push_back(static_cast<T>(get(r)));
            if constexpr (std::is_same_v<T, std::string>) {
              std::size_t width = 1;
              for (const auto& s : col) width = std::max(width, s.size());
              h5::writeStrings(f, g, n, c.isRoot() ? col : std::vector<std::string>{}, 0,
                               col.size(), width);
            } else {
              h5::writeColumn<T>(f, g, n, c.isRoot() ? sp(col) : std::span<const T>{}, 0,
                                 col.size());
            }
          },
          labels};
}

/// A field that is a member of the row, of the member's type.
template <class Row, class M>
Field<Row> field(std::string name, M Row::*member,
                 const std::vector<std::string>* labels = nullptr) {
  return field<M, Row>(
      std::move(name), [member](const Row& r) { return r.*member; }, labels);
}

/// Write a replicated table: one dataset per field, under `g`.
template <class Row>
void writeTable(const Communicator& c, const h5::ParallelFile& f, hid_t g,
                const std::vector<Row>& rows, const std::vector<Field<Row>>& fields) {
  for (const auto& fd : fields) {
    fd.write(c, f, g, fd.name, rows);
    if (fd.labels) h5::writeDatasetAttrs(g, fd.name, {{"labels", *fd.labels}});
  }
}

/// A replicated matrix [rows, cols] with its column names.
void writeReplicatedMatrix(const Communicator& c, const h5::ParallelFile& f, hid_t g,
                           const std::string& name, const std::vector<std::uint64_t>& m,
                           std::uint64_t rows, std::uint64_t cols,
                           const std::vector<std::string>& columns) {
  h5::writeMatrix<std::uint64_t>(f, g, name, c.isRoot() ? sp(m) : std::span<const std::uint64_t>{},
                                 0, rows, cols);
  h5::writeDatasetAttrs(g, name, {{"columns", columns}});
}

/// The `labels` attribute of an enumeration column.
const std::vector<std::string>* labelsOf(Labels l) {
  switch (l) {
    case Labels::Provenance: return &provenanceLabels();
    case Labels::Verdict: return &verdictLabels();
    case Labels::Group:  // the run's own names (DocRows::groupNames)
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
    Attrs attrs{{"meaning", std::string(ci.meaning)}};
    if (const auto* labels = labelsOf(ci.labels)) attrs.emplace_back("labels", *labels);
    if (ci.labels == Labels::Group && !d.groupNames.empty())
      attrs.emplace_back("labels", d.groupNames);
    h5::writeDatasetAttrs(g, name, attrs);
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
  std::vector<std::uint32_t> shard;
  std::vector<std::uint64_t> line;
  std::vector<std::string> reason;
  for (const auto& e : errors) {
    width = std::max<std::uint64_t>(width, e.reason.size());
    shard.push_back(e.shard);
    line.push_back(e.line);
    reason.push_back(e.reason);
  }
  width = c.allreduceMax(width);
  h5::Id g = f.createGroup(f.id(), "errors");
  h5::writeAttr(g, "n_errors", total);
  h5::writeColumn<std::uint32_t>(f, g, "shard", sp(shard), off, total);
  h5::writeColumn<std::uint64_t>(f, g, "line", sp(line), off, total);
  h5::writeStrings(f, g, "reason", reason, off, total, width);
}

void writeSources(const Communicator& c, const h5::ParallelFile& f,
                  const std::vector<SourceRow>& s) {
  using R = SourceRow;
  h5::Id g = f.createGroup(f.id(), "sources");
  writeTable<R>(
      c, f, g, s,
      {field("name", &R::name), field("provenance", &R::provenance, &provenanceLabels()),
       field("role", &R::role, &roleLabels()), field("n_shards", &R::nShards),
       field("n_docs", &R::nDocs), field("n_tokens", &R::nTokens), field("n_bytes", &R::nBytes),
       field("n_quarantined", &R::nQuarantined), field("bench_ngrams", &R::benchNgrams),
       field("bench_items_skipped", &R::benchSkipped), field("n_dirty", &R::dirtyDocs),
       field("utf8_replaced", &R::utf8Replaced), field("n_not_judged", &R::nNotJudged)});
  std::vector<std::uint64_t> verdicts, inferred;
  for (const auto& r : s) {
    verdicts.insert(verdicts.end(), r.verdictCounts.begin(), r.verdictCounts.end());
    inferred.insert(inferred.end(), r.inferredCounts.begin(), r.inferredCounts.end());
  }
  writeReplicatedMatrix(c, f, g, "verdict_counts", verdicts, s.size(), kNumVerdicts,
                        verdictLabels());
  writeReplicatedMatrix(c, f, g, "inferred_counts", inferred, s.size(), kNumProvenance,
                        provenanceLabels());
}

void writeShards(const Communicator& c, const h5::ParallelFile& f, const std::vector<ShardRow>& s) {
  using R = ShardRow;
  h5::Id g = f.createGroup(f.id(), "shards");
  writeTable<R>(
      c, f, g, s,
      {field("path", &R::path), field("source", &R::source), field("n_lines", &R::nLines),
       field("n_bytes", &R::nBytes), field("n_docs", &R::nDocs), field("n_errors", &R::nErrors)});
}

/// The columns of a table of VocabStats rows (/vocab/stats, /plan/coverage).
std::vector<Field<VocabStats>> vocabFields(bool goodTuring) {
  using V = VocabStats;
  std::vector<Field<V>> out{field("tokens", &V::tokens),
                            field("types", &V::types),
                            field("entropy_bits", &V::entropyBits),
                            field("miller_madow_bits", &V::millerMadowBits),
                            field("f1", &V::f1),
                            field("chao1", &V::chao1)};
  if (goodTuring)
    out.push_back(field<double, V>("good_turing_unseen", [](const V& r) {
      return r.tokens ? static_cast<double>(r.f1) / static_cast<double>(r.tokens) : 0.0;
    }));
  else
    out.push_back(field("f2", &V::f2));
  return out;
}

void writeVocab(const Communicator& c, const h5::ParallelFile& f, const RunOutput& run) {
  h5::Id g = f.createGroup(f.id(), "vocab");
  h5::writeAttrs(
      g, {{"vocab_bits", static_cast<std::uint64_t>(run.vocabBits)}, {"tokenizer", run.tokenizer}});
  if (const auto& t = run.tokenizerId; t.vocabSize > 0)  // a model tokenizer: ids are exact
    h5::writeAttrs(g, {{"tokenizer_name", t.name},
                       {"tokenizer_model", t.model},
                       {"tokenizer_model_xxh3_64", t.modelHash},
                       {"vocab_size", t.vocabSize},
                       {"eod", static_cast<double>(t.eod)},
                       {"append_eod", std::uint64_t{t.appendEod ? 1u : 0u}}});
  const std::uint64_t nb = std::uint64_t{1} << run.vocabBits;
  const std::uint64_t classes = run.vocabCounts.size() / nb;
  {  // the counts are replicated: each rank writes a contiguous block of class rows
    const std::uint64_t r0 = classes * c.rank() / c.size(),
                        r1 = classes * (c.rank() + 1) / c.size();
    std::span<const std::uint64_t> mine(run.vocabCounts.data() + r0 * nb, (r1 - r0) * nb);
    h5::writeMatrix<std::uint64_t>(f, g, "counts", mine, r0, classes, nb);
    h5::writeDatasetAttrs(g, "counts", {{"rows", run.vocabClasses}});
  }
  h5::Id st = f.createGroup(g, "stats");
  writeTable<std::string>(
      c, f, st, run.vocabClasses,
      {field<std::string, std::string>("class", [](const auto& s) { return s; })});
  writeTable(c, f, st, run.vocabStats, vocabFields(false));
}

void writeLm(const h5::ParallelFile& f, const LmSummary& lm) {
  h5::Id g = f.createGroup(f.id(), "lm");
  h5::writeAttrs(g, {{"kind", std::string("interpolated Jelinek-Mercer, hashed counts")},
                     {"order", std::uint64_t{3}},
                     {"unigram_bits", static_cast<std::uint64_t>(lm.unigramBits)},
                     {"table_bits", static_cast<std::uint64_t>(lm.tableBits)},
                     {"table_bytes_per_rank", lm.tableBytes},
                     {"lambda_unigram", lm.lambda[0]},
                     {"lambda_bigram", lm.lambda[1]},
                     {"lambda_trigram", lm.lambda[2]},
                     {"anchor_docs", lm.anchorDocs},
                     {"predicted_tokens", lm.predictedTokens},
                     {"anchor_loo_perplexity", lm.anchorLooPerplexity},
                     {"contrast_table_bits", static_cast<std::uint64_t>(lm.contrastTableBits)},
                     {"contrast_table_bytes_per_rank", lm.contrastTableBytes},
                     {"contrast_docs", lm.contrastDocs},
                     {"contrast_predicted_tokens", lm.contrastTokens}});
}

void writeContam(const h5::ParallelFile& f, const DedupSummary& d, const DecontamSummary& dc) {
  h5::Id g = f.createGroup(f.id(), "dedup");
  h5::writeAttrs(g, {{"enabled", std::uint64_t{d.enabled ? 1u : 0u}},
                     {"method", std::string("MinHash LSH over word shingles + exact text hash")},
                     {"bands", static_cast<std::uint64_t>(d.bands)},
                     {"rows", static_cast<std::uint64_t>(d.rows)},
                     {"shingle_words", static_cast<std::uint64_t>(d.shingle)},
                     {"candidate_pairs", d.candidatePairs},
                     {"clusters", d.clusters},
                     {"duplicates", d.duplicates},
                     {"label_rounds", d.rounds}});
  h5::Id x = f.createGroup(f.id(), "decontam");
  h5::writeAttrs(
      x, {{"rule", std::string("GPT-3: n-grams of lower-cased, punctuation-stripped words")},
          {"ngram", static_cast<std::uint64_t>(dc.ngram)},
          {"min_words", static_cast<std::uint64_t>(dc.minWords)},
          {"benchmark_ngrams", dc.indexNgrams},
          {"contaminated_docs", dc.contaminatedDocs}});
}

void writeClassifier(const Communicator& comm, const h5::ParallelFile& f,
                     const ClassifierSummary& c) {
  h5::Id g = f.createGroup(f.id(), "classifier");
  h5::writeAttr(g, "enabled", std::uint64_t{c.enabled ? 1u : 0u});
  if (!c.enabled) return;
  Attrs a{{"decision", c.decision},
          {"model", c.source},
          {"features", featureNames()},
          {"linear_threshold", c.threshold},
          {"target_fpr", c.targetFpr},
          {"vote_threshold_log2_ppl", c.voteThreshold[0]},
          {"vote_threshold_burstiness", c.voteThreshold[1]},
          {"vote_threshold_ttr", c.voteThreshold[2]},
          {"train_docs", c.trainDocs},
          {"holdout_docs", c.holdoutDocs},
          {"inferred_synthetic_suspected", c.suspected},
          {"not_judged", c.notJudged},
          {"range_max_distance", c.maxDistance}};
  const char* m[5] = {"precision", "recall", "f1", "auroc", "fpr"};
  for (int k = 0; k < 5; ++k) {
    a.emplace_back(std::string("holdout_linear_") + m[k], c.linear[k]);
    a.emplace_back(std::string("holdout_vote_") + m[k], c.vote[k]);
  }
  a.emplace_back("linear_features", c.features);
  a.emplace_back("threshold_from", c.thresholdFrom);
  a.emplace_back("train_threshold", c.trainThreshold);
  const GroupCvSummary& cv = c.cv;
  a.emplace_back("cv_ran", std::uint64_t{cv.ran ? 1u : 0u});
  a.emplace_back("cv_lm", cv.lmCv);
  if (!cv.note.empty()) a.emplace_back("cv_note", cv.note);
  h5::writeAttrs(g, a);
  if (cv.rows.empty()) return;
  using R = GroupCvRow;
  h5::Id t = f.createGroup(g, "groups");
  writeTable<R>(comm, f, t, cv.rows,
                {field("group", &R::group), field("trained", &R::trained),
                 field("human", &R::human), field("false_positives", &R::falsePositives),
                 field("synthetic", &R::synthetic), field("true_positives", &R::truePositives),
                 field("threshold", &R::threshold), field("lm_fold", &R::lmFold)});
  if (!cv.ran) return;
  h5::writeAttrs(t, {{"auroc", cv.auroc},
                     {"tpr_at_fpr_0.01", cv.tprAt1},
                     {"tpr_at_fpr_0.05", cv.tprAt5},
                     {"threshold", cv.threshold},
                     {"human", cv.human},
                     {"false_positives", cv.falsePositives},
                     {"synthetic", cv.synthetic},
                     {"true_positives", cv.truePositives}});
  // The pooled out-of-group scores, for ROC curves: one row per judged training document.
  std::vector<std::size_t> rows(cv.scores.size());
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = i;
  h5::Id o = f.createGroup(g, "out_of_group");
  writeTable<std::size_t>(
      comm, f, o, rows,
      {field<double, std::size_t>("p_synthetic", [&cv](std::size_t i) { return cv.scores[i]; }),
       field<std::uint8_t, std::size_t>("label", [&cv](std::size_t i) { return cv.labels[i]; }),
       field<std::uint32_t, std::size_t>("group", [&cv](std::size_t i) { return cv.groups[i]; })});
  h5::writeDatasetAttrs(o, "group", {{"labels", c.groupNames}});
}

void writePlan(const Communicator& c, const h5::ParallelFile& f, const PlanSummary& p) {
  if (!p.enabled) return;
  h5::Id g = f.createGroup(f.id(), "plan");
  {  // per source: one index per row
    std::vector<std::size_t> rows(p.epochs.size());
    for (std::size_t s = 0; s < rows.size(); ++s) rows[s] = s;
    auto per = [&](const char* name, const auto& v) {
      using T = typename std::decay_t<decltype(v)>::value_type;
      return field<T, std::size_t>(name, [&v](std::size_t s) { return v[s]; });
    };
    h5::Id s = f.createGroup(g, "sources");
    writeTable<std::size_t>(
        c, f, s, rows,
        {per("eligible_human", p.eligible[0]), per("eligible_synthetic", p.eligible[1]),
         per("planned_human", p.plannedBy[0]), per("planned_synthetic", p.plannedBy[1]),
         per("realised_human", p.realisedBy[0]), per("realised_synthetic", p.realisedBy[1]),
         per("epochs", p.epochs), per("weight", p.weight)});
  }
  {
    h5::Id s = f.createGroup(g, "summary");
    h5::writeAttrs(
        s, {{"allocation", p.allocation},
            {"budget_tokens", p.budget},
            {"planned_tokens", p.planned},
            {"realised_tokens", p.realised},
            {"realised_synthetic_tokens", p.realisedSynthetic},
            {"realised_synthetic_share",
             p.realised ? static_cast<double>(p.realisedSynthetic) / static_cast<double>(p.realised)
                        : 0.0},
            {"planned_synthetic_share", p.plannedSyntheticShare},
            {"shortfall_tokens", p.shortfall},
            {"synthetic_cap", p.syntheticCap},
            {"synthetic_cap_binding", std::uint64_t{p.syntheticCapBinding ? 1u : 0u}},
            {"max_epochs", p.maxEpochs},
            {"max_repeats", p.maxRepeats},
            {"temperature_alpha", p.alpha},
            {"unknown_provenance", p.unknownProvenance},
            {"cover_first", std::uint64_t{p.coverFirst ? 1u : 0u}}});
  }
  {  // the two histograms behind the coverage rows, for rank-frequency plots
    const std::uint64_t nb = p.mixCounts.size();
    std::vector<std::uint64_t> both(p.mixCounts);
    both.insert(both.end(), p.referenceCounts.begin(), p.referenceCounts.end());
    const std::uint64_t r0 = 2 * c.rank() / c.size(), r1 = 2 * (c.rank() + 1) / c.size();
    h5::writeMatrix<std::uint64_t>(
        f, g, "unigram_counts",
        std::span<const std::uint64_t>(both.data() + r0 * nb, (r1 - r0) * nb), r0, 2, nb);
    h5::writeDatasetAttrs(g, "unigram_counts",
                          {{"rows", std::vector<std::string>{"mix", "reference"}}});
  }
  {  // tail coverage: row 0 the planned mix, row 1 the reference (anchor) unigram
    h5::Id s = f.createGroup(g, "coverage");
    const std::vector<std::string> names{"mix", "reference"};
    writeTable<std::string>(
        c, f, s, names, {field<std::string, std::string>("name", [](const auto& x) { return x; })});
    writeTable(c, f, s, std::vector<VocabStats>{p.mix, p.reference}, vocabFields(true));
  }
}

void writeAudit(const h5::ParallelFile& f, const AuditSummary& a) {
  if (!a.enabled) return;
  h5::Id g = f.createGroup(f.id(), "audit");
  h5::writeAttrs(g,
                 {{"batch_tokens", a.batchTokens},
                  {"floor_percentile", a.floorPercentile},
                  {"floor_bits", a.floorBits},
                  {"absolute_floor_bits", a.absoluteFloor},
                  {"anchor_windows", a.anchorWindows},
                  {"n_batches", a.batches},
                  {"n_held", a.held},
                  {"order", std::string("counter-based key per (seed, doc_id, copy), ascending")}});
  h5::Id b = f.createGroup(g, "batches");
  const auto& k = a.block;
  h5::writeColumn<double>(f, b, "entropy_bits", sp(k.entropy), k.first, a.batches);
  h5::writeColumn<std::uint32_t>(f, b, "n_types", sp(k.types), k.first, a.batches);
  h5::writeColumn<std::uint64_t>(f, b, "n_tokens", sp(k.tokens), k.first, a.batches);
  h5::writeColumn<std::uint8_t>(f, b, "hold", sp(k.hold), k.first, a.batches);
}

/// One value per rank as a uint64 attribute (collective: every rank passes the same vector).
void writeRankAttr(hid_t ds, const char* name, const std::vector<std::uint64_t>& v) {
  h5::Id space(
      h5::checkId(H5Screate_simple(1, std::array<hsize_t, 1>{v.size()}.data(), nullptr), name),
      H5Sclose);
  h5::Id a(
      h5::checkId(H5Acreate2(ds, name, H5T_NATIVE_UINT64, space, H5P_DEFAULT, H5P_DEFAULT), name),
      H5Aclose);
  h5::check(H5Awrite(a, H5T_NATIVE_UINT64, v.data()), name);
}

void writeTiming(const Communicator& c, const h5::ParallelFile& f, const RunOutput& run,
                 const std::vector<double>& timing) {
  const std::uint64_t phases = run.phaseNames.size();
  h5::writeMatrix<double>(f, f.id(), "timing", sp(timing), static_cast<std::uint64_t>(c.rank()),
                          static_cast<std::uint64_t>(c.size()), phases);
  h5::Id ds(h5::checkId(H5Dopen2(f.id(), "timing", H5P_DEFAULT), "writeTiming"), H5Dclose);
  h5::writeAttrs(ds, {{"phases", run.phaseNames}, {"units", std::string("seconds")}});
  // For scaling studies (attributes, not results: they vary with the layout): each rank's peak
  // resident memory, its host, and what it has sent so far (docs/operations.md).
  const Communicator::Traffic sent = c.traffic();  // before the gathers below add to it
  writeRankAttr(ds, "peak_rss_bytes", c.allgather(run.peakRssBytes));
  h5::writeAttr(ds, "dedup_alltoallv_bytes_max", run.dedup.alltoallvBytesMax);
  h5::writeAttr(ds, "hosts", c.hosts());
  writeRankAttr(ds, "sent_p2p_bytes", c.allgather(sent.p2pBytes));
  writeRankAttr(ds, "sent_p2p_remote_host_bytes", c.allgather(sent.p2pRemoteBytes));
  writeRankAttr(ds, "sent_collective_bytes", c.allgather(sent.collectiveBytes));
}

void writeAll(const Communicator& comm, const fs::path& partial, const RunOutput& run,
              const std::function<std::vector<double>()>& timingNow) {
  h5::ParallelFile f(partial.string(), comm.comm());
  h5::writeAttrs(f.id(), {{"cleanmix_version", std::string(CLEANMIX_VERSION)},
                          {"schema_version", static_cast<std::uint64_t>(CLEANMIX_SCHEMA_VERSION)},
                          {"config", run.configText},
                          {"n_ranks", static_cast<std::uint64_t>(comm.size())},
                          {"seed", run.seed},
                          {"kokkos_backend", run.backend}});
  writeDocs(comm, f, run.docs, run.plan.enabled);
  writeSources(comm, f, run.sources);
  writeShards(comm, f, run.shards);
  writeErrors(comm, f, run.errors);
  writeVocab(comm, f, run);
  writeLm(f, run.lm);
  writeContam(f, run.dedup, run.decontam);
  writeClassifier(comm, f, run.classifier);
  writePlan(comm, f, run.plan);
  writeAudit(f, run.audit);
  writeTiming(comm, f, run, timingNow());
  f.close();
}

}  // namespace

void writeRunFile(const Communicator& comm, const fs::path& out, const RunOutput& run,
                  const std::function<std::vector<double>()>& timingNow) {
  const fs::path partial = fs::path(out.string() + ".partial");
  rootThenShare(comm, [&] {
    std::error_code ec;
    if (out.has_parent_path()) fs::create_directories(out.parent_path(), ec);
    if (ec)
      fail("writeRunFile", "cannot create output directory '{}': {}", out.parent_path().string(),
           ec.message());
  });
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
  rootThenShare(comm, [&] {
    std::error_code ec;
    fs::rename(partial, out, ec);
    if (ec)
      fail("writeRunFile", "cannot rename '{}' to '{}': {}", partial.string(), out.string(),
           ec.message());
  });
}

void runWrite(const Communicator& comm, const fs::path& out, const RunInfo& info,
              StageResults&& results, PhaseTimer& timer) {
  RunOutput run = assembleOutput(comm, info, std::move(results));
  run.phaseNames = timer.names();
  writeRunFile(comm, out, run, [&] {
    timer.lap("write");
    return timer.seconds();
  });
  const double maxRss = static_cast<double>(comm.allreduceMax(run.peakRssBytes));
  if (!comm.isRoot()) return;
  std::uint64_t nd = 0, nq = 0, nl = 0;
  for (const auto& s : run.sources) {
    nd += s.nDocs;
    nq += s.nQuarantined;
  }
  for (const auto& s : run.shards) nl += s.nLines;
  double seconds = 0;
  for (const double t : timer.seconds()) seconds += t;
  fmt::print(stderr,
             "[cleanmix] wrote {}: {} docs, {} quarantined, {} input lines ({}), {:.2f} s, "
             "peak RSS {:.1f} MB (max over ranks)\n",
             out.string(), nd, nq, nl, nd + nq == nl ? "reconciled" : "MISMATCH", seconds,
             maxRss / 1e6);
}

}  // namespace cleanmix
