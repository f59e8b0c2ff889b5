#include "cleanmix/stats/vocab_stats.hpp"

#include <cmath>

namespace cleanmix {

VocabStats computeVocabStats(std::span<const std::uint64_t> counts) {
  VocabStats s;
  double sumClogC = 0;
  for (const std::uint64_t c : counts) {
    if (c == 0) continue;
    s.tokens += c;
    ++s.types;
    if (c == 1) ++s.f1;
    if (c == 2) ++s.f2;
    const double d = static_cast<double>(c);
    sumClogC += d * std::log2(d);
  }
  if (s.tokens == 0) return s;
  const double n = static_cast<double>(s.tokens);
  s.entropyBits = std::log2(n) - sumClogC / n;
  s.millerMadowBits =
      s.entropyBits + (static_cast<double>(s.types) - 1.0) / (2.0 * n * std::log(2.0));
  const double f1 = static_cast<double>(s.f1), f2 = static_cast<double>(s.f2);
  s.chao1 =
      static_cast<double>(s.types) + (s.f2 > 0 ? f1 * f1 / (2.0 * f2) : f1 * (f1 - 1.0) / 2.0);
  return s;
}

}  // namespace cleanmix
