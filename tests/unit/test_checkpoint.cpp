// Checkpoint files: exact round trips (NaN included), both histogram encodings, and rejection
// of anything that does not match its sidecar.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <vector>

#include "cleanmix/kernels/signals.hpp"
#include "cleanmix/core/columns.hpp"
#include "cleanmix/core/config.hpp"
#include "cleanmix/core/error.hpp"
#include "cleanmix/stages/checkpoint.hpp"
#include "cleanmix/stages/count.hpp"
#include "cleanmix/stages/score.hpp"

namespace fs = std::filesystem;
using namespace cleanmix;

namespace {

fs::path freshDir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("cleanmix_ckpt_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

ShardTable tinyTable() {
  ShardTable t;
  t.shards.push_back({"/data/a.jsonl", 0, 100, Compression::None, 123});
  t.pieces.push_back({0, 0, 100});
  return t;
}

ScoreRows rowsOf(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  ScoreRows r;
  // Every column gets n rows of varied values; band keys 3 per row.
  r.visit([&](const char* name, auto& v) {
    using T = typename std::remove_reference_t<decltype(v)>::value_type;
    const std::string_view nm(name);
    const std::size_t rows = nm == "band_keys" ? 3 * n : nm == "fold_lm" ? 0 : n;
    for (std::size_t i = 0; i < rows; ++i) {
      if constexpr (std::is_floating_point_v<T>)
        v.push_back(std::ldexp(static_cast<double>(rng() >> 11), -40));
      else
        v.push_back(static_cast<T>(rng()));
    }
  });
  // Groups index the rows' own names (seed 1: a, b, c; seed 2: c, d).
  r.d.groupNames =
      seed == 1 ? std::vector<std::string>{"a", "b", "c"} : std::vector<std::string>{"c", "d"};
  for (std::size_t i = 0; i < n; ++i)
    r.d.group[i] = static_cast<std::uint32_t>(i % r.d.groupNames.size());
  if (n > 1) {
    r.d.refPpl[0] = std::numeric_limits<double>::quiet_NaN();
    r.d.ttr[1] = -0.0;
  }
  // fold_lm: kNumLmFolds x kNumLmColumns values per labelled row (label != 255)
  for (std::size_t i = 0; i < n; ++i) {
    if (i % 3 == 0) r.label[i] = 255;
    if (r.label[i] == 255) continue;
    for (int k = 0; k < kNumLmFolds * kNumLmColumns; ++k)
      r.foldLm.push_back(std::ldexp(static_cast<double>(rng() >> 11), -40));
  }
  r.benchDirty[5] = 7;
  r.looBitsMicro = -123456789;
  r.looTokens = 42;
  return r;
}

template <class V>
bool bitsEqual(const V& a, const V& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if constexpr (std::is_floating_point_v<typename V::value_type>) {
      if (std::bit_cast<std::uint64_t>(a[i]) != std::bit_cast<std::uint64_t>(b[i])) return false;
    } else if (a[i] != b[i]) {
      return false;
    }
  }
  return true;
}

bool sameRows(ScoreRows& a, ScoreRows& b) {
  std::vector<void*> cols;
  b.visit([&](const char*, auto& v) { cols.push_back(&v); });
  std::size_t k = 0;
  bool ok = true;
  a.visit([&](const char*, auto& v) {
    using V = std::remove_reference_t<decltype(v)>;
    ok &= bitsEqual(v, *static_cast<V*>(cols[k++]));
  });
  return ok && a.benchDirty == b.benchDirty && a.looBitsMicro == b.looBitsMicro &&
         a.looTokens == b.looTokens;
}

void flipByte(const fs::path& p, std::uint64_t at) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(at));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5A);
  f.seekp(static_cast<std::streamoff>(at));
  f.write(&c, 1);
}

}  // namespace

