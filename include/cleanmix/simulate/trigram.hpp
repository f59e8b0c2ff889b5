#pragma once
/// \file
/// \brief The simulation's `trigram` model: the reference LM's formula (kernels/ngram_lm.hpp,
/// order 3, interpolated Jelinek–Mercer, every document framed B B w_0 .. w_{n-1} B) over exact
/// dense-id counts instead of hashed ones, so it can be sampled. Pure: built from global counts
/// (the engine merges them over ranks), the same bits on every rank.
///
///   score:  P(w | u v) = λ3 c(uvw)/c(uv) + λ2 c(vw)/c(v) + λ1 (c(w) + 1)/(N + V)
///   sample: the same mixture with the MLE unigram λ1 c(w)/N, so a type the mix lacks can never
///           be drawn (as in the unigram model), and a document ends at B or at maxTokens.
/// A component whose context count is 0 is dropped and the remaining λs renormalised.
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "cleanmix/simulate/collapse.hpp"

namespace cleanmix::sim {

using Tokens = std::vector<std::uint32_t>;

inline constexpr std::uint32_t kBoundary = 0;  ///< B: document start and end
inline constexpr std::uint32_t kUnknown = 1;   ///< held-out tokens outside the vocabulary
inline constexpr int kIdBits = 21;             ///< ids are packed three to a 64-bit key
inline constexpr std::uint32_t kMaxVocab = 1u << kIdBits;

/// \brief A (key, count) run of sorted n-gram keys.
struct KeyCount {
  std::uint64_t key = 0, count = 0;
};

/// \brief The n-gram keys of documents: trigram (u, v, w) and bigram (v, w) keys of every
/// predicted position, and unigram counts of the predicted tokens (B included).
struct NgramCounts {
  std::vector<KeyCount> tri, bi;  ///< sorted by key, counts summed
  std::vector<std::uint64_t> uni;

  explicit NgramCounts(std::uint32_t vocab = 0) : uni(vocab, 0) {}
  /// \brief Count documents (appends, then sorts and sums).
  void addDocuments(std::span<const Tokens* const> docs);
  /// \brief Merge another set (sorted union, counts summed).
  void merge(const NgramCounts& other);
};

std::vector<KeyCount> mergeRuns(std::vector<KeyCount> all);

class TrigramModel {
 public:
  TrigramModel(const NgramCounts& counts, std::array<double, 3> lambda, std::uint64_t maxTokens);

  /// \brief One document (without its frames), drawn on `rng`.
  void sample(CounterRng& rng, Tokens& out) const;
  /// \brief ln P(w | u v) as scored (add-one unigram over the vocabulary).
  double logProb(std::uint32_t u, std::uint32_t v, std::uint32_t w) const;
  /// \brief exp(−mean ln P) over every predicted token of the documents, the final B included.
  double perplexity(std::span<const Tokens> docs) const;

  std::uint32_t vocab() const { return static_cast<std::uint32_t>(_uni.size()); }

 private:
  struct Table {
    std::vector<std::uint64_t> keys, cum;  ///< cum[i] = counts of keys[0..i]
    /// [lo, hi) of the keys in [first, last], and their total count
    std::uint64_t range(std::uint64_t first, std::uint64_t last, std::size_t& lo,
                        std::size_t& hi) const;
    std::uint64_t countOf(std::uint64_t key) const;
    std::uint64_t drawIn(std::size_t lo, std::size_t hi, CounterRng& rng) const;
  };
  Table _tri, _bi;
  std::vector<std::uint64_t> _uni;
  Categorical _uniDraw;
  std::uint64_t _n = 0;
  std::array<double, 3> _lambda;
  std::uint64_t _maxTokens;
};

inline std::uint64_t triKey(std::uint64_t u, std::uint64_t v, std::uint64_t w) {
  return (u << (2 * kIdBits)) | (v << kIdBits) | w;
}
inline std::uint64_t biKey(std::uint64_t v, std::uint64_t w) {
  return (v << kIdBits) | w;
}

}  // namespace cleanmix::sim
