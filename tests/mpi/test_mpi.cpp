// MPI tests at np 1, 2, 4: reductions, offsets, collective HDF5 with a rank that owns no rows,
// a consistent index on every rank, and the whole pipeline against a single-rank run.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <span>
#include <sstream>

#include "../common/test_files.hpp"
#include "cleanmix/cli/config.hpp"
#include "cleanmix/comm/communicator.hpp"
#include "cleanmix/core/error.hpp"
#include "cleanmix/driver/run.hpp"
#include "cleanmix/io/h5.hpp"
#include "cleanmix/output/writer.hpp"
#include "cleanmix/stages/audit.hpp"
#include "cleanmix/stages/index.hpp"

using namespace cleanmix;
namespace fs = std::filesystem;

namespace {

fs::path tmp(const Communicator& c) {
  fs::path p = fs::path(CLEANMIX_TEST_TMP) / ("np" + std::to_string(c.size()));
  if (c.isRoot()) fs::create_directories(p);
  c.barrier();
  return p;
}

/// A small corpus with every input format, bad lines, and a plain shard large enough to split.
RunConfig makeCorpus(const Communicator& c, const fs::path& dir) {
  if (c.isRoot()) {
    fs::remove_all(dir / "corpus");
    std::string big, small;
    for (int i = 0; i < 400; ++i)
      big += "{\"text\": \"Document " + std::to_string(i) + ". It says " +
             std::string(static_cast<std::size_t>(i % 50), 'x') + " and more words here!\"}\n";
    for (int i = 0; i < 50; ++i)
      small += "{\"text\": \"Ünïcode “text” number " + std::to_string(i * i) + ".\"}\n";
    testdata::writeFile(dir / "corpus/anchor/a-000.jsonl", big + "not json\n\n{\"text\": 1}\n");
    testdata::writeFile(dir / "corpus/anchor/a-001.jsonl.gz", testdata::gzBytes(small));
    testdata::writeFile(dir / "corpus/pool/p-000.jsonl.zst", testdata::zstBytes(small + big));
    testdata::writeFile(dir / "corpus/pool/p-001.jsonl", "");
    const std::string passage =
        "The committee met on a grey Tuesday to weigh the merits of the bridge proposal, and "
        "after long debate resolved to fund it";
    testdata::writeFile(dir / "corpus/pool/p-002.jsonl",
                        "{\"text\": \"Overheard: " + passage + ". Nothing else.\"}\n");
    testdata::writeFile(dir / "corpus/bench/b.jsonl",
                        "{\"text\": \"Q: what? A: that.\"}\n{\"text\": \"" + passage + ".\"}\n");
  }
  c.barrier();
  const std::string toml = R"(
[run]
output = "out.h5"
[ingest]
split_bytes = 4096
[[sources]]
name = "anchor"
paths = ["corpus/anchor/*"]
provenance = "human_verified"
role = "anchor"
[[sources]]
name = "pool"
paths = ["corpus/pool/*.jsonl*"]
provenance = "human_unverified"
[[sources]]
name = "bench"
paths = ["corpus/bench/b.jsonl"]
provenance = "human_verified"
role = "benchmark"
)";
  RunConfig cfg = parseConfig(toml, dir, "mpi_test.toml");
  cfg.run.progressSeconds = 1e9;
  return cfg;
}

std::string digest(const fs::path& f) {
  std::ostringstream os;
  inspectFile(f, true, os);
  return os.str();
}

}  // namespace

TEST(Mpi, HistogramAllreduceIsExact) {
  Communicator c(MPI_COMM_WORLD);
  std::vector<std::uint64_t> h(1 << 12);
  for (std::size_t b = 0; b < h.size(); ++b)
    h[b] = (b % c.size() == static_cast<std::size_t>(c.rank())) ? b + 1 : 0;
  c.allreduceSum(std::span<std::uint64_t>(h));
  for (std::size_t b = 0; b < h.size(); ++b) ASSERT_EQ(h[b], b + 1);
  EXPECT_EQ(c.allreduceSum<std::uint64_t>(c.rank() + 1),
            static_cast<std::uint64_t>(c.size() * (c.size() + 1) / 2));
}

TEST(Mpi, ExscanGivesRowOffsets) {
  Communicator c(MPI_COMM_WORLD);
  const std::uint64_t mine = c.rank() == 1 ? 0 : 10 + c.rank();
  const auto all = c.allgather(mine);
  std::uint64_t want = 0;
  for (int r = 0; r < c.rank(); ++r) want += all[r];
  EXPECT_EQ(c.exscanSum(mine), want);
}

