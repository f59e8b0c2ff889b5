#pragma once
/// \file
/// \brief The pure parts of the collapse simulation (docs/simulate.md): a counter-based random
/// stream keyed by (seed, stream, generation, document), sampling from integer weights, the Zipf
/// source, and the per-generation metrics with their closed forms. No MPI; every function is a
/// pure function of its arguments, so the distributed engine (simulate.hpp) gives the same bits
/// at any rank count.
#include <cstdint>
#include <span>
#include <vector>

namespace cleanmix::sim {

/// \brief A random stream that depends only on its key: splitmix64 over a state derived from
/// (seed, stream, generation, document). Two documents never share a stream, and a document's
/// tokens do not depend on which rank draws them.
class CounterRng {
 public:
  CounterRng(std::uint64_t seed, std::uint64_t stream, std::uint64_t generation,
             std::uint64_t document);
  std::uint64_t next();
  /// \brief Uniform in [0, n), unbiased (Lemire's multiply-and-reject). n > 0.
  std::uint64_t below(std::uint64_t n);

 private:
  std::uint64_t _state;
};

/// \brief Sampling from non-negative integer weights by inverse CDF on their exact prefix sums.
class Categorical {
 public:
  Categorical() = default;
  explicit Categorical(std::span<const std::uint64_t> weights);
  std::uint64_t total() const { return _cum.empty() ? 0 : _cum.back(); }
  /// \brief One draw: index i with probability w_i / total. Requires total() > 0.
  std::uint32_t draw(CounterRng& rng) const;

 private:
  std::vector<std::uint64_t> _cum;
};

/// \brief The Zipf law p_i ∝ (i+1)^-s over V types, quantised to integer weights summing to
/// about 2^bits (each weight at least 1, so every type can be drawn).
std::vector<std::uint64_t> zipfWeights(std::size_t vocab, double s, int bits = 40);

/// \brief Σ p_i² of the weights as a distribution (the homozygosity).
double homozygosity(std::span<const std::uint64_t> counts);

/// \brief Wright–Fisher under pure resampling of n tokens per generation:
/// E[Σp²]_g = 1 − (1 − 1/n)^g (1 − S₀), S₀ the homozygosity of the starting distribution and g
/// the number of multinomial resamplings.
double wrightFisherHomozygosity(double s0, double n, int generations);

/// \brief Chao1 richness estimate: S_obs + f1² / (2 f2), bias-corrected S_obs + f1(f1 − 1)/2
/// when f2 = 0 (f_k: types seen exactly k times).
double chao1(std::span<const std::uint64_t> counts);

/// \brief Shannon entropy of the counts as a distribution, in bits.
double entropyBits(std::span<const std::uint64_t> counts);

/// \brief Perplexity of held-out counts h under the model counts c smoothed add-k over the
/// vocabulary: q_i = (c_i + k) / (C + kV), ppl = exp(−Σ h_i ln q_i / Σ h).
double smoothedPerplexity(std::span<const std::uint64_t> model, std::span<const std::uint64_t> held,
                          double k);

/// \brief KL(p ‖ q̃) in bits: p the reference counts (generation 0) as a distribution, q̃ the
/// model counts smoothed add-k (so lost types cost a finite, large amount).
double klBits(std::span<const std::uint64_t> reference, std::span<const std::uint64_t> model,
              double k);

/// \brief Types ordered by reference count, descending (ties by id): rank → type.
std::vector<std::uint32_t> rankOrder(std::span<const std::uint64_t> reference);

/// \brief Membership of the tail: 1 for the types of reference rank ≥ `rank` (0-based), from
/// rankOrder.
std::vector<std::uint8_t> tailSet(std::span<const std::uint64_t> reference, std::uint64_t rank);

/// \brief The share of the model's mass on the tail types.
double tailMass(std::span<const std::uint64_t> model, std::span<const std::uint8_t> tail);

/// \brief Of the types with reference count > 0, the share that also have model count > 0.
double typesKept(std::span<const std::uint64_t> reference, std::span<const std::uint64_t> model);

/// \brief k distinct indices of [0, n), sorted, drawn uniformly (partial Fisher–Yates on a
/// stream). Every rank that calls it with the same stream gets the same subset.
std::vector<std::uint64_t> chooseSubset(std::uint64_t n, std::uint64_t k, CounterRng& rng);

}  // namespace cleanmix::sim
