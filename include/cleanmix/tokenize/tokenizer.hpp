#pragma once
/// \file
/// \brief The tokenizer interface. The built-in `words` tokenizer implements it; a SentencePiece
/// model or a pre-tokenized reader plugs in behind the same interface.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cleanmix {

/// \brief Config section [tokenizer].
struct TokenizerParams {
  std::string kind = "words";  ///< the built-in `words` tokenizer (others come with their issue)
  int vocabBits = 20;          ///< histogram buckets: 2^vocabBits
};

/// \brief What tokenizing one document produces. Reused across documents to keep capacity.
struct TokenizedDoc {
  std::string norm;                       ///< normalised text (full mode)
  std::vector<std::uint64_t> ids;         ///< token ids (64-bit)
  std::vector<std::uint32_t> lens;        ///< token byte lengths in `norm` (full mode)
  std::vector<std::uint32_t> sentLens;    ///< tokens per sentence, empty sentences dropped (full)
  std::vector<std::uint64_t> lineHashes;  ///< hashes of non-blank trimmed lines (full mode)
  std::uint32_t replaced = 0;             ///< invalid UTF-8 replaced during normalisation
  std::vector<std::uint64_t> words;       ///< decontamination/shingle words (driver fills them)

  void clear() {
    norm.clear();
    ids.clear();
    lens.clear();
    sentLens.clear();
    lineHashes.clear();
    words.clear();
    replaced = 0;
  }
};

/// \brief Tokenizes text. Implementations are stateless (const) and safe to call from several
/// host threads at once, each with its own TokenizedDoc.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string_view name() const = 0;
  /// \brief `full` = false fills only `ids` (the count stage); true fills every field.
  virtual void tokenize(std::string_view text, TokenizedDoc& out, bool full) const = 0;
};

/// \brief The tokenizer `params.kind` names. Throws ConfigError for an unknown kind.
std::unique_ptr<Tokenizer> makeTokenizer(const TokenizerParams& params);

}  // namespace cleanmix
