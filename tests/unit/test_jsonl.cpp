// The JSONL reader: every bad-input case, each compression, truncation, and piece splitting.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cleanmix/core/error.hpp"
#include "cleanmix/io/jsonl.hpp"
#include "cleanmix/io/line_reader.hpp"
#include "../common/test_files.hpp"

using namespace cleanmix;
namespace fs = std::filesystem;

namespace {

fs::path tmpDir() {
  static const fs::path d = [] {
    fs::path p = fs::temp_directory_path() / ("cleanmix_jsonl_" + std::to_string(::getpid()));
    fs::create_directories(p);
    return p;
  }();
  return d;
}

std::string writePlain(const std::string& name, const std::string& data) {
  return testdata::writeFile(tmpDir() / name, data);
}

using testdata::gzBytes;
using testdata::zstBytes;

ShardInfo shardOf(const std::string& path) {
  return ShardInfo{path, 0, static_cast<std::uint64_t>(fs::file_size(path)), compressionOf(path)};
}

struct Result {
  std::vector<std::string> texts;
  std::vector<std::string> reasons;  // in line order, "" for documents
  std::uint32_t replaced = 0;
};

Result readAll(const std::string& path, std::uint64_t maxLine = 1 << 20,
               const std::string& key = "text", std::uint64_t pieceBytes = 0) {
  const ShardInfo s = shardOf(path);
  std::vector<Piece> pieces =
      pieceBytes ? splitIntoPieces({s}, pieceBytes) : std::vector<Piece>{{0, 0, s.bytes}};
  Result r;
  JsonlParser parser;
  for (const auto& p : pieces) {
    LineReader reader(s, p, maxLine);
    Line line;
    while (reader.next(line)) {
      if (line.tooLong) {
        r.reasons.push_back("line_too_long");
        continue;
      }
      auto pl = parser.parse(line.text, key);
      r.reasons.push_back(pl.ok ? "" : pl.reason.substr(0, pl.reason.find(':')));
      if (pl.ok) r.texts.emplace_back(pl.text);
      r.replaced += pl.replaced;
    }
  }
  return r;
}

const std::string kMixed =
    "{\"text\": \"first\", \"id\": 1}\n"
    "{\"text\": \"broken\n"                       // invalid JSON (unterminated string)
    "[1, 2, 3]\n"                                 // not an object
    "{\"id\": 7}\n"                               // missing text key
    "{\"text\": 42}\n"                            // text not a string
    "\n"                                          // empty line
    "{\"text\": \"esc\\u00e9\\n\\\"q\\\"\"}\r\n"  // escapes and CRLF
    "{\"text\": \"trailing\"} garbage\n"          // invalid JSON after a valid object
    "{\"text\": \"last, no newline\"}";

void expectMixed(const Result& r) {
  const std::vector<std::string> want{"",
                                      "invalid_json",
                                      "not_an_object",
                                      "missing_text_key",
                                      "text_not_string",
                                      "empty_line",
                                      "",
                                      "invalid_json",
                                      ""};
  EXPECT_EQ(r.reasons, want);
  ASSERT_EQ(r.texts.size(), 3u);
  EXPECT_EQ(r.texts[0], "first");
  EXPECT_EQ(r.texts[1], "esc\xC3\xA9\n\"q\"");
  EXPECT_EQ(r.texts[2], "last, no newline");
}

}  // namespace

TEST(Jsonl, BadLinesPlain) {
  expectMixed(readAll(writePlain("mixed.jsonl", kMixed)));
}
TEST(Jsonl, BadLinesGzip) {
  expectMixed(readAll(writePlain("mixed.jsonl.gz", gzBytes(kMixed))));
}
TEST(Jsonl, BadLinesZstd) {
  expectMixed(readAll(writePlain("mixed.jsonl.zst", zstBytes(kMixed))));
}

TEST(Jsonl, ConcatenatedGzipMembersAndZstdFrames) {
  const std::string a = "{\"text\":\"a\"}\n", b = "{\"text\":\"b\"}\n";
  EXPECT_EQ(readAll(writePlain("cat.jsonl.gz", gzBytes(a) + gzBytes(b))).texts.size(), 2u);
  EXPECT_EQ(readAll(writePlain("cat.jsonl.zst", zstBytes(a) + zstBytes(b))).texts.size(), 2u);
}

TEST(Jsonl, CustomTextKey) {
  auto r = readAll(writePlain("key.jsonl", "{\"content\":\"x\"}\n{\"text\":\"y\"}\n"), 1 << 20,
                   "content");
  EXPECT_EQ(r.texts, std::vector<std::string>{"x"});
  EXPECT_EQ(r.reasons[1], "missing_text_key");
}

