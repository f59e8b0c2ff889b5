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

/// \brief Config section [tokenizer] (docs/tokenizers.md).
struct TokenizerParams {
  std::string kind = "words";  ///< tokenizerKinds()
  int vocabBits = 20;      ///< histogram buckets: 2^vocabBits (model kinds: from the vocabulary)
  std::string model;       ///< tiktoken rank file, tokenizer.json or SentencePiece .model
  std::string preset;      ///< tiktoken: "cl100k_base" or "o200k_base" (pattern + specials)
  std::string pattern;     ///< tiktoken: the split pattern (overrides the preset's)
  std::string eod;         ///< end-of-document token: a name, or "#<id>" for an id; "" none
  bool appendEod = false;  ///< append `eod` to every document (counted in n_tokens)
};

/// \brief What identifies a loaded model tokenizer (the manifest's "tokenizer").
struct TokenizerIdentity {
  std::string kind, name, model;  ///< name: preset, or the model file's name
  std::string modelHash;          ///< XXH3-64 of the model file, 16 hex digits ("" for words)
  std::uint64_t vocabSize = 0;    ///< 0: hashed ids (words)
  std::int64_t eod = -1;          ///< the end-of-document id, -1 none
  bool appendEod = false;
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

/// \brief Tokenizes text. `ids` are the model's token ids (model kinds: token ranks below
/// vocabSize(), so a histogram of 2^vocabBits buckets is exact) or XXH3-64 hashes (`words`).
/// Model kinds also fill `norm`, `lineHashes` and `words` inputs the same way `words` does
/// (they are defined on normalised text); `lens` and `sentLens` count model tokens.
/// Implementations are stateless (const) and safe to call from several
/// host threads at once, each with its own TokenizedDoc.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string_view name() const = 0;
  /// \brief `full` = false fills only `ids` (the count stage); true fills every field.
  virtual void tokenize(std::string_view text, TokenizedDoc& out, bool full) const = 0;
  /// \brief Only the model's ids of `text` (no normalisation, no EOD): what a trainer sees.
  virtual void encode(std::string_view text, std::vector<std::uint64_t>& ids) const = 0;
  virtual TokenizerIdentity identity() const = 0;
  /// \brief Tokens a trainer sees per document beyond tokenize()'s ids (the appended EOD).
  std::uint64_t extraTokens() const { return identity().appendEod ? 1 : 0; }
};

/// \brief The kinds makeTokenizer() knows.
const std::vector<std::string>& tokenizerKinds();

/// \brief The tokenizer `params` describes, loaded once per process and shared (a model
/// tokenizer's tables are large). Throws ConfigError naming the file and the problem for a bad
/// model, pattern or EOD token.
std::shared_ptr<const Tokenizer> makeTokenizer(const TokenizerParams& params);

/// \brief The histogram bits a tokenizer needs: 2^bits >= vocabulary (at least 8); `words`: 0.
int vocabBitsFor(const Tokenizer& tokenizer);

}  // namespace cleanmix
