// gtest main for MPI tests (after lammps' MPI printer): every rank runs every test, failures are
// printed from the rank that saw them, and the verdict is reduced over ranks.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdio>

#include "cleanmix/core/kokkos_compat.hpp"

namespace {
class RankPrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit RankPrinter(int rank) : _rank(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (r.failed())
      std::fprintf(stderr, "[rank %d] FAILED %s:%d\n%s\n", _rank,
                   r.file_name() ? r.file_name() : "?", r.line_number(), r.summary());
  }

 private:
  int _rank;
};
}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  ::testing::InitGoogleTest(&argc, argv);
  auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
  if (rank != 0) delete listeners.Release(listeners.default_result_printer());
  listeners.Append(new RankPrinter(rank));
  cleanmix::kx::initialize();
  int rc = RUN_ALL_TESTS();
  Kokkos::finalize();
  MPI_Allreduce(MPI_IN_PLACE, &rc, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (rank == 0) std::printf("MPI tests on %d ranks: %s\n", size, rc == 0 ? "PASSED" : "FAILED");
  MPI_Finalize();
  return rc;
}