// The audit's windows over a stream split across ranks (one rank empty, uneven shares) and fed
// in runs of random length equal a direct computation over the whole stream, bit for bit.
TEST(Mpi, AuditWindowsDoNotDependOnRanksOrRuns) {
  Communicator c(MPI_COMM_WORLD);
  const std::uint64_t n = 10007;
  std::vector<std::uint32_t> stream(n);
  std::uint64_t x = 12345;
  for (auto& b : stream) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    b = static_cast<std::uint32_t>((x >> 33) % 300);  // skewed: many repeats per window
  }
  // Rank r's share: cuts at fixed fractions; rank 1 holds nothing when there are 3+ ranks.
  std::vector<std::uint64_t> cut(c.size() + 1, n);
  cut[0] = 0;
  for (int r = 1; r < c.size(); ++r)
    cut[r] = (c.size() >= 3 && r == 2) ? cut[1]
                                       : n * static_cast<std::uint64_t>(r * r) /
                                             static_cast<std::uint64_t>(c.size() * c.size());
  const std::uint64_t lo = cut[c.rank()], hi = cut[c.rank() + 1];
  for (const std::uint64_t window : {97ull, 1000ull, 4096ull, 20000ull}) {
    WindowAccumulator acc(window, lo, hi - lo);
    std::uint64_t p = lo, y = 99 + static_cast<std::uint64_t>(c.rank());
    while (p < hi) {
      y = y * 6364136223846793005ull + 1;
      const std::uint64_t len = std::min<std::uint64_t>(hi - p, 1 + (y >> 33) % 300);
      acc.add(std::span<const std::uint32_t>(stream.data() + p, len));
      p += len;
    }
    const WindowStats mine = acc.finish(c);
    // Every rank's windows, in rank order, must be windows 0, 1, ... of the whole stream.
    const auto firsts = c.allgather<std::uint64_t>(mine.entropy.empty() ? UINT64_MAX : mine.first);
    const auto all = c.alltoallv(std::vector<std::vector<double>>(c.size(), mine.entropy));
    const auto types = c.alltoallv(std::vector<std::vector<std::uint32_t>>(c.size(), mine.types));
    const auto tokens = c.alltoallv(std::vector<std::vector<std::uint64_t>>(c.size(), mine.tokens));
    const std::uint64_t windows = (n + window - 1) / window;
    ASSERT_EQ(all.size(), windows) << "window " << window;
    std::uint64_t expectFirst = 0;
    for (int r = 0; r < c.size(); ++r)
      if (firsts[r] != UINT64_MAX) {
        EXPECT_EQ(firsts[r], expectFirst) << "rank " << r;
        std::uint64_t k = 0;  // rank r's window count: the next rank's first, or the end
        for (int s = r + 1; s < c.size() && !k; ++s)
          if (firsts[s] != UINT64_MAX) k = firsts[s] - firsts[r];
        expectFirst = k ? firsts[r] + k : windows;
      }
    for (std::uint64_t w = 0; w < windows; ++w) {
      std::map<std::uint32_t, std::uint64_t> h;
      const std::uint64_t e = std::min(n, (w + 1) * window);
      for (std::uint64_t i = w * window; i < e; ++i) ++h[stream[i]];
      double sum = 0;
      for (const auto& [bucket, count] : h)
        sum += static_cast<double>(count) * std::log2(static_cast<double>(count));
      const auto t = static_cast<double>(e - w * window);
      EXPECT_EQ(all[w], std::log2(t) - sum / t) << "window " << window << " #" << w;
      EXPECT_EQ(types[w], h.size());
      EXPECT_EQ(tokens[w], e - w * window);
    }
  }
  // A rank that adds fewer tokens than its share is an error, not a silent short window.
  WindowAccumulator shortAcc(100, 0, 5);
  const std::uint32_t two[] = {1, 2};
  shortAcc.add(two);
  EXPECT_THROW(shortAcc.add(std::span<const std::uint32_t>(stream.data(), 10)), Error);
  EXPECT_THROW(shortAcc.finish(c), Error);  // every rank, before any collective
}

TEST(Mpi, Hdf5WriteAndReadBackWithARankThatOwnsNoRows) {
  Communicator c(MPI_COMM_WORLD);
  const fs::path file = tmp(c) / "rows.h5";
  const std::uint64_t n = c.rank() == 1 ? 0 : 3 + c.rank();  // rank 1 (if any) has no rows
  const std::uint64_t off = c.exscanSum(n), total = c.allreduceSum(n);
  std::vector<std::uint64_t> v(n);
  std::vector<std::string> s(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    v[i] = (off + i) * 3;
    s[i] = "row" + std::to_string(off + i);
  }
  {
    h5::ParallelFile f(file.string(), c.comm());
    {
      h5::Id g = f.createGroup(f.id(), "t");
      h5::writeColumn<std::uint64_t>(f, g, "v", v, off, total);
      h5::writeStrings(f, g, "s", s, off, total, 8);
      h5::writeColumn<std::uint64_t>(f, g, "empty", {}, 0, 0);
    }
    f.close();
  }
  c.barrier();
  if (c.isRoot()) {
    hid_t fid = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    ASSERT_GE(fid, 0);
    h5::Id fh(fid, H5Fclose);
    h5::Id d(H5Dopen2(fh, "/t/v", H5P_DEFAULT), H5Dclose);
    std::vector<std::uint64_t> back(total);
    ASSERT_GE(H5Dread(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, back.data()), 0);
    for (std::uint64_t i = 0; i < total; ++i) EXPECT_EQ(back[i], i * 3);
    h5::Id ds(H5Dopen2(fh, "/t/s", H5P_DEFAULT), H5Dclose);
    h5::Id t(H5Dget_type(ds), H5Tclose);
    std::vector<char> sb(total * H5Tget_size(t));
    ASSERT_GE(H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, sb.data()), 0);
    for (std::uint64_t i = 0; i < total; ++i)
      EXPECT_STREQ(sb.data() + i * H5Tget_size(t), ("row" + std::to_string(i)).c_str());
  }
}

