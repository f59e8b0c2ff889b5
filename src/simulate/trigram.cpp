#include "cleanmix/simulate/trigram.hpp"

#include <algorithm>
#include <cmath>

#include "cleanmix/core/error.hpp"

namespace cleanmix::sim {

std::vector<KeyCount> mergeRuns(std::vector<KeyCount> all) {
  std::sort(all.begin(), all.end(),
            [](const KeyCount& a, const KeyCount& b) { return a.key < b.key; });
  std::vector<KeyCount> out;
  for (const auto& kc : all) {
    if (!out.empty() && out.back().key == kc.key)
      out.back().count += kc.count;
    else
      out.push_back(kc);
  }
  return out;
}

void NgramCounts::addDocuments(std::span<const Tokens* const> docs) {
  for (const Tokens* d : docs) {
    std::uint32_t u = kBoundary, v = kBoundary;
    for (std::size_t k = 0; k <= d->size(); ++k) {
      const std::uint32_t w = k < d->size() ? (*d)[k] : kBoundary;
      tri.push_back({triKey(u, v, w), 1});
      bi.push_back({biKey(v, w), 1});
      ++uni.at(w);
      u = v;
      v = w;
    }
  }
  tri = mergeRuns(std::move(tri));
  bi = mergeRuns(std::move(bi));
}

void NgramCounts::merge(const NgramCounts& other) {
  tri.insert(tri.end(), other.tri.begin(), other.tri.end());
  bi.insert(bi.end(), other.bi.begin(), other.bi.end());
  tri = mergeRuns(std::move(tri));
  bi = mergeRuns(std::move(bi));
  if (uni.size() < other.uni.size()) uni.resize(other.uni.size(), 0);
  for (std::size_t i = 0; i < other.uni.size(); ++i) uni[i] += other.uni[i];
}

namespace {
void fillTable(const std::vector<KeyCount>& runs, std::vector<std::uint64_t>& keys,
               std::vector<std::uint64_t>& cum) {
  keys.resize(runs.size());
  cum.resize(runs.size());
  std::uint64_t run = 0;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    keys[i] = runs[i].key;
    cum[i] = run += runs[i].count;
  }
}
double unitDouble(CounterRng& rng) {
  return static_cast<double>(rng.next() >> 11) * 0x1.0p-53;
}
}  // namespace

TrigramModel::TrigramModel(const NgramCounts& counts, std::array<double, 3> lambda,
                           std::uint64_t maxTokens)
    : _uni(counts.uni), _uniDraw(counts.uni), _lambda(lambda), _maxTokens(maxTokens) {
  if (_uni.size() < 2 || _uni.size() > kMaxVocab)
    fail("sim::TrigramModel", "vocabulary of {} ids is outside [2, 2^{}]", _uni.size(), kIdBits);
  fillTable(counts.tri, _tri.keys, _tri.cum);
  fillTable(counts.bi, _bi.keys, _bi.cum);
  for (auto c : _uni) _n += c;
  if (_n == 0) fail("sim::TrigramModel", "no tokens to fit");
}

std::uint64_t TrigramModel::Table::range(std::uint64_t first, std::uint64_t last, std::size_t& lo,
                                         std::size_t& hi) const {
  lo = static_cast<std::size_t>(std::lower_bound(keys.begin(), keys.end(), first) - keys.begin());
  hi = static_cast<std::size_t>(
      std::upper_bound(keys.begin() + static_cast<std::ptrdiff_t>(lo), keys.end(), last) -
      keys.begin());
  if (lo == hi) return 0;
  return cum[hi - 1] - (lo ? cum[lo - 1] : 0);
}

std::uint64_t TrigramModel::Table::countOf(std::uint64_t key) const {
  const auto it = std::lower_bound(keys.begin(), keys.end(), key);
  if (it == keys.end() || *it != key) return 0;
  const auto i = static_cast<std::size_t>(it - keys.begin());
  return cum[i] - (i ? cum[i - 1] : 0);
}

std::uint64_t TrigramModel::Table::drawIn(std::size_t lo, std::size_t hi, CounterRng& rng) const {
  const std::uint64_t base = lo ? cum[lo - 1] : 0;
  const std::uint64_t r = base + rng.below(cum[hi - 1] - base);
  const auto it = std::upper_bound(cum.begin() + static_cast<std::ptrdiff_t>(lo),
                                   cum.begin() + static_cast<std::ptrdiff_t>(hi), r);
  return keys[static_cast<std::size_t>(it - cum.begin())];
}

void TrigramModel::sample(CounterRng& rng, Tokens& out) const {
  out.clear();
  const std::uint64_t mask = (std::uint64_t{1} << kIdBits) - 1;
  std::uint64_t u = kBoundary, v = kBoundary;
  while (out.size() < _maxTokens) {
    std::size_t tlo = 0, thi = 0, blo = 0, bhi = 0;
    const std::uint64_t c3 = _tri.range(triKey(u, v, 0), triKey(u, v, mask), tlo, thi);
    const std::uint64_t c2 = _bi.range(biKey(v, 0), biKey(v, mask), blo, bhi);
    const double l3 = c3 ? _lambda[2] : 0.0, l2 = c2 ? _lambda[1] : 0.0, l1 = _lambda[0];
    const double x = unitDouble(rng) * (l1 + l2 + l3);
    std::uint64_t w = 0;
    if (x < l3)
      w = _tri.drawIn(tlo, thi, rng) & mask;
    else if (x < l3 + l2)
      w = _bi.drawIn(blo, bhi, rng) & mask;
    else
      w = _uniDraw.draw(rng);
    if (w == kBoundary) break;
    out.push_back(static_cast<std::uint32_t>(w));
    u = v;
    v = w;
  }
}

double TrigramModel::logProb(std::uint32_t u, std::uint32_t v, std::uint32_t w) const {
  const std::uint64_t mask = (std::uint64_t{1} << kIdBits) - 1;
  std::size_t lo = 0, hi = 0;
  const std::uint64_t c3 = _tri.range(triKey(u, v, 0), triKey(u, v, mask), lo, hi);
  const std::uint64_t c2 = _bi.range(biKey(v, 0), biKey(v, mask), lo, hi);
  const double l3 = c3 ? _lambda[2] : 0.0, l2 = c2 ? _lambda[1] : 0.0, l1 = _lambda[0];
  const double uw = w < _uni.size() ? static_cast<double>(_uni[w]) : 0.0;
  double p = l1 * (uw + 1) / (static_cast<double>(_n) + static_cast<double>(_uni.size()));
  if (c3) p += l3 * static_cast<double>(_tri.countOf(triKey(u, v, w))) / static_cast<double>(c3);
  if (c2) p += l2 * static_cast<double>(_bi.countOf(biKey(v, w))) / static_cast<double>(c2);
  return std::log(p / (l1 + l2 + l3));
}

double TrigramModel::perplexity(std::span<const Tokens> docs) const {
  double ll = 0, n = 0;
  for (const Tokens& d : docs) {
    std::uint32_t u = kBoundary, v = kBoundary;
    for (std::size_t k = 0; k <= d.size(); ++k) {
      const std::uint32_t w = k < d.size() ? d[k] : kBoundary;
      ll += logProb(u, v, w);
      n += 1;
      u = v;
      v = w;
    }
  }
  return n > 0 ? std::exp(-ll / n) : 0.0;
}

}  // namespace cleanmix::sim
