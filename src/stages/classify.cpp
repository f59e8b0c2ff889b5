#include "cleanmix/stages/classify.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <boost/serialization/vector.hpp>

#include <cmath>
#include <set>
#include <span>

#include "cleanmix/comm/communicator.hpp"
#include "cleanmix/comm/records.hpp"
#include "cleanmix/core/archive.hpp"
#include "cleanmix/core/error.hpp"
#include "cleanmix/core/kokkos_compat.hpp"
#include "cleanmix/core/hash.hpp"
#include "cleanmix/kernels/signals.hpp"

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
  // Feature index of each LM column (kLmColumns order) and whether it is taken as log2.
  int lmFeature[kNumLmColumns];
  bool lmLog2[kNumLmColumns];
  for (int k = 0; k < kNumLmColumns; ++k) {
    const ColumnInfo& c = columnInfo(kLmColumns[k]);
    lmFeature[k] = featureIndex(c.name);
    lmLog2[k] = c.feature == Feature::Log2;
  }
  constexpr auto kPer = static_cast<std::size_t>(kNumLmFolds) * kNumLmColumns;
  std::vector<LabelledRow> out;
  std::size_t nthLabelled = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows.label[i] == 255) continue;
    const std::size_t li = nthLabelled++;
    if (keep < 1.0 && counterUniform(seed ^ 0xC1A551F1ull, docOffset + i) >= keep) continue;
    LabelledRow r;
    r.features.resize(kNumFeatures);
    rows.d.features(i, r.features.data());
    if (!rows.foldLm.empty()) {
      for (int f = 0; f < kNumLmFolds; ++f) {
        r.foldFeatures.insert(r.foldFeatures.end(), r.features.begin(), r.features.end());
        double* x = r.foldFeatures.data() + static_cast<std::size_t>(f) * kNumFeatures;
        for (int k = 0; k < kNumLmColumns; ++k) {
          if (lmFeature[k] < 0) continue;
          const double v = rows.foldLm[li * kPer + static_cast<std::size_t>(f * kNumLmColumns + k)];
          x[lmFeature[k]] = lmLog2[k] ? std::log2(v) : v;
        }
      }
    }
    r.label = rows.label[i];
    r.holdout = rows.holdout[i];
    r.group = rows.d.group[i];
    out.push_back(std::move(r));
  }
  return out;
}

/// Leave-one-group-out on the training split (rank 0).
GroupCvSummary crossValidate(const ClassifierParams& params, std::span<const double> tr,
                             std::span<const double> trFolds, std::span<const std::uint8_t> ytr,
                             std::span<const std::uint32_t> gtr,
                             const std::vector<std::string>& groupNames,
                             const std::vector<std::uint8_t>& mask) {
  GroupCvSummary s;
  std::vector<std::uint8_t> groupFold(groupNames.size());
  for (std::size_t k = 0; k < groupNames.size(); ++k) groupFold[k] = lmFoldOf(groupNames[k]);
  const GroupCv cv =
      leaveOneGroupOut(tr, ytr, gtr, params.l2, params.targetFpr, mask, trFolds,
                       trFolds.empty() ? std::span<const std::uint8_t>() : groupFold);
  for (const auto& f : cv.folds)
    s.rows.push_back({groupNames.at(f.group), static_cast<std::uint8_t>(f.trained ? 1 : 0), f.human,
                      f.falsePositives, f.synthetic, f.truePositives, f.threshold,
                      trFolds.empty() ? std::uint8_t{255} : groupFold.at(f.group)});
  s.ran = cv.usable();
  if (!s.ran) {
    s.note = cv.folds.size() < 2
                 ? "one group only (give labelled sources a group_key, or several sources)"
                 : "no group can be left out with both classes in the rest";
    return s;
  }
  const auto& names = featureNames();
  bool lmUsed = false;
  for (int k = 0; k < kNumLmColumns; ++k) {
    const int j = featureIndex(columnInfo(kLmColumns[k]).name);
    lmUsed |= j >= 0 && mask[static_cast<std::size_t>(j)] != 0;
  }
  if (lmUsed && trFolds.empty())
    s.note =
        "optimistic: the LM features' counts include the left-out group's other documents "
        "(classifier.cv_lm = \"shared\")";
  for (std::size_t k = 0; k < names.size(); ++k)
    if (mask[k] && isHashedTextFeature(names[k]))
      s.note = "optimistic: the nb_* features' counts include the left-out group's documents";
  if (!trFolds.empty()) s.lmCv = "folds";
  s.auroc = cv.auroc;
  s.tprAt1 = cv.tprAt1;
  s.tprAt5 = cv.tprAt5;
  s.threshold = cv.threshold;
  s.human = cv.human;
  s.falsePositives = cv.falsePositives;
  s.synthetic = cv.synthetic;
  s.truePositives = cv.truePositives;
  s.scores = cv.scores;
  s.labels = cv.labels;
  std::set<std::uint32_t> judged;  // the scores are those of documents of trained folds
  for (const auto& f : cv.folds)
    if (f.trained) judged.insert(f.group);
  for (const auto g : gtr)
    if (judged.count(g)) s.groups.push_back(g);
  return s;
}

