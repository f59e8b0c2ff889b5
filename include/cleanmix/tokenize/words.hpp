#pragma once
/// \file
/// \brief The built-in `words` tokenizer (DESIGN.md "Tokenizer"): NFKC + case fold; a token is a
/// maximal run of letters, marks or digits (Unicode L*, M*, Nd), or a single other non-space
/// character; id = XXH3-64 of the token's UTF-8 bytes. Sentences end after `.`, `!` or `?`
/// followed by white space or the end, and at blank lines.
#include <cstdint>
#include <string>
#include <vector>
#include <string_view>

#include "cleanmix/tokenize/tokenizer.hpp"

namespace cleanmix {

/// \brief NFKC + case fold of valid UTF-8 (invalid sequences are replaced with U+FFFD and
/// counted). ASCII runs take a fast path; each non-ASCII run is normalised together with the
/// character before it, which gives the same result as normalising the whole string because no
/// ASCII character composes with a following one.
std::uint32_t normalizeText(std::string_view in, std::string& out);

/// \brief Reference normalisation: one utf8proc call on the whole string (tests compare).
std::string normalizeTextReference(std::string_view in);

/// \brief XXH3-64 of the bytes (the token id).
std::uint64_t tokenId(std::string_view bytes);

/// \brief Hashes of the "words" used by decontamination and near-dedup shingles: white-space
/// separated runs of the normalised text with every character that is not a letter, mark or
/// digit stripped (GPT-3's lower-cased, punctuation-stripped words; "don't" -> "dont"); runs
/// that strip to nothing are dropped. Appends to `out`.
void wordHashes(std::string_view norm, std::vector<std::uint64_t>& out);

/// \brief Reference wordHashes: one character at a time, the words built in a buffer (tests and
/// the fuzz harness compare it with the block version).
void wordHashesReference(std::string_view norm, std::vector<std::uint64_t>& out);

/// \brief End of the run of ASCII word bytes ([0-9A-Za-z]) starting at i, found 8 bytes at a
/// time (a SWAR range test per byte; the compiler may widen it), bytewise at the end of the
/// text. asciiWordRunEndReference is the bytewise loop alone.
std::size_t asciiWordRunEnd(const char* s, std::size_t i, std::size_t n);
std::size_t asciiWordRunEndReference(const char* s, std::size_t i, std::size_t n);

/// \brief Hashes of the non-blank lines of `norm`, trimmed of ASCII white space (dup_line_frac).
void appendLineHashes(std::string_view norm, std::vector<std::uint64_t>& out);

/// \brief The `words` tokenizer's white space: ASCII \t-\r and space, U+0085, U+00A0, U+1680,
/// U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
bool isSpaceCodepoint(std::int32_t cp);

class WordsTokenizer final : public Tokenizer {
 public:
  std::string_view name() const override { return "words"; }
  void tokenize(std::string_view text, TokenizedDoc& out, bool full) const override;
  void encode(std::string_view text, std::vector<std::uint64_t>& ids) const override;
  TokenizerIdentity identity() const override;
};

}  // namespace cleanmix
