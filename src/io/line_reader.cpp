#include "cleanmix/io/line_reader.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "cleanmix/core/error.hpp"

namespace cleanmix {
namespace {

constexpr std::size_t kChunk = 1u << 20;

/// RAII file descriptor with positional reads.
class File {
 public:
  explicit File(const std::string& path) : _path(path) {
    _fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (_fd < 0) fail("openShard", "cannot open '{}': {}", path, errnoText(errno));
#ifdef POSIX_FADV_SEQUENTIAL
    ::posix_fadvise(_fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  }
  ~File() {
    if (_fd >= 0) ::close(_fd);
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  std::size_t pread(char* dst, std::size_t n, std::uint64_t off) {
    for (;;) {
      const ssize_t r = ::pread(_fd, dst, n, static_cast<off_t>(off));
      if (r >= 0) return static_cast<std::size_t>(r);
      if (errno != EINTR) fail("readShard", "'{}': read error: {}", _path, errnoText(errno));
    }
  }
  const std::string& path() const {
    return _path;
  }

 private:
  int _fd = -1;
  std::string _path;
};

class PlainSource final : public ByteSource {
 public:
  PlainSource(const std::string& path, std::uint64_t begin)
      : _f(path), _off(begin), _start(begin) {}
  std::size_t read(char* dst, std::size_t n) override {
    const std::size_t r = _f.pread(dst, n, _off);
    _off += r;
    return r;
  }
  std::uint64_t rawConsumed() const override { return _off - _start; }

 private:
  File _f;
  std::uint64_t _off, _start;
};

/// Compressed input buffered from a file. The buffer is at most kChunk and no larger than the
/// file (`bytes`, the shard's size; 0 when unknown), left uninitialised: opening many small
/// compressed shards (or pieces) then costs no 1 MiB zeroing each.
class RawInput {
 public:
  RawInput(const std::string& path, std::uint64_t bytes)
      : _f(path),
        _cap(bytes == 0 ? kChunk
                        : static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, bytes))),
        _buf(new char[_cap]) {}
  /// Refill when empty; returns false at end of file.
  bool ensure() {
    if (_pos < _len) return true;
    _len = _f.pread(_buf.get(), _cap, _off);
    _off += _len;
    _pos = 0;
    return _len > 0;
  }
  const char* data() const { return _buf.get() + _pos; }
  std::size_t avail() const { return _len - _pos; }
  void consume(std::size_t n) { _pos += n; }
  std::uint64_t consumed() const { return _off - (_len - _pos); }
  const std::string& path() const { return _f.path(); }

 private:
  File _f;
  std::size_t _cap;
  std::unique_ptr<char[]> _buf;
  std::size_t _pos = 0, _len = 0;
  std::uint64_t _off = 0;
};

class GzipSource final : public ByteSource {
 public:
  GzipSource(const std::string& path, std::uint64_t bytes) : _in(path, bytes) {
    std::memset(&_z, 0, sizeof _z);
    if (inflateInit2(&_z, 16 + MAX_WBITS) != Z_OK)
      fail("readShard", "'{}': cannot initialise zlib", path);
  }
  ~GzipSource() override { inflateEnd(&_z); }
  std::size_t read(char* dst, std::size_t n) override {
    std::size_t produced = 0;
    while (produced < n && !_finished) {
      if (!_in.ensure()) {
        if (_inMember)
          fail("readShard", "'{}': truncated gzip stream (ended inside a member after {} bytes)",
               _in.path(), _in.consumed());
        _finished = true;
        break;
      }
      if (!_inMember) {  // a new member must start with the gzip magic
        const auto* p = reinterpret_cast<const unsigned char*>(_in.data());
        if (_in.avail() >= 1 && p[0] != 0x1f)
          fail("readShard", "'{}': not gzip data at byte {} (trailing garbage?)", _in.path(),
               _in.consumed());
        _inMember = true;
      }
      _z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(_in.data()));
      _z.avail_in = static_cast<uInt>(_in.avail());
      _z.next_out = reinterpret_cast<Bytef*>(dst + produced);
      _z.avail_out = static_cast<uInt>(std::min<std::size_t>(n - produced, 1u << 30));
      const int rc = inflate(&_z, Z_NO_FLUSH);
      const std::size_t used = _in.avail() - _z.avail_in;
      produced = static_cast<std::size_t>(reinterpret_cast<char*>(_z.next_out) - dst);
      _in.consume(used);
      if (rc == Z_STREAM_END) {
        _inMember = false;
        inflateReset(&_z);
      } else if (rc != Z_OK && !(rc == Z_BUF_ERROR && used == 0 && _in.avail() == 0)) {
        fail("readShard", "'{}': corrupt gzip data near byte {}: {}", _in.path(), _in.consumed(),
             _z.msg ? _z.msg : zError(rc));
      }
    }
    return produced;
  }
  std::uint64_t rawConsumed() const override { return _in.consumed(); }

