#include "cleanmix/classify/model.hpp"

#include <xxhash.h>

#include <algorithm>
#include <boost/archive/text_iarchive.hpp>
#include <boost/serialization/vector.hpp>
#include <cmath>
#include <limits>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "cleanmix/core/archive.hpp"
#include "cleanmix/core/error.hpp"
#include "cleanmix/core/hash.hpp"

namespace cleanmix {

NbCounts::NbCounts(int b) : bits(b), counts(4 * (std::size_t{1} << b), 0) {}

namespace {
std::uint64_t biKey(std::uint64_t a, std::uint64_t b) {
  return combine(mix64(a), b);
}
}  // namespace

void NbCounts::add(std::span<const std::uint64_t> ids, int cls) {
  const std::uint64_t m = buckets() - 1;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    ++row(cls, 0)[ids[i] & m];
    if (i + 1 < ids.size()) ++row(cls, 1)[biKey(ids[i], ids[i + 1]) & m];
  }
}

void NbCounts::computeTotals() {
  for (int k = 0; k < 2; ++k)
    for (int o = 0; o < 2; ++o)
      total[k][o] = std::accumulate(row(k, o), row(k, o) + buckets(), std::uint64_t{0});
  const double v = static_cast<double>(buckets());
  logRatio.resize(2 * buckets());
  for (int o = 0; o < 2; ++o)
    for (std::size_t b = 0; b < buckets(); ++b)
      logRatio[o * buckets() + b] = std::log((static_cast<double>(row(1, o)[b]) + 1.0) /
                                             (static_cast<double>(total[1][o]) + v)) -
                                    std::log((static_cast<double>(row(0, o)[b]) + 1.0) /
                                             (static_cast<double>(total[0][o]) + v));
}

void nbFeatures(const NbCounts& c, std::span<const std::uint64_t> ids, int ownClass, double& uni,
                double& bi) {
  const std::uint64_t m = c.buckets() - 1;
  if (ownClass < 0) {  // fast path: one table lookup per token
    const double* r0 = c.logRatio.data();
    const double* r1 = r0 + c.buckets();
    double s0 = 0, s1 = 0;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      s0 += r0[ids[i] & m];
      if (i + 1 < ids.size()) s1 += r1[biKey(ids[i], ids[i + 1]) & m];
    }
    uni = ids.empty() ? 0.0 : s0 / static_cast<double>(ids.size());
    bi = ids.size() < 2 ? 0.0 : s1 / static_cast<double>(ids.size() - 1);
    return;
  }
  // A training document: leave its own counts out of its class (exact leave-one-out).
  const double v = static_cast<double>(c.buckets());
  for (int order = 0; order < 2; ++order) {
    std::vector<std::uint64_t> keys;
    for (std::size_t i = 0; i + order < ids.size(); ++i)
      keys.push_back((order == 0 ? ids[i] : biKey(ids[i], ids[i + 1])) & m);
    std::vector<std::uint64_t> sorted = keys;
    std::sort(sorted.begin(), sorted.end());
    double total[2];
    for (int k = 0; k < 2; ++k)
      total[k] = static_cast<double>(c.total[k][order] - (ownClass == k ? keys.size() : 0));
    double sum = 0;
    for (const std::uint64_t key : keys) {
      const auto r = std::equal_range(sorted.begin(), sorted.end(), key);
      const auto own = static_cast<std::uint64_t>(r.second - r.first);
      double cnt[2];
      for (int k = 0; k < 2; ++k)
        cnt[k] = static_cast<double>(c.row(k, order)[key] - (ownClass == k ? own : 0));
      sum += std::log((cnt[1] + 1.0) / (total[1] + v)) - std::log((cnt[0] + 1.0) / (total[0] + v));
    }
    (order == 0 ? uni : bi) = keys.empty() ? 0.0 : sum / static_cast<double>(keys.size());
  }
}

double LinearModel::probability(const double* x) const {
  double z = bias;
  for (std::size_t j = 0; j < weight.size(); ++j)  // unused features (weight 0) may be NaN
    if (weight[j] != 0) z += weight[j] * (x[j] - mean[j]) / sd[j];
  return 1.0 / (1.0 + std::exp(-z));
}