TEST(Jsonl, InvalidUtf8IsRepairedAndCounted) {
  auto r = readAll(writePlain("utf8.jsonl",
                              "{\"text\":\"a\xFF"
                              "b\xC3\"}\n{\"text\":\"ok\"}\n"));
  ASSERT_EQ(r.texts.size(), 2u);
  EXPECT_EQ(r.texts[0],
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD");
  EXPECT_EQ(r.replaced, 2u);
}

TEST(Jsonl, TooLongLinesAreSkippedWithoutBuffering) {
  std::string big = "{\"text\":\"" + std::string(5000, 'x') + "\"}\n";
  auto r =
      readAll(writePlain("long.jsonl", "{\"text\":\"a\"}\n" + big + "{\"text\":\"b\"}\n"), 1000);
  EXPECT_EQ(r.reasons, (std::vector<std::string>{"", "line_too_long", ""}));
  EXPECT_EQ(r.texts, (std::vector<std::string>{"a", "b"}));
  // The same with a long final line without a newline.
  auto r2 = readAll(writePlain("long2.jsonl", "{\"text\":\"a\"}\n" + big.substr(0, 4000)), 1000);
  EXPECT_EQ(r2.reasons, (std::vector<std::string>{"", "line_too_long"}));
}

TEST(Jsonl, EmptyShardHasNoLines) {
  EXPECT_TRUE(readAll(writePlain("empty.jsonl", "")).reasons.empty());
  EXPECT_TRUE(readAll(writePlain("empty.jsonl.gz", gzBytes(""))).reasons.empty());
  EXPECT_TRUE(readAll(writePlain("empty.jsonl.zst", zstBytes(""))).reasons.empty());
}

TEST(Jsonl, TruncatedGzipIsAFatalErrorNamingTheFile) {
  std::string z = gzBytes(kMixed + kMixed + kMixed);
  const auto p = writePlain("trunc.jsonl.gz", z.substr(0, z.size() / 2));
  try {
    readAll(p);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("trunc.jsonl.gz"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("truncated gzip"), std::string::npos) << e.what();
  }
  // Trailer cut off (data complete, CRC/size missing) is truncation too.
  EXPECT_THROW(readAll(writePlain("trunc2.jsonl.gz", z.substr(0, z.size() - 4))), Error);
}

TEST(Jsonl, TruncatedZstdIsAFatalErrorNamingTheFile) {
  std::string z = zstBytes(kMixed + kMixed + kMixed);
  const auto p = writePlain("trunc.jsonl.zst", z.substr(0, z.size() - 3));
  try {
    readAll(p);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("trunc.jsonl.zst"), std::string::npos) << e.what();
  }
}

TEST(Jsonl, CorruptCompressedDataIsAFatalError) {
  std::string z = gzBytes(kMixed);
  for (std::size_t i = 12; i < z.size() - 8; i += 3) z[i] = static_cast<char>(z[i] ^ 0x5a);
  EXPECT_THROW(readAll(writePlain("corrupt.jsonl.gz", z)), Error);
  EXPECT_THROW(readAll(writePlain("notgz.jsonl.gz", "plain text, not gzip\n")), Error);
  EXPECT_THROW(readAll(writePlain("notzst.jsonl.zst", "plain text, not zstd\n")), Error);
}

