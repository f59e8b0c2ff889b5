#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "cleanmix/io/shards.hpp"

using namespace cleanmix;

namespace {
ShardTable table(const std::vector<std::pair<std::uint64_t, Compression>>& files,
                 std::uint64_t pb) {
  ShardTable t;
  for (std::size_t i = 0; i < files.size(); ++i)
    t.shards.push_back({"f" + std::to_string(i), 0, files[i].first, files[i].second});
  t.pieces = splitIntoPieces(t.shards, pb);
  return t;
}
}  // namespace

TEST(Partition, CompressionFromName) {
  EXPECT_EQ(compressionOf("a.jsonl"), Compression::None);
  EXPECT_EQ(compressionOf("a.jsonl.gz"), Compression::Gzip);
  EXPECT_EQ(compressionOf("a.jsonl.zst"), Compression::Zstd);
}

TEST(Partition, PlainShardsSplitIntoContiguousRanges) {
  const auto t =
      table({{1000, Compression::None}, {50, Compression::None}, {5000, Compression::Zstd}}, 300);
  std::uint64_t covered = 0;
  for (const auto& p : t.pieces) {
    if (p.shard == 0) {
      EXPECT_EQ(p.begin, covered);
      EXPECT_LE(p.end - p.begin, 300u);
      covered = p.end;
    }
  }
  EXPECT_EQ(covered, 1000u);
  EXPECT_EQ(std::count_if(t.pieces.begin(), t.pieces.end(), [](auto& p) { return p.shard == 2; }),
            1);
  EXPECT_EQ(t.pieces.back().end, 5000u);  // compressed shards stay whole
}

TEST(Partition, AssignmentIsContiguousCompleteAndBalanced) {
  std::vector<std::pair<std::uint64_t, Compression>> files;
  for (int i = 0; i < 37; ++i) files.push_back({1000 + 137u * (i % 11), Compression::None});
  const auto t = table(files, 700);
  std::uint64_t total = 0, maxPiece = 0;
  for (const auto& p : t.pieces) {
    total += pieceBytes(p);
    maxPiece = std::max(maxPiece, pieceBytes(p));
  }
  for (int n : {1, 2, 3, 4, 7, 16}) {
    const auto a = assignPieces(t, n);
    ASSERT_EQ(a.firstPiece.size(), static_cast<std::size_t>(n + 1));
    EXPECT_EQ(a.firstPiece.front(), 0u);
    EXPECT_EQ(a.firstPiece.back(), t.pieces.size());
    for (int r = 0; r < n; ++r) {
      ASSERT_LE(a.begin(r), a.end(r));
      std::uint64_t b = 0;
      for (auto p = a.begin(r); p < a.end(r); ++p) b += pieceBytes(t.pieces[p]);
      EXPECT_LE(b, total / n + maxPiece) << "rank " << r << " of " << n;
    }
    EXPECT_EQ(assignPieces(t, n).firstPiece, a.firstPiece);  // deterministic
  }
}

TEST(Partition, MoreRanksThanPiecesLeavesSomeEmpty) {
  const auto t = table({{100, Compression::Gzip}, {100, Compression::Gzip}}, 1 << 20);
  const auto a = assignPieces(t, 5);
  int empty = 0;
  for (int r = 0; r < 5; ++r) empty += a.begin(r) == a.end(r);
  EXPECT_EQ(empty, 3);
  EXPECT_EQ(a.firstPiece.back(), 2u);
}

TEST(Partition, PieceSizeFollowsFairShare) {
  std::vector<ShardInfo> s{{"a", 0, 400u << 20, Compression::None}};
  EXPECT_EQ(pieceBytesFor(s, 4, 64u << 20), 25u << 20);    // fair share / 4
  EXPECT_EQ(pieceBytesFor(s, 1, 64u << 20), 64u << 20);    // capped by split_bytes
  EXPECT_EQ(pieceBytesFor(s, 1000, 64u << 20), 1u << 20);  // at least 1 MiB
}
