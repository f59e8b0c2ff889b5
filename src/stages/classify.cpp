#include "cleanmix/stages/classify.hpp"

#include <fmt/format.h>

#include <boost/serialization/vector.hpp>

#include <cmath>

#include "cleanmix/comm/communicator.hpp"
#include "cleanmix/comm/records.hpp"
#include "cleanmix/core/archive.hpp"
#include "cleanmix/core/error.hpp"
#include "cleanmix/core/kokkos_compat.hpp"
#include "cleanmix/core/hash.hpp"

namespace cleanmix {
namespace {

/// Labelled rows of this rank; beyond max_train_docs a deterministic subsample keyed by
/// (seed, doc_id) keeps the gather bounded (the same rows at any rank count). Collective.
std::vector<LabelledRow> labelledRows(const Communicator& comm, const ClassifierParams& params,
                                      const ScoreRows& rows, std::uint64_t docOffset,
                                      std::uint64_t seed) {
  std::uint64_t labelled = 0;
  for (auto l : rows.label) labelled += l != 255;
  labelled = comm.allreduceSum(labelled);
  const double keep = labelled > params.maxTrainDocs
                          ? static_cast<double>(params.maxTrainDocs) / static_cast<double>(labelled)
                          : 1.0;
  std::vector<LabelledRow> out;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows.label[i] == 255) continue;
    if (keep < 1.0 && counterUniform(seed ^ 0xC1A551F1ull, docOffset + i) >= keep) continue;
    LabelledRow r;
    r.features.resize(kNumFeatures);
    rows.d.features(i, r.features.data());
    r.label = rows.label[i];
    r.holdout = rows.holdout[i];
    out.push_back(std::move(r));
  }
  return out;
}

/// Rank 0: fit (or take the loaded model) on the training rows, evaluate on the held-out ones.
ClassifyResult fitAndEvaluate(const ClassifierParams& params, const ClassifierSetup& setup,
                              const NbCounts& nb, const std::vector<LabelledRow>& all) {
  std::vector<double> tr, ho;
  std::vector<std::uint8_t> ytr, yho;
  for (const auto& r : all) {
    auto& x = r.holdout ? ho : tr;
    x.insert(x.end(), r.features.begin(), r.features.end());
    (r.holdout ? yho : ytr).push_back(r.label);
  }
  ClassifyResult res;
  ClassifierModel& m = res.model;
  if (setup.loaded) {
    m = *setup.loaded;
  } else {
    m.nbBits = nb.bits;
    m.nbCounts = nb.counts;
    m.linear = fitLinear(tr, ytr, params.l2, params.targetFpr);
    m.vote = fitVote(tr, ytr);
    m.trainDocs = ytr.size();
  }
  std::vector<double> pl, pv;
  for (std::size_t r = 0; r < yho.size(); ++r) {
    pl.push_back(m.linear.probability(&ho[r * kNumFeatures]));
    pv.push_back(m.vote.votes(&ho[r * kNumFeatures]) / 3.0);
  }
  const Metrics ml = evaluate(pl, yho, m.linear.threshold), mv = evaluate(pv, yho, 2.0 / 3.0);
  ClassifierSummary& s = res.summary;
  s.holdoutDocs = yho.size();
  s.holdoutSynthetic = ml.positives;
  s.holdoutHuman = ml.negatives;
  const double lin[5] = {ml.precision, ml.recall, ml.f1, ml.auroc, ml.fpr};
  const double vot[5] = {mv.precision, mv.recall, mv.f1, mv.auroc, mv.fpr};
  std::copy(lin, lin + 5, s.linear);
  std::copy(vot, vot + 5, s.vote);
  return res;
}

}  // namespace