int VoteModel::votes(const double* x) const {
  int v = 0;
  for (int k = 0; k < 3; ++k) v += x[kVoteFeatures[k]] < threshold[k];
  return v;
}

LinearModel fitLinear(std::span<const double> rows, std::span<const std::uint8_t> labels, double l2,
                      double targetFpr, std::span<const std::uint8_t> use) {
  if (!use.empty() && use.size() != kNumFeatures)
    fail("fitLinear", "feature mask has {} entries, expected {}", use.size(), kNumFeatures);
  const auto used = [&](std::size_t j) { return use.empty() || use[j] != 0; };
  const std::size_t n = labels.size(), f = kNumFeatures;
  LinearModel m;
  m.mean.assign(f, 0);
  m.sd.assign(f, 0);
  m.weight.assign(f, 0);
  if (n == 0) fail("fitLinear", "no labelled training documents");
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < f; ++j) m.mean[j] += rows[i * f + j];
  for (auto& x : m.mean) x /= static_cast<double>(n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < f; ++j) m.sd[j] += std::pow(rows[i * f + j] - m.mean[j], 2);
  for (auto& x : m.sd) x = std::max(std::sqrt(x / static_cast<double>(n)), 1e-12);
  for (std::size_t j = 0; j < f; ++j)
    if (!used(j)) m.mean[j] = 0, m.sd[j] = 1;  // z = 0, so its weight stays 0
  std::vector<double> z(n * f);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < f; ++j)
      z[i * f + j] = used(j) ? (rows[i * f + j] - m.mean[j]) / m.sd[j] : 0.0;
  // Class-balanced weights so the minority class counts as much as the majority.
  double npos = 0;
  for (auto y : labels) npos += y;
  const double nneg = static_cast<double>(n) - npos;
  if (npos == 0 || nneg == 0) fail("fitLinear", "need documents of both classes");
  const double wpos = 0.5 / npos, wneg = 0.5 / nneg;
  // Full-batch gradient descent with Nesterov momentum: deterministic (fixed order and steps).
  std::vector<double> w(f, 0), vel(f, 0), g(f);
  double b = 0, vb = 0;
  const double lr = 0.5, mu = 0.9;
  for (int it = 0; it < 3000; ++it) {
    std::vector<double> wl(f);
    for (std::size_t j = 0; j < f; ++j) wl[j] = w[j] + mu * vel[j];
    const double bl = b + mu * vb;
    std::fill(g.begin(), g.end(), 0.0);
    double gb = 0;
    for (std::size_t i = 0; i < n; ++i) {
      double s = bl;
      for (std::size_t j = 0; j < f; ++j) s += wl[j] * z[i * f + j];
      const double p = 1.0 / (1.0 + std::exp(-s));
      const double e = (p - labels[i]) * (labels[i] ? wpos : wneg);
      for (std::size_t j = 0; j < f; ++j) g[j] += e * z[i * f + j];
      gb += e;
    }
    for (std::size_t j = 0; j < f; ++j) {
      vel[j] = mu * vel[j] - lr * (g[j] + l2 * wl[j]);
      w[j] += vel[j];
    }
    vb = mu * vb - lr * gb;
    b += vb;
  }
  m.weight = w;
  m.bias = b;
  // Threshold: the smallest value whose false-positive rate on human training docs <= target.
  std::vector<double> human;
  for (std::size_t i = 0; i < n; ++i)
    if (!labels[i]) human.push_back(m.probability(&rows[i * f]));
  m.threshold = thresholdAtFpr(std::move(human), targetFpr);
  return m;
}

