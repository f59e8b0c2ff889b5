#pragma once
/// \file
/// \brief The human text a `trigram` simulation starts from: the documents of the config's
/// real sources, tokenized with the run's tokenizer, as dense ids over one vocabulary (every
/// token type of every source, so any mix document can be encoded), split into the training
/// corpus (generation 0) and a held-out share. Read on rank 0 and shared as bytes, so it must
/// fit one rank's memory (the sample does, many times over).
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cleanmix/core/source.hpp"
#include "cleanmix/io/reader.hpp"
#include "cleanmix/simulate/trigram.hpp"
#include "cleanmix/tokenize/tokenizer.hpp"

namespace cleanmix::sim {

struct RealCorpus {
  /// id → surface (the normalised token bytes); ids 0 (B) and 1 (unknown) are reserved, the
  /// rest sorted by surface
  std::vector<std::string> vocab;
  std::vector<Tokens> train;               ///< generation 0, in reading order
  std::vector<Tokens> held;                ///< every heldoutEvery-th real document
  std::vector<std::string> trainGroups;    ///< the group (group_key value) of each train document
  std::vector<std::uint32_t> trainSource;  ///< index into the config's sources
  std::vector<std::string> trainText;      ///< the original text of each train document

  std::string pack() const;
  static RealCorpus unpack(const std::string& bytes);
};

/// \brief Read `sources` (all of them build the vocabulary; those named in `realSources` give
/// the documents), quarantined records skipped, documents without tokens dropped. Throws
/// ConfigError for an unknown source name, Error for unreadable input.
RealCorpus loadRealCorpus(const std::vector<SourceConfig>& sources,
                          const std::vector<std::string>& realSources, const IngestParams& ingest,
                          const TokenizerParams& tokenizer, std::uint64_t heldoutEvery);

/// \brief The default real sources: the pool sources of human provenance.
std::vector<std::string> defaultRealSources(const std::vector<SourceConfig>& sources);

/// \brief Text of a document: its surfaces joined by single spaces (the tokenizer gives the
/// same ids back).
std::string renderText(const Tokens& doc, const std::vector<std::string>& vocab);

/// \brief Encoding text back to ids (mix documents of the cleanmix arm): token ids of the
/// tokenizer → dense ids; types outside the vocabulary become kUnknown.
class Encoder {
 public:
  Encoder(const std::vector<std::string>& vocab, const TokenizerParams& params);
  Tokens encode(std::string_view text) const;

 private:
  std::unordered_map<std::uint64_t, std::uint32_t> _dense;
  std::shared_ptr<const Tokenizer> _tok;
};

}  // namespace cleanmix::sim