 private:
  RawInput _in;
  z_stream _z;
  bool _inMember = false;
  bool _finished = false;
};

// Decompression contexts are reused across shards, one free list per thread: a context keeps
// its window buffer (up to 8 MiB for level-19 frames, 128 MiB at zstd's window limit) through
// ZSTD_DCtx_reset, so a rank reading many small shards, or a fuzzer reading one per input, does
// not allocate, fault in and free a window per shard. A list, not one context, because two
// readers can be open at once on one thread.
class DStreamPool {
 public:
  ~DStreamPool() {
    for (ZSTD_DStream* d : _free) ZSTD_freeDStream(d);
  }
  ZSTD_DStream* acquire() {
    if (_free.empty()) return ZSTD_createDStream();
    ZSTD_DStream* d = _free.back();
    _free.pop_back();
    return d;
  }
  void release(ZSTD_DStream* d) {
    if (!d) return;
    // A context left mid-frame by an error or an early close starts clean for the next shard.
    if (ZSTD_isError(ZSTD_DCtx_reset(d, ZSTD_reset_session_only)) || _free.size() >= kKeep)
      ZSTD_freeDStream(d);
    else
      _free.push_back(d);
  }

 private:
  static constexpr std::size_t kKeep = 4;
  std::vector<ZSTD_DStream*> _free;
};

DStreamPool& dstreamPool() {
  thread_local DStreamPool pool;
  return pool;
}

class ZstdSource final : public ByteSource {
 public:
  ZstdSource(const std::string& path, std::uint64_t bytes)
      : _in(path, bytes), _d(dstreamPool().acquire()) {
    if (!_d) fail("readShard", "'{}': cannot create a zstd stream", path);
    ZSTD_initDStream(_d);
  }
  ~ZstdSource() override { dstreamPool().release(_d); }
  ZstdSource(const ZstdSource&) = delete;
  ZstdSource& operator=(const ZstdSource&) = delete;
  std::size_t read(char* dst, std::size_t n) override {
    ZSTD_outBuffer out{dst, n, 0};
    while (out.pos < n && !_finished) {
      if (!_in.ensure()) {
        if (_pendingFrame)
          fail("readShard", "'{}': truncated zstd stream (ended inside a frame after {} bytes)",
               _in.path(), _in.consumed());
        _finished = true;
        break;
      }
      ZSTD_inBuffer in{_in.data(), _in.avail(), 0};
      const std::size_t rc = ZSTD_decompressStream(_d, &out, &in);
      _in.consume(in.pos);
      if (ZSTD_isError(rc))
        fail("readShard", "'{}': corrupt zstd data near byte {}: {}", _in.path(), _in.consumed(),
             ZSTD_getErrorName(rc));
      _pendingFrame = rc != 0;
    }
    return out.pos;
  }
  std::uint64_t rawConsumed() const override { return _in.consumed(); }

 private:
  RawInput _in;
  ZSTD_DStream* _d;
  bool _pendingFrame = false;
  bool _finished = false;
};

}  // namespace

std::unique_ptr<ByteSource> openByteSource(const ShardInfo& shard, std::uint64_t begin,
                                           std::uint64_t /*end*/) {
  switch (shard.compression) {
    case Compression::Gzip: return std::make_unique<GzipSource>(shard.path, shard.bytes);
    case Compression::Zstd: return std::make_unique<ZstdSource>(shard.path, shard.bytes);
    case Compression::None: break;
  }
  return std::make_unique<PlainSource>(shard.path, begin);
}

