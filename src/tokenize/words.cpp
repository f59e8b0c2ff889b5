#include "cleanmix/tokenize/words.hpp"

#include <utf8proc.h>
#define XXH_INLINE_ALL  // short tokens: the call overhead would dominate the hash
#include <xxhash.h>

#include <array>
#include <cstdlib>
#include <cstring>

#include "cleanmix/core/error.hpp"
#include "cleanmix/core/utf8.hpp"

namespace cleanmix {
namespace {

constexpr utf8proc_option_t kNfkcCasefold = static_cast<utf8proc_option_t>(
    UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD);

enum CharClass : std::uint8_t { kOther = 0, kWord = 1, kSpace = 2 };

constexpr std::array<std::uint8_t, 128> makeAsciiClass() {
  std::array<std::uint8_t, 128> t{};
  for (int c = 0; c < 128; ++c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
      t[c] = kWord;
    else if (c == ' ' || (c >= 9 && c <= 13))
      t[c] = kSpace;
    else
      t[c] = kOther;
  }
  return t;
}
constexpr auto kAscii = makeAsciiClass();

bool isUnicodeSpace(utf8proc_int32_t cp) {
  switch (cp) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000: return true;
    default: return cp >= 0x2000 && cp <= 0x200A;
  }
}

CharClass classify(utf8proc_int32_t cp) {
  if (cp < 128) return static_cast<CharClass>(kAscii[cp]);
  if (isUnicodeSpace(cp)) return kSpace;
  switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND: return kWord;
    default: return kOther;
  }
}

/// The character at s[i]: its code point, class and length in bytes (an invalid byte counts as
/// one; normalised text is valid UTF-8).
struct CharAt {
  utf8proc_int32_t cp;
  CharClass cls;
  std::size_t len;
};
CharAt charAt(const char* s, std::size_t i, std::size_t n) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return {c, static_cast<CharClass>(kAscii[c]), 1};
  utf8proc_int32_t cp = c;
  const utf8proc_ssize_t l = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s + i),
                                              static_cast<utf8proc_ssize_t>(n - i), &cp);
  return {cp, classify(cp), l > 0 ? static_cast<std::size_t>(l) : 1};
}

/// Index of the first byte >= 0x80 at or after i, or n.
std::size_t findNonAscii(const char* s, std::size_t i, std::size_t n) {
  while (i + 8 <= n) {
    std::uint64_t w;
    std::memcpy(&w, s + i, 8);
    if (w & 0x8080808080808080ull) break;
    i += 8;
  }
  while (i < n && static_cast<unsigned char>(s[i]) < 0x80) ++i;
  return i;
}

/// High bit of every byte of w that is an ASCII word byte ([0-9A-Za-z]). Bytes >= 0x80 are
/// cleared first (so the per-byte sums below cannot carry into the next byte) and excluded.
inline std::uint64_t asciiWordBytes(std::uint64_t w) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
  const std::uint64_t x = w & ~kHigh;
  auto in = [&](std::uint64_t lo, std::uint64_t hi) {  // lo <= byte <= hi, for bytes < 0x80
    return (x + kOnes * (0x80 - lo)) & ~(x + kOnes * (0x7F - hi)) & kHigh;
  };
  return (in('0', '9') | in('a', 'z') | in('A', 'Z')) & ~w & kHigh;
}

void appendLowerAscii(std::string& out, const char* s, std::size_t n) {
  const std::size_t at = out.size();
  out.resize(at + n);
  char* d = out.data() + at;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[i];
    d[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  }
}

std::uint32_t appendNormalized(std::string& out, std::string_view seg) {
  utf8proc_uint8_t* res = nullptr;
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(seg.data()),
                                    static_cast<utf8proc_ssize_t>(seg.size()), &res, kNfkcCasefold);
  std::uint32_t replaced = 0;
  if (n < 0) {  // invalid UTF-8 (e.g. an escaped lone surrogate): repair and retry
    std::string fixed;
    replaced = repairUtf8(seg, fixed);
    n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(fixed.data()),
                     static_cast<utf8proc_ssize_t>(fixed.size()), &res, kNfkcCasefold);
    if (n < 0) fail("normalizeText", "utf8proc: {}", utf8proc_errmsg(n));
  }
  out.append(reinterpret_cast<const char*>(res), static_cast<std::size_t>(n));
  std::free(res);
  return replaced;
}

}  // namespace

