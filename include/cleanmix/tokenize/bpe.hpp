#pragma once
/// \file
/// \brief Byte-level BPE and the regex pre-tokenizer shared by the `tiktoken` and `hf`
/// tokenizers (DESIGN.md "Tokenizer", docs/tokenizers.md).
///
/// ByteBpe encodes one pre-token (a byte string) the way tiktoken's `_byte_pair_merge` and the
/// Hugging Face `tokenizers` BPE model do: start from one symbol per byte and repeatedly merge
/// the adjacent pair of lowest rank, the leftmost on a tie, until no adjacent pair has a rank.
/// Both reduce to a table (left id, right id) -> (rank, merged id): tiktoken's rank of a pair is
/// the rank of the concatenated bytes (derived from the vocabulary by deriveTiktokenMerges()),
/// Hugging Face's is the merge's line in `merges`.
///
/// RegexSplitter runs a split pattern with PCRE2 (UTF + UCP, JIT). Patterns are written in the
/// Rust `regex`/`fancy-regex` dialect tiktoken and `tokenizers` use; translatePattern() maps the
/// one construct whose meaning differs in PCRE2 (`\s`, which in PCRE2 also matches U+180E).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cleanmix {

/// \brief A token's byte span in the text it was encoded from.
struct TokenSpan {
  std::uint32_t begin = 0, end = 0;
};

/// \brief Byte-level BPE over a fixed vocabulary.
class ByteBpe {
 public:
  /// \brief The vocabulary: `bytes[id]` is token id's byte string (empty: an unused id, e.g. a
  /// special token's). Every one of the 256 single bytes must be a token. Throws ConfigError
  /// naming `what` otherwise or on a duplicate byte string.
  void setVocab(std::vector<std::string> bytes, const std::string& what);
  /// \brief tiktoken merges: every split X|Y of a token T with X and Y tokens merges at T's rank.
  void deriveTiktokenMerges();
  /// \brief A Hugging Face merge: (left, right) -> result at `rank`. A later duplicate wins (as
  /// `tokenizers` collects merges into a map).
  void addMerge(std::uint32_t left, std::uint32_t right, std::uint32_t rank, std::uint32_t result);
  void finishMerges();
  /// \brief When true, a pre-token that is a token as a whole is emitted as that token before any
  /// merging (tiktoken always; Hugging Face `ignore_merges`).
  bool wholeLookup = true;

  /// \brief The id of a byte string, or -1.
  std::int64_t find(std::string_view bytes) const;
  std::size_t size() const { return _bytes.size(); }
  const std::string& bytes(std::uint32_t id) const { return _bytes[id]; }

  /// \brief Appends the ids of `piece` (and, with `spans`, their byte spans offset by `base`).
  void encode(std::string_view piece, std::uint32_t base, std::vector<std::uint64_t>& ids,
              std::vector<TokenSpan>* spans) const;

 private:
  struct Slot {
    std::uint64_t key = ~0ull, value = 0;
  };
  std::uint64_t lookupPair(std::uint32_t a, std::uint32_t b) const;  // rank<<32 | id, or ~0
  void insertPair(std::uint64_t key, std::uint64_t value);
  void encodeLong(std::string_view piece, std::uint32_t base, std::vector<std::uint64_t>& ids,
                  std::vector<TokenSpan>* spans) const;

  std::vector<std::string> _bytes;
  std::vector<std::uint32_t> _byHash;  ///< open addressing over XXH3(bytes): id + 1, 0 empty
  std::uint64_t _byHashMask = 0;
  std::vector<Slot> _pairs;  ///< open addressing over (left << 32 | right)
  std::uint64_t _pairMask = 0, _pairCount = 0;
  std::uint32_t _byteId[256] = {};
};

/// \brief Rust-regex dialect to PCRE2: `\s` and `\S` become Unicode White_Space classes (the
/// Rust meaning; PCRE2's `\s` adds U+180E). Throws ConfigError on `\S` inside a class.
std::string translatePattern(std::string_view pattern, const std::string& what);

/// \brief A compiled split pattern. Safe to use from several threads at once.
class RegexSplitter {
 public:
  RegexSplitter(std::string_view pattern, const std::string& what);
  RegexSplitter(const RegexSplitter&) = delete;
  RegexSplitter& operator=(const RegexSplitter&) = delete;
  ~RegexSplitter();
  /// \brief Calls f(begin, end, matched) for every match of the pattern in `text` (valid UTF-8)
  /// and, with `gaps`, for the unmatched text between matches too (Hugging Face `Isolated`).
  template <class F>
  void split(std::string_view text, bool gaps, F&& f) const {
    std::size_t at = 0, last = 0;
    while (at < text.size()) {
      std::size_t b = 0, e = 0;
      if (_fast && fastNext(text, at, e)) {
        b = at;
      } else if (!next(text, at, b, e)) {
        break;
      }
      if (gaps && b > last) f(last, b, false);
      f(b, e, true);
      at = last = e;
    }
    if (gaps && last < text.size()) f(last, text.size(), false);
  }
  const std::string& pattern() const { return _source; }
  /// \brief Whether the hand-written scanner runs ASCII text (for the tests).
  bool fast() const { return _fast; }
  /// \brief Turn the scanner off (tests compare it with PCRE2 alone).
  void disableFast() { _fast = false; }

 private:
  /// The cl100k_base pattern (also Llama 3's) on ASCII: the match at `at` (every position of
  /// that pattern starts one), or false when deciding it would read a non-ASCII byte; PCRE2
  /// then takes that match. Proven equal to PCRE2 by tests/unit/test_model_tokenizers.cpp.
  bool fastNext(std::string_view text, std::size_t at, std::size_t& e) const;
  bool _fast = false;
  /// The next non-empty match at or after `at`; false when there is none.
  bool next(std::string_view text, std::size_t at, std::size_t& b, std::size_t& e) const;
  std::string _source;
  void* _code = nullptr;  // pcre2_code_8
};

}  // namespace cleanmix