LineReader::LineReader(const ShardInfo& shard, const Piece& piece, std::uint64_t maxLineBytes)
    : _maxLine(maxLineBytes), _shard(&shard) {
  const bool ranged = shard.compression == Compression::None;
  // A range not at the start begins one byte early so that a line starting exactly at `begin`
  // (the previous byte is '\n') is kept while a partial line is skipped.
  const std::uint64_t start = (ranged && piece.begin > 0) ? piece.begin - 1 : 0;
  _src = openByteSource(shard, start, piece.end);
  _pos = start;
  _stopAt = ranged ? piece.end : UINT64_MAX;
  _started = !(ranged && piece.begin > 0);
  _buf.resize(std::min<std::uint64_t>(kChunk, maxLineBytes + 1) + kPadding);
}

bool LineReader::fill() {
  if (_eof) return false;
  if (_head > 0) {  // compact
    std::memmove(_buf.data(), _buf.data() + _head, _tail - _head);
    _tail -= _head;
    _head = 0;
  }
  const std::size_t cap = _buf.size() - kPadding;
  if (_tail == cap) {  // grow (bounded by the line limit + 1, checked by the caller)
    _buf.resize(std::min<std::size_t>(2 * cap, _maxLine + 1) + kPadding);
  }
  const std::size_t want = _buf.size() - kPadding - _tail;
  const std::size_t got = _src->read(_buf.data() + _tail, want);
  if (got == 0) {
    _eof = true;
    return false;
  }
  _tail += got;
  return true;
}

bool LineReader::next(Line& out) {
  if (_done) return false;
  if (!_started) {  // skip through the first newline
    for (;;) {
      char* nl = static_cast<char*>(std::memchr(_buf.data() + _head, '\n', _tail - _head));
      if (nl) {
        const std::size_t adv = static_cast<std::size_t>(nl - (_buf.data() + _head)) + 1;
        _head += adv;
        _pos += adv;
        break;
      }
      _pos += _tail - _head;
      _head = _tail;
      if (!fill()) {
        _done = true;
        return false;
      }
    }
    _started = true;
  }
  if (_pos >= _stopAt) {
    _done = true;
    return false;
  }
  std::size_t scanned = 0;  // bytes of the current line already searched
  for (;;) {
    const std::size_t have = _tail - _head;
    char* base = _buf.data() + _head;
    char* nl = static_cast<char*>(std::memchr(base + scanned, '\n', have - scanned));
    if (nl) {
      std::size_t len = static_cast<std::size_t>(nl - base);
      _head += len + 1;
      _pos += len + 1;
      if (len > _maxLine) {
        out = Line{{}, len, true};
        return true;
      }
      if (len > 0 && base[len - 1] == '\r') --len;
      out = Line{{base, len}, len, false};
      return true;
    }
    scanned = have;
    if (have > _maxLine) {  // too long: drain to the newline without buffering it
      std::uint64_t len = have;
      _pos += have;
      _head = _tail;
      for (;;) {
        if (!fill()) break;
        char* b = _buf.data() + _head;
        char* n2 = static_cast<char*>(std::memchr(b, '\n', _tail - _head));
        if (n2) {
          const std::size_t part = static_cast<std::size_t>(n2 - b);
          len += part;
          _head += part + 1;
          _pos += part + 1;
          break;
        }
        len += _tail - _head;
        _pos += _tail - _head;
        _head = _tail;
      }
      out = Line{{}, len, true};
      return true;
    }
    if (!fill()) {  // end of stream: a final unterminated line
      const std::size_t len = _tail - _head;
      if (len == 0) {
        _done = true;
        return false;
      }
      base = _buf.data() + _head;
      _head = _tail;
      _pos += len;
      std::size_t l = len;
      if (base[l - 1] == '\r') --l;
      out = Line{{base, l}, len, false};
      return true;
    }
  }
}

}  // namespace cleanmix