/// Rank 0: fit (or take the loaded model) on the training rows, evaluate on the held-out ones;
/// a fitted model is also evaluated leave-one-group-out, and its threshold comes from the
/// out-of-group scores when threshold_from = "groups".
ClassifyResult fitAndEvaluate(const ClassifierParams& params, const ClassifierSetup& setup,
                              const NbCounts& nb, const std::vector<LabelledRow>& all,
                              const std::vector<std::string>& groupNames) {
  std::vector<double> tr, ho, trFolds;
  std::vector<std::uint8_t> ytr, yho;
  std::vector<std::uint32_t> gtr;
  bool folds = !all.empty();
  for (const auto& r : all)
    folds &= r.foldFeatures.size() == static_cast<std::size_t>(kNumLmFolds) * kNumFeatures;
  std::size_t ntr = 0;
  for (const auto& r : all) ntr += r.holdout ? 0 : 1;
  if (folds) trFolds.reserve(kNumLmFolds * ntr * kNumFeatures);
  for (int f = 0; f < kNumLmFolds && folds; ++f)
    for (const auto& r : all)
      if (!r.holdout)
        trFolds.insert(trFolds.end(),
                       r.foldFeatures.begin() + static_cast<std::ptrdiff_t>(f) * kNumFeatures,
                       r.foldFeatures.begin() + static_cast<std::ptrdiff_t>(f + 1) * kNumFeatures);
  for (const auto& r : all) {
    auto& x = r.holdout ? ho : tr;
    x.insert(x.end(), r.features.begin(), r.features.end());
    (r.holdout ? yho : ytr).push_back(r.label);
    if (!r.holdout) gtr.push_back(r.group);
  }
  ClassifyResult res;
  ClassifierModel& m = res.model;
  ClassifierSummary& s = res.summary;
  // A chosen feature that is NaN in some training row (e.g. contrast_* without a contrast LM)
  // cannot be fitted: it is left out, and said so.
  std::vector<std::uint8_t> mask = params.featureMask();
  std::vector<std::string> dropped;
  for (std::size_t j = 0; j < mask.size() && !setup.loaded; ++j) {
    if (!mask[j]) continue;
    for (std::size_t i = 0; i < ytr.size(); ++i)
      if (std::isnan(tr[i * kNumFeatures + j])) {
        mask[j] = 0;
        dropped.push_back(featureNames()[j]);
        break;
      }
  }
  if (!dropped.empty())
    fmt::print(stderr,
               "[cleanmix] classifier: left out {} (NaN in labelled documents, e.g. no contrast "
               "LM)\n",
               fmt::join(dropped, ", "));
  if (setup.loaded) {
    m = *setup.loaded;
    s.thresholdFrom = "model file";
    s.trainThreshold = m.linear.threshold;
    s.cv.note = "the model was loaded, not fitted in this run (cleanmix calibrate evaluates it)";
  } else {
    m.nbBits = nb.bits;
    m.nbCounts = nb.counts;
    m.linear = fitLinear(tr, ytr, params.l2, params.targetFpr, mask);
    m.vote = fitVote(tr, ytr);
    m.trainDocs = ytr.size();
    m.range = fitRange(tr, mask, params.abstainQuantile);
    s.trainThreshold = m.linear.threshold;
    s.cv = crossValidate(params, tr, trFolds, ytr, gtr, groupNames, mask);
    s.thresholdFrom = "train";
    if (params.thresholdFrom == "groups" && s.cv.ran) {
      m.linear.threshold = s.cv.threshold;
      s.thresholdFrom = "out-of-group";
    }
  }
  std::vector<double> pl, pv;
  for (std::size_t r = 0; r < yho.size(); ++r) {
    pl.push_back(m.linear.probability(&ho[r * kNumFeatures]));
    pv.push_back(m.vote.votes(&ho[r * kNumFeatures]) / 3.0);
  }
  const Metrics ml = evaluate(pl, yho, m.linear.threshold), mv = evaluate(pv, yho, 2.0 / 3.0);
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
  docs.judged.assign(docs.size(), 0);
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
                              const ClassifyResult r =
                                  fitAndEvaluate(params, setup, nb, all, docs.groupNames);
                              return packBytes(r.model, r.summary.holdoutDocs,
                                               r.summary.holdoutSynthetic, r.summary.holdoutHuman,
                                               r.summary.linear, r.summary.vote, r.summary.cv,
                                               r.summary.thresholdFrom, r.summary.trainThreshold);
                            }),
              res.model, res.summary.holdoutDocs, res.summary.holdoutSynthetic,
              res.summary.holdoutHuman, res.summary.linear, res.summary.vote, res.summary.cv,
              res.summary.thresholdFrom, res.summary.trainThreshold);
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
  cl.groupNames = docs.groupNames;
  {  // the features the model weighs (a chosen feature that could not be fitted has weight 0)
    const auto& names = featureNames();
    for (std::size_t k = 0; k < names.size(); ++k)
      if (model.linear.weight[k] != 0) cl.features.push_back(names[k]);
  }
  std::uint64_t suspected = 0, notJudged = 0;
  double x[kNumFeatures];
  for (std::size_t i = 0; i < docs.size(); ++i) {
    docs.features(i, x);
    const bool benchmark = sources[docs.source[i]].role == Role::Benchmark;
    const bool inRange = model.range.inRange(x);
    docs.judged[i] = inRange && !benchmark ? 1 : 0;
    notJudged += !inRange && !benchmark;
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
    if (flag && docs.judged[i] && (p == Provenance::HumanUnverified || p == Provenance::Unknown)) {
      docs.inferred[i] = static_cast<std::uint8_t>(Provenance::SyntheticSuspected);
      ++suspected;
    }
  }
  cl.suspected = comm.allreduceSum(suspected);
  cl.notJudged = comm.allreduceSum(notJudged);
  cl.maxDistance = model.range.maxDistance;
  if (comm.isRoot()) {
    fmt::print(stderr,
               "[cleanmix] classifier ({}): held-out {} docs; linear P {:.3f} R {:.3f} F1 {:.3f} "
               "AUROC {:.3f} FPR {:.3f}; vote P {:.3f} R {:.3f} F1 {:.3f} AUROC {:.3f}; {} "
               "documents inferred synthetic_suspected; {} not judged (outside the labelled "
               "data's range: distance > {:.2f})\n",
               cl.source, cl.holdoutDocs, cl.linear[0], cl.linear[1], cl.linear[2], cl.linear[3],
               cl.linear[4], cl.vote[0], cl.vote[1], cl.vote[2], cl.vote[3], cl.suspected,
               cl.notJudged, cl.maxDistance);
    const GroupCvSummary& cv = cl.cv;
    if (cv.ran)
      fmt::print(stderr,
                 "[cleanmix] classifier leave-one-group-out ({} groups): AUROC {:.3f}, TPR {:.3f} "
                 "at 1% FPR, {:.3f} at 5%; FPR {:.3f} recall {:.3f} at thresholds from the other "
                 "groups; threshold p >= {:.4f} ({}){}\n",
                 cv.rows.size(), cv.auroc, cv.tprAt1, cv.tprAt5,
                 cv.human ? static_cast<double>(cv.falsePositives) / cv.human : 0.0,
                 cv.synthetic ? static_cast<double>(cv.truePositives) / cv.synthetic : 0.0,
                 cl.threshold, cl.thresholdFrom, cv.note.empty() ? "" : "; " + cv.note);
    else
      fmt::print(stderr,
                 "[cleanmix] classifier leave-one-group-out: not run ({}); threshold ({})\n",
                 cv.note, cl.thresholdFrom);
  }
  return res;
}