RangeModel fitRange(std::span<const double> rows, std::span<const std::uint8_t> use,
                    double quantile) {
  const std::size_t f = kNumFeatures, n = rows.size() / f;
  RangeModel r;
  for (std::size_t j = 0; j < f; ++j)
    if (use.empty() || use[j]) r.features.push_back(static_cast<std::int32_t>(j));
  const std::size_t k = r.features.size();
  if (n < 2 || k == 0) return r;  // no range to speak of: everything is judged
  r.mean.assign(k, 0);
  r.sd.assign(k, 0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t a = 0; a < k; ++a) r.mean[a] += rows[i * f + r.features[a]];
  for (auto& m : r.mean) m /= static_cast<double>(n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t a = 0; a < k; ++a)
      r.sd[a] += std::pow(rows[i * f + r.features[a]] - r.mean[a], 2);
  for (auto& s : r.sd) s = std::max(std::sqrt(s / static_cast<double>(n)), 1e-12);
  // Covariance of the standardised features (a correlation matrix), with a small ridge so a
  // constant or collinear feature cannot make it singular; inverted by Gauss-Jordan.
  std::vector<double> cov(k * k, 0), z(k);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t a = 0; a < k; ++a) z[a] = (rows[i * f + r.features[a]] - r.mean[a]) / r.sd[a];
    for (std::size_t a = 0; a < k; ++a)
      for (std::size_t b = 0; b < k; ++b) cov[a * k + b] += z[a] * z[b];
  }
  for (auto& c : cov) c /= static_cast<double>(n);
  for (std::size_t a = 0; a < k; ++a) cov[a * k + a] += 1e-6;
  std::vector<double> inv(k * k, 0);
  for (std::size_t a = 0; a < k; ++a) inv[a * k + a] = 1;
  for (std::size_t col = 0; col < k; ++col) {
    std::size_t piv = col;
    for (std::size_t row = col + 1; row < k; ++row)
      if (std::abs(cov[row * k + col]) > std::abs(cov[piv * k + col])) piv = row;
    for (std::size_t b = 0; b < k; ++b) {
      std::swap(cov[col * k + b], cov[piv * k + b]);
      std::swap(inv[col * k + b], inv[piv * k + b]);
    }
    const double d = cov[col * k + col];
    for (std::size_t b = 0; b < k; ++b) cov[col * k + b] /= d, inv[col * k + b] /= d;
    for (std::size_t row = 0; row < k; ++row) {
      if (row == col) continue;
      const double m = cov[row * k + col];
      if (m == 0) continue;
      for (std::size_t b = 0; b < k; ++b) {
        cov[row * k + b] -= m * cov[col * k + b];
        inv[row * k + b] -= m * inv[col * k + b];
      }
    }
  }
  r.precision = std::move(inv);
  if (quantile >= 1) return r;
  std::vector<double> d;
  d.reserve(n);
  for (std::size_t i = 0; i < n; ++i) d.push_back(r.distance(&rows[i * f]));
  std::sort(d.begin(), d.end());
  const auto at = static_cast<std::size_t>(std::ceil(quantile * static_cast<double>(n))) - 1;
  r.maxDistance = d[std::min(at, n - 1)];
  return r;
}

double RangeModel::distance(const double* x) const {
  const std::size_t k = features.size();
  if (precision.size() != k * k || k == 0) return 0;
  double z[kNumFeatures];
  for (std::size_t a = 0; a < k; ++a) z[a] = (x[features[a]] - mean[a]) / sd[a];
  double q = 0;
  for (std::size_t a = 0; a < k; ++a) {
    double row = 0;
    for (std::size_t b = 0; b < k; ++b) row += precision[a * k + b] * z[b];
    q += z[a] * row;
  }
  return std::sqrt(std::max(q, 0.0));
}

double thresholdAtFpr(std::vector<double> human, double targetFpr) {
  if (human.empty()) return 0.5;
  std::sort(human.begin(), human.end());
  const std::size_t allowed =
      static_cast<std::size_t>(std::floor(targetFpr * static_cast<double>(human.size())));
  const std::size_t k = human.size() - allowed;  // scores at index >= k may reach it
  const double t = k == 0 ? human.front() : std::nextafter(human[k - 1], 2.0);
  return std::max(t, 1e-12);
}

double tprAtFpr(std::span<const double> scores, std::span<const std::uint8_t> labels, double fpr) {
  std::vector<double> human;
  double pos = 0, hit = 0;
  for (std::size_t i = 0; i < scores.size(); ++i)
    if (!labels[i]) human.push_back(scores[i]);
  const double t = thresholdAtFpr(std::move(human), fpr);
  for (std::size_t i = 0; i < scores.size(); ++i)
    if (labels[i]) pos += 1, hit += scores[i] >= t;
  return pos > 0 ? hit / pos : 0;
}