TEST(Mpi, IndexIsIdenticalOnEveryRank) {
  Communicator c(MPI_COMM_WORLD);
  const auto cfg = makeCorpus(c, tmp(c) / "index");
  const auto t = indexShards(c, cfg.sources, cfg.ingest);
  std::uint64_t h = t.shards.size() * 1000003u + t.pieces.size();
  for (const auto& p : t.pieces) h = h * 31 + p.shard * 7 + p.begin * 13 + p.end;
  for (const auto& s : t.shards) h = h * 17 + s.bytes + s.path.size();
  const auto all = c.allgather(h);
  for (auto x : all) EXPECT_EQ(x, all[0]);
  EXPECT_EQ(t.shards.size(), 6u);
  EXPECT_GT(t.pieces.size(), t.shards.size());  // the big plain shard was split
}

// The run on all ranks equals the run on rank 0 alone, and input lines reconcile.
TEST(Mpi, PipelineOutputEqualsSingleRankRun) {
  Communicator world(MPI_COMM_WORLD);
  const fs::path dir = tmp(world) / "e2e";
  RunConfig cfg = makeCorpus(world, dir);
  cfg.run.output = dir / "all.h5";
  cfg.run.workdir = dir / "all.work";
  ASSERT_EQ(runPipeline(cfg, world, {}), 0);

  MPI_Comm solo;
  MPI_Comm_split(MPI_COMM_WORLD, world.rank() == 0 ? 0 : MPI_UNDEFINED, 0, &solo);
  if (world.rank() == 0) {
    {
      Communicator one(solo);
      RunConfig c1 = cfg;
      c1.run.output = dir / "one.h5";
      c1.run.workdir = dir / "one.work";
      ASSERT_EQ(runPipeline(c1, one, {}), 0);
    }
    MPI_Comm_free(&solo);
    const std::string a = digest(dir / "all.h5"), b = digest(dir / "one.h5");
    EXPECT_EQ(a, b);
    EXPECT_NE(a.find("/docs/tail_score"), std::string::npos);
    std::ostringstream summary;
    inspectFile(dir / "all.h5", false, summary);
    // lines: anchor 400 + 3 bad, 50; pool 50 + 400, 0, 1; bench 2 -> 906 lines, 3 quarantined
    EXPECT_NE(summary.str().find("input lines 906 = docs 903 + quarantined 3: reconciled"),
              std::string::npos)
        << summary.str();
    // The pool zst shard copies every anchor document (across shards and ranks): each copy is a
    // duplicate whose representative is an anchor document (human_verified wins).
    h5::Id fh(H5Fopen((dir / "all.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    const auto src = h5::readColumn<std::uint16_t>(fh, "/docs/source");
    const auto shard = h5::readColumn<std::uint32_t>(fh, "/docs/shard");
    const auto dup = h5::readColumn<std::int64_t>(fh, "/docs/dup_of");
    const auto contam = h5::readColumn<std::uint32_t>(fh, "/docs/contaminated");
    const auto paths = h5::readStrings(fh, "/shards/path");
    int copies = 0, flagged = 0;
    for (std::size_t i = 0; i < src.size(); ++i) {
      if (paths[shard[i]].ends_with("p-000.jsonl.zst")) {
        ++copies;
        ASSERT_GE(dup[i], 0) << "row " << i;
        EXPECT_EQ(src[static_cast<std::size_t>(dup[i])], 0) << "row " << i;
      }
      if (contam[i] > 0) {
        ++flagged;
        EXPECT_TRUE(paths[shard[i]].ends_with("p-002.jsonl")) << "row " << i;
      }
      if (src[i] == 2) EXPECT_EQ(dup[i], -1);  // benchmark documents stay out of dedup
    }
    EXPECT_EQ(copies, 450);
    EXPECT_EQ(flagged, 1);
  }
  world.barrier();
}