void printCalibration(std::FILE* out, const ClassifierSummary& cl, const std::string& modelPath) {
  fmt::print(out,
             "held-out split (random, same groups as training): {} documents ({} synthetic_known, "
             "{} human_verified); trained on {}\n"
             "features: {}\n"
             "model   precision  recall     F1  AUROC    FPR  (threshold)\n"
             "linear  {:9.3f} {:7.3f} {:6.3f} {:6.3f} {:6.3f}  (p >= {:.4f} from {}, target FPR "
             "{}; in-sample {:.4f})\n"
             "vote    {:9.3f} {:7.3f} {:6.3f} {:6.3f} {:6.3f}  (2 of: log2 ppl < {:.3f}, "
             "burstiness < {:.3f}, ttr < {:.3f})\n",
             cl.holdoutDocs, cl.holdoutSynthetic, cl.holdoutHuman, cl.trainDocs,
             fmt::join(cl.features, ", "), cl.linear[0], cl.linear[1], cl.linear[2], cl.linear[3],
             cl.linear[4], cl.threshold, cl.thresholdFrom, cl.targetFpr, cl.trainThreshold,
             cl.vote[0], cl.vote[1], cl.vote[2], cl.vote[3], cl.vote[4], cl.voteThreshold[0],
             cl.voteThreshold[1], cl.voteThreshold[2]);
  const GroupCvSummary& cv = cl.cv;
  if (!cv.ran) {
    fmt::print(out, "leave-one-group-out: not run ({})\nwrote {}\n", cv.note, modelPath);
    return;
  }
  const auto rate = [](std::uint64_t a, std::uint64_t b) {
    return b ? fmt::format("{:.3f}", static_cast<double>(a) / static_cast<double>(b))
             : std::string("-");
  };
  fmt::print(out,
             "leave-one-group-out (training split; each group scored by a model fitted without "
             "it, at a threshold set on the other groups' out-of-group human scores; LM features "
             "{}):\n"
             "{:<24} {:>6} {:>5} {:>6}  {:>6} {:>5} {:>6}  {:>9} {:>4}\n",
             cv.lmCv == "folds" ? "from the LMs of the other fold of groups (cv_lm = folds)"
                                : "from the run's LMs (cv_lm = shared: optimistic)",
             "group", "human", "FP", "FPR", "synth", "TP", "recall", "threshold", "fold");
  for (const auto& r : cv.rows) {
    if (!r.trained) {
      fmt::print(out,
                 "{:<24} {:>6} {:>5} {:>6}  {:>6} {:>5} {:>6}  not judged (the others "
                 "lack a class)\n",
                 r.group, r.human, "-", "-", r.synthetic, "-", "-");
      continue;
    }
    fmt::print(out, "{:<24} {:>6} {:>5} {:>6}  {:>6} {:>5} {:>6}  {:9.4f} {:>4}\n", r.group,
               r.human, r.falsePositives, rate(r.falsePositives, r.human), r.synthetic,
               r.truePositives, rate(r.truePositives, r.synthetic), r.threshold,
               r.lmFold == 255 ? std::string("-") : std::to_string(r.lmFold));
  }
  fmt::print(out,
             "{:<24} {:>6} {:>5} {:>6}  {:>6} {:>5} {:>6}\n"
             "pooled out-of-group: AUROC {:.3f}, TPR {:.3f} at 1% FPR, {:.3f} at 5% FPR; "
             "threshold at target FPR {}: p >= {:.4f}{}\nwrote {}\n",
             "all judged groups", cv.human, cv.falsePositives, rate(cv.falsePositives, cv.human),
             cv.synthetic, cv.truePositives, rate(cv.truePositives, cv.synthetic), cv.auroc,
             cv.tprAt1, cv.tprAt5, cl.targetFpr, cv.threshold,
             cv.note.empty() ? "" : "\n" + cv.note, modelPath);
}

}  // namespace cleanmix
