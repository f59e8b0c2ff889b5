#pragma once
/// \file
/// \brief Typed records that cross ranks inside one job, each with one pack and one unpack, and
/// the collectives that move them (pack -> MPI -> unpack). Also the one "rank 0 does it, every
/// rank learns the outcome" helper. Nothing here is written to disk: the byte layout is the
/// host's, valid only between identical binaries of one job.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "cleanmix/comm/communicator.hpp"
#include "cleanmix/core/error.hpp"

namespace cleanmix {

/// \brief Appends values to a byte buffer: trivially copyable values as their bytes, strings and
/// vectors as a 64-bit length and their elements.
class Packer {
 public:
  template <class T>
  void put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    _buf.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void put(std::string_view s) {
    put<std::uint64_t>(s.size());
    _buf.append(s);
  }
  template <class T>
  void put(const std::vector<T>& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    put<std::uint64_t>(v.size());
    _buf.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }
  std::string& bytes() { return _buf; }

 private:
  std::string _buf;
};

/// \brief Reads what a Packer wrote, in the same order; throws Error past the end.
class Unpacker {
 public:
  explicit Unpacker(std::string_view bytes) : _p(bytes.data()), _end(bytes.data() + bytes.size()) {}
  bool done() const { return _p == _end; }
  template <class T>
  T get() {
    static_assert(std::is_trivially_copyable_v<T>);
    T v;
    std::memcpy(&v, take(sizeof v), sizeof v);
    return v;
  }
  std::string getString() {
    const auto n = get<std::uint64_t>();
    return std::string(take(n), n);
  }
  template <class T>
  std::vector<T> getVector() {
    const auto n = get<std::uint64_t>();
    std::vector<T> v(n);
    if (n) std::memcpy(v.data(), take(n * sizeof(T)), n * sizeof(T));
    return v;
  }