TEST(Checkpoint, SparseAndDenseHistogramsRoundTrip) {
  std::vector<std::uint64_t> sparse(1000, 0), dense(1000, 0);
  sparse[3] = 5;
  sparse[999] = 1;
  for (std::size_t i = 0; i < dense.size(); ++i) dense[i] = i % 7;  // 6 of 7 nonzero
  for (const auto* h : {&sparse, &dense}) {
    std::vector<std::uint64_t> idx, val, back(h->size(), 1);
    ckpt::sparsify(*h, idx, val);
    ckpt::addSparse(back, idx, val, "test");
    for (std::size_t i = 0; i < h->size(); ++i) ASSERT_EQ(back[i], (*h)[i] + 1) << i;
  }
  std::vector<std::uint64_t> idx, val;
  ckpt::sparsify(sparse, idx, val);
  EXPECT_EQ(idx.size(), 2u);  // sparse form
  ckpt::sparsify(dense, idx, val);
  EXPECT_TRUE(idx.empty());  // dense form
  EXPECT_EQ(val.size(), dense.size());
  std::vector<std::uint64_t> small(10, 0);
  EXPECT_THROW(ckpt::addSparse(small, {11}, {1}, "test"), Error);
  EXPECT_THROW(ckpt::addSparse(small, idx, val, "test"), Error);  // dense of another size
}

TEST(Checkpoint, ScorePieceRoundTripIsBitExactAndVerified) {
  const fs::path dir = freshDir("score");
  const ckpt::Store store(dir, "key1", true);
  store.startFresh(tinyTable());
  auto rows = rowsOf(50, 1);
  ScoreRows copy = rows;
  writeScorePiece(store, 0, rows);
  auto back = readScorePiece(store, 0, 50);
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(std::isnan(back->d.refPpl[0]));
  EXPECT_TRUE(std::signbit(back->d.ttr[1]));
  EXPECT_TRUE(sameRows(copy, *back));
  EXPECT_FALSE(back->foldLm.empty());
  // fold_lm must hold its values for every labelled row, no more and no fewer
  ScoreRows shortFold = copy;
  shortFold.foldLm.pop_back();
  writeScorePiece(store, 1, shortFold);
  EXPECT_FALSE(readScorePiece(store, 1, 50).has_value());
  EXPECT_EQ(back->d.groupNames, copy.d.groupNames);
  // The wrong document count, another config, or a changed byte: not used.
  EXPECT_FALSE(readScorePiece(store, 0, 49).has_value());
  EXPECT_FALSE(readScorePiece(ckpt::Store(dir, "key2", true), 0, 50).has_value());
  flipByte(store.dir() / "score" / "p00000000.h5", 1500);
  EXPECT_FALSE(readScorePiece(store, 0, 50).has_value());
  EXPECT_FALSE(readScorePiece(store, 1, 0).has_value());  // never written
}

TEST(Checkpoint, ScoreRowsAppendConcatenatesAndAdds) {
  auto a = rowsOf(3, 1), b = rowsOf(4, 2);
  ScoreRows acc;
  acc.append(a);
  acc.append(b);
  EXPECT_EQ(acc.size(), 7u);
  EXPECT_EQ(acc.bandKeys.size(), 21u);
  EXPECT_EQ(acc.d.line[3], b.d.line[0]);
  EXPECT_EQ(acc.benchDirty[5], 14u);
  EXPECT_EQ(acc.looBitsMicro, 2 * -123456789LL);
  EXPECT_EQ(acc.looTokens, 84u);
  // Group indices are mapped to the merged names: a b c, then b's c and d.
  EXPECT_EQ(acc.d.groupNames, (std::vector<std::string>{"a", "b", "c", "d"}));
  const std::vector<std::uint32_t> groups{0, 1, 2, 2, 3, 2, 3};
  EXPECT_EQ(acc.d.group, groups);
}

