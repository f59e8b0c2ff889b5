#include "cleanmix/kernels/signals.hpp"

#include <stdexcept>

#include <fmt/ranges.h>

#include "cleanmix/core/error.hpp"
#include "cleanmix/kernels/signals_impl.hpp"

namespace cleanmix {

void BatchInput::clear() {
  tokOff.assign(1, 0);
  ids.clear();
  lens.clear();
  sentOff.assign(1, 0);
  sentLens.clear();
  lineOff.assign(1, 0);
  lineHashes.clear();
  loo.clear();
  wordOff.assign(1, 0);
  words.clear();
}

void BatchInput::append(std::span<const std::uint64_t> docIds,
                        std::span<const std::uint32_t> docLens,
                        std::span<const std::uint32_t> docSentLens,
                        std::span<const std::uint64_t> docLineHashes, std::uint8_t looMask,
                        std::span<const std::uint64_t> docWords) {
  loo.push_back(looMask);
  words.insert(words.end(), docWords.begin(), docWords.end());
  wordOff.push_back(words.size());
  ids.insert(ids.end(), docIds.begin(), docIds.end());
  lens.insert(lens.end(), docLens.begin(), docLens.end());
  tokOff.push_back(ids.size());
  sentLens.insert(sentLens.end(), docSentLens.begin(), docSentLens.end());
  sentOff.push_back(sentLens.size());
  lineHashes.insert(lineHashes.end(), docLineHashes.begin(), docLineHashes.end());
  lineOff.push_back(lineHashes.size());
}

void BatchOutput::resize(std::size_t n) {
  visit([n](const ColumnInfo& c, auto& v) {
    if (c.stage == ColumnStage::Kernel) v.resize(n);
  });
}

std::vector<std::string> enabledBackends() {
  std::vector<std::string> b;
#ifdef KOKKOS_ENABLE_CUDA
  b.push_back("cuda");
#endif
#ifdef KOKKOS_ENABLE_HIP
  b.push_back("hip");
#endif
#ifdef KOKKOS_ENABLE_OPENMP
  b.push_back("openmp");
#endif
#ifdef KOKKOS_ENABLE_SERIAL
  b.push_back("serial");
#endif
  return b;
}

std::unique_ptr<SignalScorer> makeSignalScorer(const std::string& backend) {
  const std::string b = backend == "default" ? enabledBackends().at(0) : backend;
#ifdef KOKKOS_ENABLE_CUDA
  if (b == "cuda") return std::make_unique<kernels::SignalScorerImpl<Kokkos::Cuda>>();
#endif
#ifdef KOKKOS_ENABLE_HIP
  if (b == "hip") return std::make_unique<kernels::SignalScorerImpl<Kokkos::Experimental::HIP>>();
#endif
#ifdef KOKKOS_ENABLE_OPENMP
  if (b == "openmp") return std::make_unique<kernels::SignalScorerImpl<Kokkos::OpenMP>>();
#endif
#ifdef KOKKOS_ENABLE_SERIAL
  if (b == "serial") return std::make_unique<kernels::SignalScorerImpl<Kokkos::Serial>>();
#endif
  fail("makeSignalScorer", "backend '{}' not enabled in this build (enabled: {})", backend,
       fmt::join(enabledBackends(), ", "));
}

}  // namespace cleanmix