std::size_t asciiWordRunEndReference(const char* s, std::size_t i, std::size_t n) {
  while (i < n && static_cast<unsigned char>(s[i]) < 0x80 &&
         kAscii[static_cast<unsigned char>(s[i])] == kWord)
    ++i;
  return i;
}

std::size_t asciiWordRunEnd(const char* s, std::size_t i, std::size_t n) {
  constexpr std::uint64_t kHigh = 0x8080808080808080ull;
  while (i + 8 <= n) {
    std::uint64_t w;
    std::memcpy(&w, s + i, 8);  // little-endian: byte k is bits 8k..8k+7
    const std::uint64_t stop = ~asciiWordBytes(w) & kHigh;
    if (stop) return i + static_cast<std::size_t>(__builtin_ctzll(stop) >> 3);
    i += 8;
  }
  return asciiWordRunEndReference(s, i, n);
}

std::uint64_t tokenId(std::string_view bytes) {
  return XXH3_64bits(bytes.data(), bytes.size());
}

std::uint32_t normalizeText(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size() + in.size() / 8 + 16);
  const char* s = in.data();
  const std::size_t n = in.size();
  std::uint32_t replaced = 0;
  std::size_t i = 0;
  while (i < n) {
    const std::size_t j = findNonAscii(s, i, n);
    if (j == n) {
      appendLowerAscii(out, s + i, n - i);
      break;
    }
    const std::size_t segStart = j > i ? j - 1 : j;  // keep the preceding starter with the run
    appendLowerAscii(out, s + i, segStart - i);
    std::size_t m = j;
    while (m < n && static_cast<unsigned char>(s[m]) >= 0x80) ++m;
    replaced += appendNormalized(out, std::string_view(s + segStart, m - segStart));
    i = m;
  }
  return replaced;
}

std::string normalizeTextReference(std::string_view in) {
  std::string out;
  appendNormalized(out, in);
  return out;
}

void appendLineHashes(std::string_view norm, std::vector<std::uint64_t>& out) {
  const char* s = norm.data();
  const std::size_t n = norm.size();
  std::size_t b = 0;
  while (b <= n) {
    const char* nl = n > b ? static_cast<const char*>(std::memchr(s + b, '\n', n - b)) : nullptr;
    std::size_t e = nl ? static_cast<std::size_t>(nl - s) : n;
    std::size_t lb = b, le = e;
    while (lb < le && static_cast<unsigned char>(s[lb]) < 0x80 &&
           kAscii[static_cast<unsigned char>(s[lb])] == kSpace)
      ++lb;
    while (le > lb && static_cast<unsigned char>(s[le - 1]) < 0x80 &&
           kAscii[static_cast<unsigned char>(s[le - 1])] == kSpace)
      --le;
    if (le > lb) out.push_back(XXH3_64bits(s + lb, le - lb));
    if (!nl) break;
    b = e + 1;
  }
}

bool isSpaceCodepoint(std::int32_t cp) {
  if (cp < 0x80) return kAscii[cp] == kSpace;
  return isUnicodeSpace(cp);
}

void WordsTokenizer::encode(std::string_view text, std::vector<std::uint64_t>& ids) const {
  thread_local TokenizedDoc td;
  tokenize(text, td, false);
  ids.insert(ids.end(), td.ids.begin(), td.ids.end());
}

TokenizerIdentity WordsTokenizer::identity() const {
  return {"words", "words", "", "", 0, -1, false};
}

