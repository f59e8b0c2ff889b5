#pragma once
/// \file
/// \brief Records on their way to other ranks, one file per round of the key space. When the
/// mix pass's outgoing records (texts for materialize, token buckets for the audit) exceed
/// `materialize.round_bytes` per rank, each rank appends them during the read to one file per
/// round, and the ranks exchange them one round at a time, so a rank holds one round's records,
/// not the whole mix's.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cleanmix/comm/records.hpp"

namespace cleanmix {

class RoundSpill {
 public:
  RoundSpill() = default;  ///< inactive: nothing is spilled
  /// Files `dir/prefix-rRANK-ROUND.bin` (ROUND < rounds), created empty (a previous run's are
  /// truncated); `stage` names the stage in errors.
  RoundSpill(std::filesystem::path dir, const std::string& prefix, int rank, std::uint32_t rounds,
             std::string stage);
  RoundSpill(RoundSpill&&) = default;
  RoundSpill& operator=(RoundSpill&&) = default;
  RoundSpill(const RoundSpill&) = delete;
  RoundSpill& operator=(const RoundSpill&) = delete;
  ~RoundSpill();  ///< removes the files not yet taken (an error unwinding, say)

  bool active() const { return !_files.empty(); }
  /// \brief Append a record for rank `dest` to round `round`'s file (buffered).
  template <class R>
  void add(std::uint32_t round, std::uint32_t dest, const R& record) {
    Packer& p = _buffers.at(round);
    p.put(dest);
    record.pack(p);
    if (p.bytes().size() >= kFlushBytes) flush(round);
  }
  /// \brief Write every buffered record; call when the read is done.
  void flushAll();
  /// \brief Round `round`'s records by destination rank (`ranks` of them); its file is removed.
  template <class R>
  std::vector<std::vector<R>> take(std::uint32_t round, int ranks) {
    std::vector<std::vector<R>> out(static_cast<std::size_t>(ranks));
    const std::string bytes = readAndRemove(round);
    Unpacker u(bytes);
    while (!u.done()) {
      const auto dest = u.get<std::uint32_t>();
      out.at(dest).push_back(R::unpack(u));
    }
    return out;
  }

 private:
  static constexpr std::size_t kFlushBytes = 4u << 20;
  void flush(std::uint32_t round);
  std::string readAndRemove(std::uint32_t round);
  std::filesystem::path _dir;
  std::string _stage;
  std::vector<std::filesystem::path> _files;  // emptied once taken
  std::vector<Packer> _buffers;
};

}  // namespace cleanmix
