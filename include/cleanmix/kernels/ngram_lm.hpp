#pragma once
/// \file
/// \brief The reference n-gram LM (order 3, interpolated Jelinek–Mercer over hashed counts),
/// built from anchor documents. Counting runs on the host (count stage); scoring is a Kokkos
/// kernel (kernels/ngram_lm_impl.hpp).
///
/// A document w_0..w_{n-1} is scored as the sequence B B w_0 .. w_{n-1} B, with B a reserved
/// boundary id, so every real token and the final B is predicted:
///   P(w | u v) = λ3 c(uvw)/c(uv) + λ2 c(vw)/c(v) + λ1 (c(w) + 1)/(N + V)
/// where c(·) are hashed counts, N is the number of predicted tokens and V the number of unigram
/// buckets. Context counts equal outcome counts by construction (every context is followed by
/// exactly one predicted token), except the first trigram context (B, B), whose count is the
/// number of documents, c(B); using c(B) keeps every conditional distribution summing to 1. A
/// component whose context count is 0 is dropped and the remaining λs renormalised. Anchor
/// documents are scored leave-one-out: their own n-gram counts are subtracted first.
///
/// The contrast LM is the same model counted over the labelled synthetic documents
/// (`synthetic_known`, non-benchmark), which it scores leave-one-out in turn. Per-token surprisal
/// under both gives the two-model features (`contrast_bits`, `contrast_sd`): the n-gram analogue
/// of a Binoculars-style perplexity ratio.
#include <Kokkos_Macros.hpp>

#include <cstdint>
#include <span>
#include <vector>

namespace cleanmix {

namespace lm {
KOKKOS_INLINE_FUNCTION std::uint64_t mixPair(std::uint64_t a, std::uint64_t b) {
  std::uint64_t x = a * 0x9E3779B97F4A7C15ull ^ ((b << 29) | (b >> 35));
  x ^= x >> 31;
  x *= 0xD6E8FEB86659FD93ull;
  return x ^ (x >> 32);
}
/// \brief Table slots of a unigram, bigram and trigram (host counting and device scoring agree).
KOKKOS_INLINE_FUNCTION std::uint64_t uniIndex(std::uint64_t w, std::uint64_t mask) {
  return w & mask;
}
KOKKOS_INLINE_FUNCTION std::uint64_t biIndex(std::uint64_t v, std::uint64_t w, std::uint64_t mask) {
  return mixPair(v, w) & mask;
}
KOKKOS_INLINE_FUNCTION std::uint64_t triIndex(std::uint64_t u, std::uint64_t v, std::uint64_t w,
                                              std::uint64_t mask) {
  return mixPair(mixPair(u, v) + 0x632BE59BD9B4E019ull, w) & mask;
}
}  // namespace lm

/// \brief Sizes and weights of the LM (config section [lm]; unigramBits is [tokenizer]
/// vocab_bits).
struct LmParams {
  int unigramBits = 20;  ///< = tokenizer.vocab_bits
  int tableBits = 21;    ///< bigram and trigram tables: 2^tableBits counters each
  /// The contrast LM (same model, built from the `synthetic_known` training sources): its bigram
  /// and trigram tables have 2^contrastTableBits counters each; 0 = no contrast LM.
  int contrastTableBits = 19;
  double lambda[3] = {0.1, 0.3, 0.6};  ///< unigram, bigram, trigram weights (sum 1)
};

/// \brief The boundary id B (a reserved value no XXH3 token id is expected to take in practice).
inline constexpr std::uint64_t kBoundaryId = 0x2545F4914F6CDD1Dull;

/// \brief Integer count tables, flat: [unigram 2^unigramBits | bigram 2^tableBits | trigram ...].
struct LmCounts {
  LmParams params;
  std::vector<std::uint64_t> table;
  LmCounts() = default;  ///< no tables (a placeholder)
  explicit LmCounts(const LmParams& p);
  std::size_t uniSize() const { return std::size_t{1} << params.unigramBits; }
  std::size_t ngramSize() const { return std::size_t{1} << params.tableBits; }
  std::uint64_t* uni() { return table.data(); }
  std::uint64_t* bi() { return table.data() + uniSize(); }
  std::uint64_t* tri() { return table.data() + uniSize() + ngramSize(); }
  std::uint64_t bytes() const { return table.size() * sizeof(std::uint64_t); }
  /// \brief Add one document's n-grams (host; the count stage).
  void addDocument(std::span<const std::uint64_t> ids);
};

}  // namespace cleanmix