void WordsTokenizer::tokenize(std::string_view text, TokenizedDoc& out, bool full) const {
  out.clear();
  out.replaced = normalizeText(text, out.norm);
  const char* s = out.norm.data();
  const auto n = static_cast<std::size_t>(out.norm.size());
  out.ids.reserve(n / 4 + 4);
  if (full) out.lens.reserve(n / 4 + 4);

  std::size_t tokStart = 0;
  bool inWord = false;
  std::uint32_t sentTokens = 0;
  int newlinesInGap = 0;  // newlines seen since the last non-space character
  auto emit = [&](std::size_t b, std::size_t e) {
    out.ids.push_back(XXH3_64bits(s + b, e - b));
    if (full) out.lens.push_back(static_cast<std::uint32_t>(e - b));
    ++sentTokens;
  };
  auto endSentence = [&] {
    if (full && sentTokens > 0) out.sentLens.push_back(sentTokens);
    sentTokens = 0;
  };

  std::size_t i = 0;
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (!inWord && c < 0x80 && kAscii[c] == kWord) {  // fast path: a run of ASCII word bytes
      const std::size_t j = asciiWordRunEnd(s, i + 1, n);
      newlinesInGap = 0;
      if (j < n && static_cast<unsigned char>(s[j]) >= 0x80) {  // may go on with a non-ASCII letter
        inWord = true;
        tokStart = i;
      } else {
        emit(i, j);
      }
      i = j;
      continue;
    }
    const auto [cp, cls, len] = charAt(s, i, n);
    if (cls == kWord) {
      if (!inWord) {
        tokStart = i;
        inWord = true;
      }
      newlinesInGap = 0;
      i += len;
      continue;
    }
    if (inWord) {
      emit(tokStart, i);
      inWord = false;
    }
    if (cls == kSpace) {
      if (cp == '\n' && ++newlinesInGap == 2) endSentence();  // blank line
    } else {
      newlinesInGap = 0;
      emit(i, i + len);
      if (cp == '.' || cp == '!' || cp == '?') {
        const std::size_t k = i + len;
        bool atBoundary = k >= n;
        if (!atBoundary) {
          const auto d = static_cast<unsigned char>(s[k]);
          if (d < 0x80) {
            atBoundary = kAscii[d] == kSpace;
          } else {
            utf8proc_int32_t cp2 = 0;
            utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s + k),
                             static_cast<utf8proc_ssize_t>(n - k), &cp2);
            atBoundary = isUnicodeSpace(cp2);
          }
        }
        if (atBoundary) endSentence();
      }
    }
    i += len;
  }
  if (inWord) emit(tokStart, n);
  endSentence();

  if (full) appendLineHashes(out.norm, out.lineHashes);
}

void wordHashes(std::string_view norm, std::vector<std::uint64_t>& out) {
  const char* s = norm.data();
  const std::size_t n = norm.size();
  std::string word;  // a word with stripped characters inside, built up; else hashed in place
  auto flush = [&] {
    if (!word.empty()) out.push_back(XXH3_64bits(word.data(), word.size()));
    word.clear();
  };
  std::size_t i = 0;
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      const auto cls = kAscii[c];
      if (cls == kWord) {
        const std::size_t j = asciiWordRunEnd(s, i + 1, n);
        const bool ends = j == n || (static_cast<unsigned char>(s[j]) < 0x80 &&
                                     kAscii[static_cast<unsigned char>(s[j])] == kSpace);
        if (word.empty() && ends) {
          out.push_back(XXH3_64bits(s + i, j - i));  // the common case: a whole plain word
        } else {
          word.append(s + i, j - i);
        }
        i = j;
        continue;
      }
      if (cls == kSpace) flush();
      ++i;
      continue;
    }
    const auto [cp, cls, len] = charAt(s, i, n);
    if (cls == kWord)
      word.append(s + i, len);
    else if (cls == kSpace)
      flush();
    i += len;
  }
  flush();
}

void wordHashesReference(std::string_view norm, std::vector<std::uint64_t>& out) {
  const char* s = norm.data();
  const std::size_t n = norm.size();
  std::string word;
  auto flush = [&] {
    if (!word.empty()) out.push_back(XXH3_64bits(word.data(), word.size()));
    word.clear();
  };
  std::size_t i = 0;
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      const auto cls = kAscii[c];
      if (cls == kWord)
        word.push_back(static_cast<char>(c));
      else if (cls == kSpace)
        flush();
      ++i;
      continue;
    }
    const auto [cp, cls, len] = charAt(s, i, n);
    if (cls == kWord)
      word.append(s + i, len);
    else if (cls == kSpace)
      flush();
    i += len;
  }
  flush();
}

}  // namespace cleanmix
