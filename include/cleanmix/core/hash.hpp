#pragma once
/// \file
/// \brief Small hash functions shared by host code and kernels (usable on every backend).
#include <Kokkos_Macros.hpp>

#include <cstdint>

namespace cleanmix {

KOKKOS_INLINE_FUNCTION std::uint64_t mix64(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

/// \brief splitmix64 finaliser pair combiner.
KOKKOS_INLINE_FUNCTION std::uint64_t combine(std::uint64_t h, std::uint64_t v) {
  return mix64(h ^ (v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2)));
}

KOKKOS_INLINE_FUNCTION std::uint64_t rotl(std::uint64_t x, int r) {
  return r == 0 ? x : (x << r) | (x >> (64 - r));
}

/// \brief Key of the n-gram of `n` ids starting at p. Token ids are XXH3 outputs (uniform), so a
/// position-dependent rotate-xor is enough to tell n-grams apart; it is order-sensitive because
/// each position rotates by a different amount.
KOKKOS_INLINE_FUNCTION std::uint64_t ngramKey(const std::uint64_t* p, int n) {
  std::uint64_t h = 0x51ed270b27a7c3d5ull * static_cast<std::uint64_t>(n);
  for (int i = 0; i < n; ++i) h ^= rotl(p[i], (13 * i) & 63);
  return h;
}

/// \brief A counter-based uniform in [0, 1) keyed by (seed, doc_id): the plan's dither, the
/// classifier's training subsample. The same on every rank and at any rank count.
inline double counterUniform(std::uint64_t seed, std::uint64_t docId) {
  return static_cast<double>(mix64(seed ^ mix64(docId + 0x5DEECE66Dull)) >> 11) * 0x1.0p-53;
}

}  // namespace cleanmix