 private:
  const char* take(std::size_t n) {
    if (static_cast<std::size_t>(_end - _p) < n) fail("Unpacker", "record truncated");
    const char* at = _p;
    _p += n;
    return at;
  }
  const char* _p;
  const char* _end;
};

/// \brief A quarantined input line on its way to the rank that owns its piece (count stage,
/// restoring checkpoints).
struct QuarantineRecord {
  std::uint32_t piece = 0;
  std::uint64_t line = 0;  ///< 1-based within the piece
  std::string reason;
  void pack(Packer& p) const {
    p.put(piece);
    p.put(line);
    p.put(std::string_view(reason));
  }
  static QuarantineRecord unpack(Unpacker& u) {
    QuarantineRecord r;
    r.piece = u.get<std::uint32_t>();
    r.line = u.get<std::uint64_t>();
    r.reason = u.getString();
    return r;
  }
};

/// \brief A planned document's text on its way to the ranks that write its copies (materialize).
struct DocTextRecord {
  std::uint64_t doc = 0, tokens = 0, line = 0;
  std::uint32_t source = 0, shard = 0;
  std::uint8_t provenance = 0;  ///< inferred provenance code
  std::string text;
  void pack(Packer& p) const {
    p.put(doc);
    p.put(tokens);
    p.put(line);
    p.put(source);
    p.put(shard);
    p.put(provenance);
    p.put(std::string_view(text));
  }
  static DocTextRecord unpack(Unpacker& u) {
    DocTextRecord r;
    r.doc = u.get<std::uint64_t>();
    r.tokens = u.get<std::uint64_t>();
    r.line = u.get<std::uint64_t>();
    r.source = u.get<std::uint32_t>();
    r.shard = u.get<std::uint32_t>();
    r.provenance = u.get<std::uint8_t>();
    r.text = u.getString();
    return r;
  }
};

/// \brief A planned document's token buckets on their way to the ranks that audit its copies.
struct DocTokensRecord {
  std::uint64_t doc = 0;
  std::vector<std::uint32_t> buckets;
  void pack(Packer& p) const {
    p.put(doc);
    p.put(buckets);
  }
  static DocTokensRecord unpack(Unpacker& u) {
    DocTokensRecord r;
    r.doc = u.get<std::uint64_t>();
    r.buckets = u.getVector<std::uint32_t>();
    return r;
  }
};

/// \brief A labelled document's classifier features on their way to rank 0 (classify stage).
struct LabelledRow {
  std::vector<double> features;
  /// The features again under fold 0's and then fold 1's LMs (2 × features), or empty.
  std::vector<double> foldFeatures;
  std::uint8_t label = 0, holdout = 0;
  std::uint32_t group = 0;  ///< index into the run's group names (DocRows::groupNames)
  void pack(Packer& p) const {
    p.put(features);
    p.put(foldFeatures);
    p.put(label);
    p.put(holdout);
    p.put(group);
  }
  static LabelledRow unpack(Unpacker& u) {
    LabelledRow r;
    r.features = u.getVector<double>();
    r.foldFeatures = u.getVector<double>();
    r.label = u.get<std::uint8_t>();
    r.holdout = u.get<std::uint8_t>();
    r.group = u.get<std::uint32_t>();
    return r;
  }
};

namespace detail {
template <class R>
std::vector<char> packAll(const std::vector<R>& records) {
  Packer p;
  for (const auto& r : records) r.pack(p);
  return {p.bytes().begin(), p.bytes().end()};
}
template <class R>
void unpackAll(std::string_view bytes, std::vector<R>& out) {
  Unpacker u(bytes);
  while (!u.done()) out.push_back(R::unpack(u));
}
}  // namespace detail

/// \brief Personalised all-to-all of records: `send[r]` goes to rank r; returns what every rank
/// sent here, in rank order. Collective.
/// \brief exchangeRecords that consumes `send`: each destination's records are packed into
/// one buffer and freed at once, and the buffer is freed before the records are unpacked, so
/// at most about twice the exchanged bytes are held at any time (the copying form holds the
/// records, their packed parts, the joined buffer and the received bytes together). Collective.
template <class R>
std::vector<R> exchangeRecords(const Communicator& comm, std::vector<std::vector<R>>&& send) {
  std::vector<std::uint64_t> sizes(send.size()), recv;
  std::string got;
  {
    Packer p;
    for (std::size_t r = 0; r < send.size(); ++r) {
      const std::size_t before = p.bytes().size();
      for (const auto& rec : send[r]) rec.pack(p);
      sizes[r] = p.bytes().size() - before;
      std::vector<R>().swap(send[r]);
    }
    got = comm.exchangeBytes(p.bytes(), sizes, &recv);
  }
  std::vector<R> out;
  detail::unpackAll(std::string_view(got.data(), got.size()), out);
  return out;
}

/// \brief Personalised all-to-all of records: `send[r]` goes to rank r; returns what every rank
/// sent here, in rank order. Collective. (A copy of `send`, then the consuming form.)
template <class R>
std::vector<R> exchangeRecords(const Communicator& comm, const std::vector<std::vector<R>>& send) {
  return exchangeRecords(comm, std::vector<std::vector<R>>(send));
}

/// \brief Every rank's records on rank 0, in rank order (empty elsewhere). Collective.
template <class R>
std::vector<R> gatherRecords(const Communicator& comm, const std::vector<R>& mine) {
  const std::vector<char> packed = detail::packAll(mine);
  const auto parts = comm.gatherBytes(std::string(packed.begin(), packed.end()));
  std::vector<R> out;
  for (const auto& part : parts) detail::unpackAll(part, out);
  return out;
}

/// \brief Rank 0 runs `work` (a filesystem operation, a fit: anything only one rank should do),
/// which returns bytes; every rank gets them, or every rank throws the same error (a ConfigError
/// stays one; anything else becomes a CollectiveError), so no rank is left waiting in a
/// collective. Collective.
template <class F>
std::string rootThenShare(const Communicator& comm, F work) {
  std::string err, payload;
  if (comm.isRoot()) {
    try {
      if constexpr (std::is_void_v<decltype(work())>)
        work();
      else
        payload = work();
    } catch (const ConfigError& e) {
      err = std::string("C") + e.what();
    } catch (const std::exception& e) {
      err = std::string("E") + e.what();
    }
  }
  comm.bcastBytes(err);
  if (!err.empty()) {
    if (err[0] == 'C') throw ConfigError(err.substr(1));
    throw CollectiveError(err.substr(1));
  }
  if constexpr (!std::is_void_v<decltype(work())>) comm.bcastBytes(payload);
  return payload;
}

}  // namespace cleanmix
