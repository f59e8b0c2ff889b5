#include "cleanmix/simulate/collapse.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

#include "cleanmix/core/error.hpp"

namespace cleanmix::sim {

namespace {
std::uint64_t splitmix(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
std::uint64_t absorb(std::uint64_t h, std::uint64_t v) {
  std::uint64_t s = h ^ (v * 0xD6E8FEB86659FD93ull);
  return splitmix(s);
}
}  // namespace

CounterRng::CounterRng(std::uint64_t seed, std::uint64_t stream, std::uint64_t generation,
                       std::uint64_t document) {
  std::uint64_t h = absorb(0x243F6A8885A308D3ull, seed);
  h = absorb(h, stream);
  h = absorb(h, generation);
  _state = absorb(h, document);
}

std::uint64_t CounterRng::next() {
  return splitmix(_state);
}

std::uint64_t CounterRng::below(std::uint64_t n) {
  unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
  auto lo = static_cast<std::uint64_t>(m);
  if (lo < n) {
    const std::uint64_t t = (0 - n) % n;
    while (lo < t) {
      m = static_cast<unsigned __int128>(next()) * n;
      lo = static_cast<std::uint64_t>(m);
    }
  }
  return static_cast<std::uint64_t>(m >> 64);
}

Categorical::Categorical(std::span<const std::uint64_t> weights) : _cum(weights.size()) {
  std::uint64_t run = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) _cum[i] = run += weights[i];
}

std::uint32_t Categorical::draw(CounterRng& rng) const {
  const std::uint64_t r = rng.below(total());
  return static_cast<std::uint32_t>(std::upper_bound(_cum.begin(), _cum.end(), r) - _cum.begin());
}

std::vector<std::uint64_t> zipfWeights(std::size_t vocab, double s, int bits) {
  if (vocab == 0 || !(s > 0) || bits < 16 || bits > 60)
    fail("sim::zipfWeights", "need vocab > 0, s > 0 and 16 <= bits <= 60 (got {}, {}, {})", vocab,
         s, bits);
  std::vector<double> p(vocab);
  double z = 0;
  for (std::size_t i = 0; i < vocab; ++i) z += p[i] = std::pow(static_cast<double>(i + 1), -s);
  std::vector<std::uint64_t> w(vocab);
  const double scale = std::ldexp(1.0, bits) / z;
  for (std::size_t i = 0; i < vocab; ++i)
    w[i] = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::llround(p[i] * scale)));
  return w;
}

double homozygosity(std::span<const std::uint64_t> counts) {
  long double total = 0, sq = 0;
  for (auto c : counts) total += c;
  if (total == 0) return 0;
  for (auto c : counts) sq += static_cast<long double>(c) * c;
  return static_cast<double>(sq / (total * total));
}

double wrightFisherHomozygosity(double s0, double n, int generations) {
  return 1.0 - std::pow(1.0 - 1.0 / n, generations) * (1.0 - s0);
}

double chao1(std::span<const std::uint64_t> counts) {
  double observed = 0, f1 = 0, f2 = 0;
  for (auto c : counts) {
    observed += c > 0;
    f1 += c == 1;
    f2 += c == 2;
  }
  if (f2 > 0) return observed + f1 * f1 / (2 * f2);
  return observed + f1 * (f1 - 1) / 2;
}

double entropyBits(std::span<const std::uint64_t> counts) {
  double total = 0;
  for (auto c : counts) total += static_cast<double>(c);
  if (total == 0) return 0;
  double h = 0;
  for (auto c : counts)
    if (c) {
      const double p = static_cast<double>(c) / total;
      h -= p * std::log2(p);
    }
  return h;
}

double smoothedPerplexity(std::span<const std::uint64_t> model, std::span<const std::uint64_t> held,
                          double k) {
  if (model.size() != held.size()) fail("sim::smoothedPerplexity", "size mismatch");
  double c = 0, n = 0, ll = 0;
  for (auto x : model) c += static_cast<double>(x);
  const double denom = c + k * static_cast<double>(model.size());
  for (std::size_t i = 0; i < held.size(); ++i)
    if (held[i]) {
      const double q = (static_cast<double>(model[i]) + k) / denom;
      ll += static_cast<double>(held[i]) * std::log(q);
      n += static_cast<double>(held[i]);
    }
  return n > 0 ? std::exp(-ll / n) : 0.0;
}

double klBits(std::span<const std::uint64_t> reference, std::span<const std::uint64_t> model,
              double k) {
  if (model.size() != reference.size()) fail("sim::klBits", "size mismatch");
  double r = 0, c = 0;
  for (auto x : reference) r += static_cast<double>(x);
  for (auto x : model) c += static_cast<double>(x);
  const double denom = c + k * static_cast<double>(model.size());
  double kl = 0;
  for (std::size_t i = 0; i < reference.size(); ++i)
    if (reference[i]) {
      const double p = static_cast<double>(reference[i]) / r;
      const double q = (static_cast<double>(model[i]) + k) / denom;
      kl += p * std::log2(p / q);
    }
  return kl;
}

std::vector<std::uint32_t> rankOrder(std::span<const std::uint64_t> reference) {
  std::vector<std::uint32_t> order(reference.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return reference[a] > reference[b]; });
  return order;
}

std::vector<std::uint8_t> tailSet(std::span<const std::uint64_t> reference, std::uint64_t rank) {
  const auto order = rankOrder(reference);
  std::vector<std::uint8_t> tail(reference.size(), 0);
  for (std::size_t r = rank; r < order.size(); ++r) tail[order[r]] = 1;
  return tail;
}

double tailMass(std::span<const std::uint64_t> model, std::span<const std::uint8_t> tail) {
  double total = 0, t = 0;
  for (std::size_t i = 0; i < model.size(); ++i) {
    total += static_cast<double>(model[i]);
    if (tail[i]) t += static_cast<double>(model[i]);
  }
  return total > 0 ? t / total : 0.0;
}

double typesKept(std::span<const std::uint64_t> reference, std::span<const std::uint64_t> model) {
  double seen = 0, kept = 0;
  for (std::size_t i = 0; i < reference.size(); ++i)
    if (reference[i]) {
      seen += 1;
      kept += model[i] > 0;
    }
  return seen > 0 ? kept / seen : 0.0;
}

std::vector<std::uint64_t> chooseSubset(std::uint64_t n, std::uint64_t k, CounterRng& rng) {
  if (k > n) fail("sim::chooseSubset", "cannot choose {} of {}", k, n);
  // Sparse Fisher–Yates: only the swapped positions are stored.
  std::unordered_map<std::uint64_t, std::uint64_t> swapped;
  auto at = [&](std::uint64_t i) {
    auto it = swapped.find(i);
    return it == swapped.end() ? i : it->second;
  };
  std::vector<std::uint64_t> out(k);
  for (std::uint64_t i = 0; i < k; ++i) {
    const std::uint64_t j = i + rng.below(n - i);
    const std::uint64_t vi = at(i), vj = at(j);
    swapped[j] = vi;
    out[i] = vj;
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace cleanmix::sim