ClassifyResult runClassify(const Communicator& comm, const ClassifierParams& params,
                           const ClassifierSetup& setup, const NbCounts& nb,
                           std::uint64_t anchorDocs, const std::vector<SourceConfig>& sources,
                           ScoreRows& rows, std::uint64_t docOffset, std::uint64_t seed) {
  DocRows& docs = rows.d;
  docs.pSynthetic.assign(docs.size(), kx::quietNaN());
  docs.inferred = docs.provenance;
  ClassifyResult res;
  if (!setup.active || anchorDocs == 0) {
    if (comm.isRoot() && params.enabled)
      fmt::print(stderr,
                 "[cleanmix] classifier: skipped ({}); p_synthetic is NaN and inferred = "
                 "declared\n",
                 anchorDocs == 0 ? "no anchor documents, so no reference LM"
                                 : "needs human_verified and synthetic_known sources, or a model");
    return res;
  }
  const auto all = gatherRecords(comm, labelledRows(comm, params, rows, docOffset, seed));
  unpackBytes(rootThenShare(comm,
                            [&] {
                              const ClassifyResult r = fitAndEvaluate(params, setup, nb, all);
                              return packBytes(r.model, r.summary.holdoutDocs,
                                               r.summary.holdoutSynthetic, r.summary.holdoutHuman,
                                               r.summary.linear, r.summary.vote);
                            }),
              res.model, res.summary.holdoutDocs, res.summary.holdoutSynthetic,
              res.summary.holdoutHuman, res.summary.linear, res.summary.vote);
  const ClassifierModel& model = res.model;
  ClassifierSummary& cl = res.summary;
  cl.enabled = true;
  cl.decision = params.decision;
  cl.source = setup.loaded ? params.model : "fitted in-run";
  cl.threshold = model.linear.threshold;
  cl.targetFpr = params.targetFpr;
  for (int k = 0; k < 3; ++k) cl.voteThreshold[k] = model.vote.threshold[k];
  cl.weights = model.linear.weight;
  cl.trainDocs = model.trainDocs;
  std::uint64_t suspected = 0;
  double x[kNumFeatures];
  for (std::size_t i = 0; i < docs.size(); ++i) {
    docs.features(i, x);
    bool flag;
    if (params.decision == "vote") {
      const int v = model.vote.votes(x);
      docs.pSynthetic[i] = v / 3.0;
      flag = v >= 2;
    } else {
      docs.pSynthetic[i] = model.linear.probability(x);
      flag = docs.pSynthetic[i] >= model.linear.threshold;
    }
    const auto p = static_cast<Provenance>(docs.provenance[i]);
    if (flag && (p == Provenance::HumanUnverified || p == Provenance::Unknown) &&
        sources[docs.source[i]].role != Role::Benchmark) {
      docs.inferred[i] = static_cast<std::uint8_t>(Provenance::SyntheticSuspected);
      ++suspected;
    }
  }
  cl.suspected = comm.allreduceSum(suspected);
  if (comm.isRoot())
    fmt::print(stderr,
               "[cleanmix] classifier ({}): held-out {} docs; linear P {:.3f} R {:.3f} F1 {:.3f} "
               "AUROC {:.3f} FPR {:.3f}; vote P {:.3f} R {:.3f} F1 {:.3f} AUROC {:.3f}; {} "
               "documents inferred synthetic_suspected\n",
               cl.source, cl.holdoutDocs, cl.linear[0], cl.linear[1], cl.linear[2], cl.linear[3],
               cl.linear[4], cl.vote[0], cl.vote[1], cl.vote[2], cl.vote[3], cl.suspected);
  return res;
}

void printCalibration(std::FILE* out, const ClassifierSummary& cl, const std::string& modelPath) {
  fmt::print(out,
             "held-out split: {} documents ({} synthetic_known, {} human_verified); "
             "trained on {}\n"
             "model   precision  recall     F1  AUROC    FPR  (threshold)\n"
             "linear  {:9.3f} {:7.3f} {:6.3f} {:6.3f} {:6.3f}  (p >= {:.4f}, target FPR {})\n"
             "vote    {:9.3f} {:7.3f} {:6.3f} {:6.3f} {:6.3f}  (2 of: log2 ppl < {:.3f}, "
             "burstiness < {:.3f}, ttr < {:.3f})\nwrote {}\n",
             cl.holdoutDocs, cl.holdoutSynthetic, cl.holdoutHuman, cl.trainDocs, cl.linear[0],
             cl.linear[1], cl.linear[2], cl.linear[3], cl.linear[4], cl.threshold, cl.targetFpr,
             cl.vote[0], cl.vote[1], cl.vote[2], cl.vote[3], cl.vote[4], cl.voteThreshold[0],
             cl.voteThreshold[1], cl.voteThreshold[2], modelPath);
}

}  // namespace cleanmix
