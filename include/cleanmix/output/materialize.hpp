#pragma once
/// \file
/// \brief Writing the planned mix as JSONL shards (`run --materialize DIR`): each rank writes the
/// copies whose training-order keys it owns, in that order, rotating shards at a size limit;
/// the anchor split goes to separate shards; rank 0 writes DIR/manifest.json listing every
/// shard in training order with its documents, tokens, bytes and XXH3-64 checksum.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace cleanmix {

class Communicator;

/// \brief JSON string escaping (quotes, backslash, control characters); UTF-8 passes through.
void appendJsonString(std::string& out, std::string_view s);

/// \brief One JSONL record of the mix or the anchor split.
struct MaterialRecord {
  std::string_view text;
  std::string id;  ///< "source:shard-file:line", the document identity
  std::string source, provenance;
  std::uint64_t docId = 0, tokens = 0;
  std::uint32_t copy = 0;
};

/// \brief Shards of one kind ("mix" or "anchor") written by this rank.
class ShardWriter {
 public:
  ShardWriter(std::filesystem::path dir, std::string kind, int rank, std::uint64_t shardBytes);
  ~ShardWriter();
  void add(const MaterialRecord& r);
  void close();
  /// \brief This rank's shard list as JSON objects (one per line), in writing order.
  const std::string& entries() const { return _entries; }

 private:
  void open();
  void flushShard();
  std::filesystem::path _dir;
  std::string _kind;
  int _rank;
  std::uint64_t _limit;
  std::string _buf, _entries;
  std::uint64_t _docs = 0, _tokens = 0;
  int _index = 0;
};

/// \brief Rank 0 writes DIR/manifest.json from every rank's entries (rank order = training
/// order for the mix). Collective.
void writeManifest(const Communicator& comm, const std::filesystem::path& dir,
                   const std::string& mixEntries, const std::string& anchorEntries,
                   std::uint64_t seed, std::uint64_t mixTokens);

}  // namespace cleanmix
