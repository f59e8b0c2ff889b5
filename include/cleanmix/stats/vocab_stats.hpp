#pragma once
/// \file
/// \brief Corpus-level vocabulary statistics from an integer histogram (pure; no MPI).
#include <cstdint>
#include <span>

namespace cleanmix {

/// \brief One row of /vocab/stats. Types are non-empty buckets of the hashed vocabulary.
struct VocabStats {
  std::uint64_t tokens = 0;    ///< N = Σ c
  std::uint64_t types = 0;     ///< S_obs = #{c > 0}
  double entropyBits = 0;      ///< plug-in: log2 N − (1/N) Σ c log2 c
  double millerMadowBits = 0;  ///< plug-in + (S_obs − 1) / (2 N ln 2)
  std::uint64_t f1 = 0;        ///< singletons
  std::uint64_t f2 = 0;        ///< doubletons
  double chao1 = 0;  ///< S_obs + f1²/(2 f2); bias-corrected S_obs + f1(f1−1)/2 when f2 = 0
};

/// \brief Statistics of one histogram. Summation runs in bucket order, so the result depends
/// only on the counts.
VocabStats computeVocabStats(std::span<const std::uint64_t> counts);

}  // namespace cleanmix
