// The built-in `words` tokenizer: Unicode classes, punctuation, case folding, NFKC, sentences.
#include <gtest/gtest.h>

#include <array>
#include <random>

#include "cleanmix/tokenize/words.hpp"

using namespace cleanmix;

namespace {

std::vector<std::uint64_t> ids(std::initializer_list<std::string_view> toks) {
  std::vector<std::uint64_t> v;
  for (auto t : toks) v.push_back(tokenId(t));
  return v;
}

TokenizedDoc tok(std::string_view text) {
  TokenizedDoc d;
  WordsTokenizer().tokenize(text, d, true);
  return d;
}

}  // namespace

TEST(Tokenizer, WordsAndPunctuation) {
  auto d = tok("Hello, World!");
  EXPECT_EQ(d.ids, ids({"hello", ",", "world", "!"}));
  EXPECT_EQ(d.lens, (std::vector<std::uint32_t>{5, 1, 5, 1}));
  EXPECT_EQ(d.norm, "hello, world!");
}

TEST(Tokenizer, ApostrophesDigitsAndRunsOfPunctuation) {
  EXPECT_EQ(tok("don't").ids, ids({"don", "'", "t"}));
  EXPECT_EQ(tok("pi is 3.14").ids, ids({"pi", "is", "3", ".", "14"}));
  EXPECT_EQ(tok("wait...").ids, ids({"wait", ".", ".", "."}));
  EXPECT_EQ(tok("a--b").ids, ids({"a", "-", "-", "b"}));
  EXPECT_EQ(tok("x_y").ids, ids({"x", "_", "y"}));  // underscore is punctuation (Pc)
}

TEST(Tokenizer, CaseFoldingAndNfkc) {
  EXPECT_EQ(tok("ÉCOLE").ids, tok("école").ids);
  EXPECT_EQ(tok("Straße").ids, ids({"strasse"}));      // full case fold
  EXPECT_EQ(tok("ﬁne").ids, ids({"fine"}));            // compatibility ligature
  EXPECT_EQ(tok("ＡＢＣ１２").ids, ids({"abc12"}));    // full-width forms
  EXPECT_EQ(tok("e\xCC\x81").ids, ids({"\xC3\xA9"}));  // e + combining acute -> é (composed)
  EXPECT_EQ(tok("E\xCC\x81t\xC3\xA9").ids, ids({"\xC3\xA9t\xC3\xA9"}));
}

TEST(Tokenizer, UnicodeLettersMarksDigits) {
  EXPECT_EQ(tok("naïve café").ids, ids({"naïve", "café"}));
  EXPECT_EQ(tok("日本語のテキスト").ids.size(), 1u);  // Lo run is one token
  EXPECT_EQ(tok("Привет, мир").ids, ids({"привет", ",", "мир"}));
  EXPECT_EQ(tok("٣٤").ids, ids({"٣٤"}));  // Arabic-Indic digits (Nd)
  EXPECT_EQ(tok("I \xF0\x9F\x98\x80 it").ids, ids({"i", "\xF0\x9F\x98\x80", "it"}));  // emoji
  EXPECT_EQ(tok("a\xC2\xA0"
                "b")
                .ids,
            ids({"a", "b"}));  // NBSP is space (and NFKC -> ' ')
  EXPECT_EQ(tok("a\xE3\x80\x80"
                "b")
                .ids,
            ids({"a", "b"}));  // ideographic space
  EXPECT_EQ(tok("“quoted”").ids, ids({"“", "quoted", "”"}));
}

TEST(Tokenizer, Sentences) {
  EXPECT_EQ(tok("One two. Three four five! Six?").sentLens, (std::vector<std::uint32_t>{3, 4, 2}));
  EXPECT_EQ(tok("pi is 3.14 today").sentLens, (std::vector<std::uint32_t>{6}));
  EXPECT_EQ(tok("e.g. this").sentLens, (std::vector<std::uint32_t>{4, 1}));    // "g." + space ends
  EXPECT_EQ(tok("a b\n\nc d").sentLens, (std::vector<std::uint32_t>{2, 2}));   // blank line
  EXPECT_EQ(tok("a b\n \t\nc").sentLens, (std::vector<std::uint32_t>{2, 1}));  // white-only line
  EXPECT_EQ(tok("a b\nc d").sentLens, (std::vector<std::uint32_t>{4}));        // single newline
  EXPECT_EQ(tok("Done.").sentLens, (std::vector<std::uint32_t>{2}));
  EXPECT_TRUE(tok("").sentLens.empty());
  EXPECT_TRUE(tok("   \n\n  ").ids.empty());
}

TEST(Tokenizer, LinesAreTrimmedAndBlankLinesSkipped) {
  auto d = tok("x\n  x  \n\n y\r\n");
  ASSERT_EQ(d.lineHashes.size(), 3u);
  EXPECT_EQ(d.lineHashes[0], d.lineHashes[1]);
  EXPECT_EQ(d.lineHashes[2], tokenId("y"));
}