GroupCv leaveOneGroupOut(std::span<const double> rowsAll, std::span<const std::uint8_t> labels,
                         std::span<const std::uint32_t> groups, double l2, double targetFpr,
                         std::span<const std::uint8_t> use, std::span<const double> foldRows,
                         std::span<const std::uint8_t> groupFold) {
  const std::size_t n = labels.size(), f = kNumFeatures;
  if (!foldRows.empty() && foldRows.size() != 2 * rowsAll.size())
    fail("leaveOneGroupOut", "fold rows hold {} values, expected 2 x {}", foldRows.size(),
         rowsAll.size());
  GroupCv cv;
  std::vector<std::uint32_t> ids(groups.begin(), groups.end());
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  // Out-of-group scores of every document (NaN: its fold could not be trained).
  std::vector<double> oog(n, std::numeric_limits<double>::quiet_NaN());
  for (const std::uint32_t g : ids) {
    GroupFold fold;
    fold.group = g;
    // The rows this group is fitted and scored on: under the LMs of the other fold, if given.
    std::span<const double> rows = rowsAll;
    if (!foldRows.empty()) {
      const std::size_t other = g < groupFold.size() && groupFold[g] == 0 ? 1 : 0;
      rows = foldRows.subspan(other * n * f, n * f);
    }
    std::vector<double> tr;
    std::vector<std::uint8_t> ytr;
    std::uint64_t pos = 0;
    for (std::size_t i = 0; i < n; ++i)
      if (groups[i] != g) {
        tr.insert(tr.end(), rows.begin() + static_cast<std::ptrdiff_t>(i * f),
                  rows.begin() + static_cast<std::ptrdiff_t>((i + 1) * f));
        ytr.push_back(labels[i]);
        pos += labels[i];
      }
    fold.trained = pos > 0 && pos < ytr.size();
    if (fold.trained) {
      const LinearModel m = fitLinear(tr, ytr, l2, targetFpr, use);
      for (std::size_t i = 0; i < n; ++i)
        if (groups[i] == g) oog[i] = m.probability(&rows[i * f]);
    }
    cv.folds.push_back(fold);
  }
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isnan(oog[i])) {
      cv.scores.push_back(oog[i]);
      cv.labels.push_back(labels[i]);
    }
  cv.auroc = auroc(cv.scores, cv.labels);
  cv.tprAt1 = tprAtFpr(cv.scores, cv.labels, 0.01);
  cv.tprAt5 = tprAtFpr(cv.scores, cv.labels, 0.05);
  std::vector<double> human;
  for (std::size_t i = 0; i < cv.scores.size(); ++i)
    if (!cv.labels[i]) human.push_back(cv.scores[i]);
  cv.threshold = thresholdAtFpr(human, targetFpr);
  // Each group is judged at a threshold its own human documents did not help set.
  for (auto& fold : cv.folds) {
    if (!fold.trained) {  // counted, not judged
      for (std::size_t i = 0; i < n; ++i)
        if (groups[i] == fold.group) ++(labels[i] ? fold.synthetic : fold.human);
      continue;
    }
    std::vector<double> others;
    for (std::size_t i = 0; i < n; ++i)
      if (groups[i] != fold.group && !labels[i] && !std::isnan(oog[i])) others.push_back(oog[i]);
    fold.threshold = thresholdAtFpr(std::move(others), targetFpr);
    for (std::size_t i = 0; i < n; ++i) {
      if (groups[i] != fold.group) continue;
      const bool flag = oog[i] >= fold.threshold;
      if (labels[i])
        ++fold.synthetic, fold.truePositives += flag;
      else
        ++fold.human, fold.falsePositives += flag;
    }
    cv.human += fold.human;
    cv.falsePositives += fold.falsePositives;
    cv.synthetic += fold.synthetic;
    cv.truePositives += fold.truePositives;
  }
  return cv;
}