// Zstd contexts are reused across shards on a thread: a shard read after a corrupt one, after
// one left mid-frame, and two readers open at once must each read exactly their own lines.
TEST(Jsonl, ZstdContextsReusedAcrossShardsStartClean) {
  const std::string good = zstBytes(kMixed);
  const auto goodPath = writePlain("reuse-good.jsonl.zst", good);
  const Result expected = readAll(goodPath);
  ASSERT_FALSE(expected.texts.empty());
  const std::string big = zstBytes(kMixed + kMixed + kMixed);
  const auto truncPath = writePlain("reuse-trunc.jsonl.zst", big.substr(0, big.size() / 2));
  const auto corruptPath = writePlain("reuse-corrupt.jsonl.zst", good.substr(0, 6) + "garbage!");
  std::string many;  // several 128 KiB zstd blocks
  for (int i = 0; i < 20000; ++i) many += "{\"text\": \"document " + std::to_string(i) + "\"}\n";
  const auto longPath = writePlain("reuse-long.jsonl.zst", zstBytes(many));
  const auto rawLines = [](const std::string& path) {
    const ShardInfo s = shardOf(path);
    LineReader r(s, Piece{0, 0, s.bytes}, 1 << 20);
    std::string all;
    Line line;
    while (r.next(line)) all += std::string(line.text) + "\n";
    return all;
  };
  for (int round = 0; round < 3; ++round) {
    EXPECT_THROW(readAll(truncPath), Error);
    EXPECT_EQ(readAll(goodPath).texts, expected.texts);
    EXPECT_THROW(readAll(corruptPath), Error);
    EXPECT_EQ(readAll(goodPath).texts, expected.texts);
    {  // a reader closed after its first line leaves its context mid-frame
      const ShardInfo s = shardOf(longPath);
      LineReader early(s, Piece{0, 0, s.bytes}, 1 << 20);
      Line line;
      EXPECT_TRUE(early.next(line));
    }
    EXPECT_EQ(readAll(goodPath).texts, expected.texts);
  }
  // Two readers open at once, interleaved line by line, on different shards.
  const auto otherPath = writePlain("reuse-other.jsonl.zst", zstBytes(kMixed + kMixed));
  const ShardInfo a = shardOf(goodPath), b = shardOf(otherPath);
  LineReader ra(a, Piece{0, 0, a.bytes}, 1 << 20), rb(b, Piece{0, 0, b.bytes}, 1 << 20);
  std::string ta, tb;
  Line la, lb;
  bool moreA = true, moreB = true;
  while (moreA || moreB) {
    if (moreA && (moreA = ra.next(la))) ta += std::string(la.text) + "\n";
    if (moreB && (moreB = rb.next(lb))) tb += std::string(lb.text) + "\n";
  }
  EXPECT_EQ(ta, rawLines(goodPath));
  EXPECT_EQ(tb, rawLines(otherPath));
  EXPECT_EQ(std::count(tb.begin(), tb.end(), '\n'), 17);  // kMixed twice: 9 + 8 lines
}

TEST(Jsonl, MissingFileIsAnError) {
  ShardInfo s{(tmpDir() / "nope.jsonl").string(), 0, 10, Compression::None};
  EXPECT_THROW(LineReader(s, Piece{0, 0, 10}, 100), Error);
}

// Splitting a plain shard into byte ranges yields exactly the lines of the whole file, in order,
// for every piece size (including pieces smaller than a line).
TEST(Jsonl, PiecesPartitionTheLinesExactly) {
  std::string data;
  for (int i = 0; i < 300; ++i)
    data += "{\"text\":\"doc " + std::to_string(i) + std::string(i % 37, 'z') + "\"}\n";
  data += "{\"text\":\"tail\"}";
  const auto p = writePlain("split.jsonl", data);
  const auto whole = readAll(p);
  ASSERT_EQ(whole.texts.size(), 301u);
  for (std::uint64_t pb : {1ull, 2ull, 7ull, 20ull, 33ull, 64ull, 100ull, 999ull, 4096ull}) {
    const auto r = readAll(p, 1 << 20, "text", pb);
    ASSERT_EQ(r.texts, whole.texts) << "piece bytes " << pb;
    ASSERT_EQ(r.reasons.size(), whole.reasons.size()) << "piece bytes " << pb;
  }
}

TEST(Jsonl, RepairUtf8) {
  std::string out;
  EXPECT_EQ(repairUtf8("ok \xE2\x82\xAC", out), 0u);
  EXPECT_EQ(out, "ok \xE2\x82\xAC");
  EXPECT_EQ(repairUtf8("\xE2\x82", out), 2u);      // truncated sequence: one U+FFFD per byte
  EXPECT_EQ(repairUtf8("\xED\xA0\x80", out), 3u);  // encoded surrogate is invalid
  EXPECT_TRUE(isValidUtf8(out));
}

TEST(Jsonl, GroupKeyIsReadWhenAStringAndNeverAnError) {
  // simdjson needs padding after the line; std::string's buffer is copied into a padded one.
  const auto parse = [](const std::string& line, const char* groupKey) {
    static JsonlParser parser;
    static std::string buf;
    buf.assign(line);
    buf.append(64, '\0');
    return parser.parse(std::string_view(buf.data(), line.size()), "text", groupKey);
  };
  auto a = parse(R"({"text": "t", "genre": "news"})", "genre");
  EXPECT_TRUE(a.ok);
  EXPECT_TRUE(a.hasGroup);
  EXPECT_EQ(a.group, "news");
  auto b = parse(R"({"text": "t"})", "genre");  // missing
  EXPECT_TRUE(b.ok);
  EXPECT_FALSE(b.hasGroup);
  auto c = parse(R"({"text": "t", "genre": 7})", "genre");  // not a string
  EXPECT_TRUE(c.ok);
  EXPECT_FALSE(c.hasGroup);
  auto d = parse(R"({"text": "t", "genre": "news"})", "");  // no group key asked for
  EXPECT_TRUE(d.ok);
  EXPECT_FALSE(d.hasGroup);
}