TEST(Tokenizer, CountModeFillsIdsOnly) {
  TokenizedDoc d;
  WordsTokenizer().tokenize("One. Two three.", d, false);
  EXPECT_EQ(d.ids, ids({"one", ".", "two", "three", "."}));
  EXPECT_TRUE(d.lens.empty());
  EXPECT_TRUE(d.sentLens.empty());
  EXPECT_TRUE(d.lineHashes.empty());
}

TEST(Tokenizer, InvalidUtf8IsReplacedAndCounted) {
  auto d =
      tok("ab\xFF"
          "cd \xC3");
  EXPECT_EQ(d.replaced, 2u);
  EXPECT_EQ(d.ids, ids({"ab", "\xEF\xBF\xBD", "cd", "\xEF\xBF\xBD"}));
}

// The segment-wise fast path must equal one utf8proc call on the whole string.
TEST(Tokenizer, SegmentNormalisationEqualsWholeString) {
  const std::vector<std::string> pool{"a",
                                      "B",
                                      " ",
                                      "\n",
                                      ".",
                                      "e\xCC\x81",
                                      "\xCC\x81",
                                      "\xCC\xA3",
                                      "\xC3\x89",
                                      "\xEF\xAC\x81",
                                      "\xE2\x80\x9C",
                                      "\xEA\xB0\x80",
                                      "\xE1\x84\x80",
                                      "\xE1\x85\xA1",
                                      "\xE1\x86\xA8",
                                      "\xC3\x9F",
                                      "\xCE\xA3",
                                      "\xE2\x85\xA0",
                                      "\xEF\xBC\xA1",
                                      "Z9"};
  std::mt19937 rng(7);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string s;
    const int n = 1 + static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) s += pool[rng() % pool.size()];
    std::string fast;
    normalizeText(s, fast);
    ASSERT_EQ(fast, normalizeTextReference(s)) << "input: " << s;
  }
}

TEST(Tokenizer, DecontaminationWordsStripPunctuation) {
  auto words = [](std::string_view t) {
    std::string norm;
    normalizeText(t, norm);
    std::vector<std::uint64_t> w;
    wordHashes(norm, w);
    return w;
  };
  EXPECT_EQ(words("Don't STOP, now!"), ids({"dont", "stop", "now"}));
  EXPECT_EQ(words("Don't STOP, now!"), words("dont stop now"));
  EXPECT_EQ(words("e.g. -- ... x"), ids({"eg", "x"}));  // runs that strip to nothing vanish
  EXPECT_EQ(words("café\u00a0naïve"), ids({"café", "naïve"}));
  EXPECT_TRUE(words(" ... ").empty());
}

// The block (8 bytes at a time) scanners equal the bytewise ones: the ASCII word-run end at every
// position, and wordHashes, on random texts built from bytes that sit on every class boundary
// ('/' '0' '9' ':' '@' 'A' 'Z' '[' '`' 'a' 'z' '{', 0x7F, 0x80, white space, UTF-8 letters and
// punctuation) and on the bundled sample corpus.
TEST(Tokenizer, BlockScannersEqualBytewise) {
  const std::vector<std::string> pieces{
      "/", "0",  "9",  ":", "@", "A", "Z", "[",        "`",    "a", "z", "{",        "\x7f",
      " ", "\n", "\t", "'", ".", "é", "ß", "\xc2\xa0", "日本", "٣", "—", "abcdefgh", "xyz123"};
  std::mt19937 rng(5);
  std::size_t checked = 0;
  auto check = [&](const std::string& raw) {
    std::string norm;
    normalizeText(raw, norm);
    for (const std::string* t : std::array<const std::string*, 2>{&raw, &norm}) {
      for (std::size_t i = 0; i <= t->size(); ++i)
        ASSERT_EQ(asciiWordRunEnd(t->data(), i, t->size()),
                  asciiWordRunEndReference(t->data(), i, t->size()))
            << "at " << i << " of " << *t;
    }
    std::vector<std::uint64_t> a, b;
    wordHashes(norm, a);
    wordHashesReference(norm, b);
    ASSERT_EQ(a, b) << norm;
    ++checked;
  };
  for (int k = 0; k < 3000; ++k) {
    std::string t;
    const int n = static_cast<int>(rng() % 60);
    for (int i = 0; i < n; ++i) t += pieces[rng() % pieces.size()];
    check(t);
  }
  // every single byte value, alone and inside a word
  for (int c = 1; c < 256; ++c) {
    check(std::string(1, static_cast<char>(c)));
    check("abcdefg" + std::string(1, static_cast<char>(c)) + "hijklmnopq");
  }
  EXPECT_GT(checked, 3000u);
}