VoteModel fitVote(std::span<const double> rows, std::span<const std::uint8_t> labels) {
  VoteModel v;
  const std::size_t n = labels.size(), f = kNumFeatures;
  double npos = 0;
  for (auto y : labels) npos += y;
  const double nneg = static_cast<double>(n) - npos;
  for (int k = 0; k < 3; ++k) {
    std::vector<std::pair<double, std::uint8_t>> xs;
    for (std::size_t i = 0; i < n; ++i) xs.emplace_back(rows[i * f + kVoteFeatures[k]], labels[i]);
    std::sort(xs.begin(), xs.end());
    // rule: x < t -> synthetic. Sweep t over midpoints; maximise balanced accuracy among the
    // thresholds that flag at most half of the human documents.
    double tp = 0, fp = 0, best = -1, bestT = xs.empty() ? 0 : xs.front().first - 1e-9;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      (xs[i].second ? tp : fp) += 1;
      if (i + 1 < xs.size() && xs[i + 1].first == xs[i].first) continue;
      const double bal = 0.5 * (tp / std::max(npos, 1.0) + (1 - fp / std::max(nneg, 1.0)));
      // Not the degenerate "flag everything": the signal must leave most human text unflagged.
      if (fp / std::max(nneg, 1.0) > 0.5) break;
      if (bal > best) {
        best = bal;
        bestT = i + 1 < xs.size() ? 0.5 * (xs[i].first + xs[i + 1].first) : xs[i].first + 1e-9;
      }
    }
    v.threshold[k] = bestT;
  }
  return v;
}

double auroc(std::span<const double> scores, std::span<const std::uint8_t> labels) {
  std::vector<std::pair<double, std::uint8_t>> xs;  // NaN scores are left out (unordered)
  for (std::size_t i = 0; i < scores.size(); ++i)
    if (!std::isnan(scores[i])) xs.emplace_back(scores[i], labels[i]);
  std::sort(xs.begin(), xs.end());
  double rankSum = 0, npos = 0;
  for (std::size_t i = 0; i < xs.size();) {
    std::size_t j = i;
    while (j < xs.size() && xs[j].first == xs[i].first) ++j;
    const double avgRank = 0.5 * static_cast<double>(i + 1 + j);  // ranks i+1..j
    for (std::size_t k = i; k < j; ++k)
      if (xs[k].second) rankSum += avgRank, npos += 1;
    i = j;
  }
  const double nneg = static_cast<double>(xs.size()) - npos;
  if (npos == 0 || nneg == 0) return 0.5;
  return (rankSum - npos * (npos + 1) / 2) / (npos * nneg);
}

Metrics evaluate(std::span<const double> scores, std::span<const std::uint8_t> labels,
                 double threshold) {
  Metrics m;
  double tp = 0, fp = 0, fn = 0, tn = 0;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    const bool pred = scores[i] >= threshold;
    if (labels[i])
      (pred ? tp : fn) += 1;
    else
      (pred ? fp : tn) += 1;
  }
  m.positives = static_cast<std::uint64_t>(tp + fn);
  m.negatives = static_cast<std::uint64_t>(fp + tn);
  m.precision = tp + fp > 0 ? tp / (tp + fp) : 0;
  m.recall = tp + fn > 0 ? tp / (tp + fn) : 0;
  m.f1 = m.precision + m.recall > 0 ? 2 * m.precision * m.recall / (m.precision + m.recall) : 0;
  m.fpr = fp + tn > 0 ? fp / (fp + tn) : 0;
  m.auroc = auroc(scores, labels);
  return m;
}

void saveModel(const ClassifierModel& m, const std::string& path) {
  writeTextFile(path, m);
}

ClassifierModel loadModel(const std::string& path) {
  std::ifstream in(path);
  if (!in) configFail("loadModel", "cannot open classifier model '{}'", path);
  ClassifierModel m;
  try {
    boost::archive::text_iarchive ar(in);
    ar >> m;
  } catch (const std::exception& e) {
    configFail("loadModel", "'{}' is not a cleanmix classifier model: {}", path, e.what());
  }
  if (m.linear.weight.size() != kNumFeatures ||
      m.nbCounts.size() != 4 * (std::size_t{1} << m.nbBits))
    configFail("loadModel", "'{}' was written for another feature set", path);
  return m;
}

bool inHoldout(const std::string& source, std::uint64_t textHash) {
  return mix64(XXH3_64bits(source.data(), source.size()) ^ textHash) % 5 == 0;
}

}  // namespace cleanmix
