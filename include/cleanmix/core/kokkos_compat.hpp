#pragma once
/// \file
/// \brief Every Kokkos 3.4 / 4.x difference in one place (STYLE.md). Kernels use `cleanmix::kx::`.
#include <Kokkos_Core.hpp>

#if KOKKOS_VERSION >= 40000
#define CLEANMIX_KOKKOS4 1
#else
#define CLEANMIX_KOKKOS4 0
#endif

/// \brief Software prefetch on host backends; nothing on GPUs.
#if defined(__GNUC__) && !defined(__CUDA_ARCH__) && !defined(__HIP_DEVICE_COMPILE__)
#define CLEANMIX_PREFETCH(addr) __builtin_prefetch(addr)
#else
#define CLEANMIX_PREFETCH(addr) ((void)0)
#endif

namespace cleanmix::kx {

#if CLEANMIX_KOKKOS4
using Kokkos::exp2;
using Kokkos::log2;
using Kokkos::sqrt;
#else
using Kokkos::Experimental::exp2;
using Kokkos::Experimental::log2;
using Kokkos::Experimental::sqrt;
#endif

/// \brief A quiet NaN usable in kernels (Kokkos::Experimental::quiet_NaN is 4.x only).
KOKKOS_INLINE_FUNCTION double quietNaN() {
#if CLEANMIX_KOKKOS4
  return Kokkos::Experimental::quiet_NaN<double>::value;
#else
  return __builtin_nan("");
#endif
}

/// \brief Kokkos::initialize without the warnings about unset thread variables (3.4 spells the
/// settings InitArguments; 4.x InitializationSettings).
inline void initialize() {
#if CLEANMIX_KOKKOS4
  Kokkos::initialize(Kokkos::InitializationSettings().set_disable_warnings(true));
#else
  Kokkos::InitArguments args;
  args.disable_warnings = true;
  Kokkos::initialize(args);
#endif
}

/// \brief Fence an execution space instance (labelled fences are 4.x only).
template <class ExecSpace>
void fence(const ExecSpace& space, [[maybe_unused]] const char* label) {
#if CLEANMIX_KOKKOS4
  space.fence(label);
#else
  space.fence();
#endif
}

}  // namespace cleanmix::kx
