#include "cleanmix/kernels/ngram_lm.hpp"

namespace cleanmix {

LmCounts::LmCounts(const LmParams& p) : params(p) {
  table.assign(uniSize() + 2 * ngramSize(), 0);
}

void LmCounts::addDocument(std::span<const std::uint64_t> ids) {
  const std::uint64_t um = uniSize() - 1, nm = ngramSize() - 1;
  std::uint64_t* u = uni();
  std::uint64_t* b = bi();
  std::uint64_t* t = tri();
  std::uint64_t p2 = kBoundaryId, p1 = kBoundaryId;
  const std::size_t n = ids.size();
  for (std::size_t j = 0; j <= n; ++j) {
    const std::uint64_t w = j < n ? ids[j] : kBoundaryId;
    ++u[lm::uniIndex(w, um)];
    ++b[lm::biIndex(p1, w, nm)];
    ++t[lm::triIndex(p2, p1, w, nm)];
    p2 = p1;
    p1 = w;
  }
}

}  // namespace cleanmix
