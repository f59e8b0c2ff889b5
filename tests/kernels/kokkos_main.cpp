// gtest main for kernel tests: Kokkos lives for the whole test run.
#include <gtest/gtest.h>

#include "cleanmix/core/kokkos_compat.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  cleanmix::kx::initialize();
  const int rc = RUN_ALL_TESTS();
  Kokkos::finalize();
  return rc;
}