TEST(Checkpoint, CountSegmentRoundTripAndListing) {
  const fs::path dir = freshDir("count");
  const ckpt::Store store(dir, "key1", true);
  store.startFresh(tinyTable());
  CountSegment seg;
  seg.pieces = {4, 5};
  seg.lines = {10, 20};
  seg.docs = {9, 20};
  seg.errors = {1, 0};
  seg.errPiece = {4};
  seg.errLine = {7};
  const std::string reason = "invalid_json: bad";
  seg.errReasonText.assign(reason.begin(), reason.end());
  seg.errReasonEnd = {reason.size()};
  std::vector<std::uint64_t> hist(100000, 0);
  hist[17] = 3;
  ckpt::sparsify(hist, seg.countIdx, seg.countVal);
  seg.anchorDocs = {9};
  seg.contrastDocs = {4};
  seg.benchSkipped = {0, 2};
  writeCountSegment(store, countSegmentName(4), seg);
  const auto listed = listCountSegments(store);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].first, "s00000004.h5");
  EXPECT_EQ(listed[0].second.pieces, (std::vector<std::uint32_t>{4, 5}));
  EXPECT_EQ(listed[0].second.docs, 29u);
  std::string why;
  auto back = readCountSegment(store, "s00000004.h5", why);
  ASSERT_TRUE(back.has_value()) << why;
  EXPECT_EQ(back->errReasonText, seg.errReasonText);
  EXPECT_EQ(back->countIdx, seg.countIdx);
  EXPECT_EQ(back->benchSkipped, seg.benchSkipped);
  flipByte(store.dir() / "count" / "s00000004.h5", 800);
  EXPECT_FALSE(readCountSegment(store, "s00000004.h5", why).has_value());
  EXPECT_NE(why.find("checksum"), std::string::npos);
}

TEST(Checkpoint, IndexRejectsAnotherConfigOrAChangedShard) {
  const fs::path dir = freshDir("index");
  const ShardTable t = tinyTable();
  ckpt::Store(dir, "key1", true).startFresh(t);
  std::string why;
  ASSERT_TRUE(ckpt::Store(dir, "key1", true).loadIndex(t, why).has_value()) << why;
  EXPECT_FALSE(ckpt::Store(dir, "key2", true).loadIndex(t, why).has_value());
  EXPECT_NE(why.find("another config"), std::string::npos);
  ShardTable touched = t;
  touched.shards[0].mtimeNs += 1;
  EXPECT_FALSE(ckpt::Store(dir, "key1", true).loadIndex(touched, why).has_value());
  EXPECT_NE(why.find("changed"), std::string::npos);
  ckpt::Store(dir, "key1", true).remove();
  EXPECT_FALSE(ckpt::Store(dir, "key1", true).loadIndex(t, why).has_value());
}

TEST(Checkpoint, ColumnFingerprintTracksTheRegistryLayout) {
  const std::string fp = columnsFingerprint();
  ASSERT_EQ(fp.size(), 16u);
  EXPECT_EQ(fp.find_first_not_of("0123456789abcdef"), std::string::npos) << fp;
  EXPECT_EQ(fp, columnsFingerprint());
  EXPECT_EQ(ckpt::formatTag(), std::string(CLEANMIX_VERSION) + "/columns-" + fp);
  // Any change a checkpoint reader would misread changes it: a column added, removed, renamed,
  // retyped, moved to another stage, or two columns swapped.
  std::vector<ColumnInfo> cols(std::begin(kDocColumns), std::end(kDocColumns));
  ASSERT_GE(cols.size(), 3u);
  EXPECT_EQ(columnsFingerprint(cols), fp);
  std::vector<std::string> seen{fp};
  const auto expectNew = [&](const std::vector<ColumnInfo>& v, const char* what) {
    const std::string f = columnsFingerprint(v);
    EXPECT_EQ(std::find(seen.begin(), seen.end(), f), seen.end()) << what;
    seen.push_back(f);
  };
  auto added = cols;
  added.push_back(cols.back());
  added.back().name = "mean_token_bytes";
  expectNew(added, "added");
  auto removed = cols;
  removed.pop_back();
  expectNew(removed, "removed");
  auto renamed = cols;
  renamed[1].name = "entropy2";
  expectNew(renamed, "renamed");
  auto retyped = cols;
  retyped[1].type = retyped[1].type == ColumnType::F64 ? ColumnType::U32 : ColumnType::F64;
  expectNew(retyped, "retyped");
  auto moved = cols;
  moved[1].stage =
      moved[1].stage == ColumnStage::Kernel ? ColumnStage::Classify : ColumnStage::Kernel;
  expectNew(moved, "moved to another stage");
  auto swapped = cols;
  std::swap(swapped[1], swapped[2]);
  expectNew(swapped, "swapped");
  // The name and the type/stage bytes cannot run into each other: "ab"+"c" is not "a"+"bc".
  auto a = cols, b = cols;
  a[1].name = "ab";
  a[2].name = "c";
  b[1].name = "a";
  b[2].name = "bc";
  EXPECT_NE(columnsFingerprint(a), columnsFingerprint(b));
}
