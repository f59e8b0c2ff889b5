#include "cleanmix/tokenize/bpe.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <queue>

#include "cleanmix/core/error.hpp"

namespace cleanmix {
namespace {
constexpr std::size_t kCachedBytes = 32;  ///< pieces up to this long are cached per thread
constexpr std::size_t kCachedIds = 16;    ///< ... when they merge into at most this many tokens
/// Slot of a (left, right) pair key: a multiplicative hash (the keys are small integers).
inline std::uint64_t pairSlot(std::uint64_t key, std::uint64_t mask) {
  key ^= key >> 29;
  key *= 0xBF58476D1CE4E5B9ull;
  return (key ^ (key >> 32)) & mask;
}
}  // namespace

// ---- ByteBpe ----------------------------------------------------------------------------------

void ByteBpe::setVocab(std::vector<std::string> bytes, const std::string& what) {
  _bytes = std::move(bytes);
  std::size_t used = 0;
  for (const auto& b : _bytes) used += b.empty() ? 0 : 1;
  const std::uint64_t cap = std::bit_ceil(std::max<std::uint64_t>(16, used * 2));
  _byHash.assign(cap, 0);
  _byHashMask = cap - 1;
  for (std::uint32_t id = 0; id < _bytes.size(); ++id) {
    const std::string& b = _bytes[id];
    if (b.empty()) continue;
    std::uint64_t s = XXH3_64bits(b.data(), b.size()) & _byHashMask;
    while (_byHash[s] != 0) {
      if (_bytes[_byHash[s] - 1] == b)
        configFail("tokenizer", "{}: token ids {} and {} have the same bytes", what, _byHash[s] - 1,
                   id);
      s = (s + 1) & _byHashMask;
    }
    _byHash[s] = id + 1;
  }
  for (int c = 0; c < 256; ++c) {
    const char ch = static_cast<char>(c);
    const std::int64_t id = find(std::string_view(&ch, 1));
    if (id < 0)
      configFail("tokenizer",
                 "{}: byte 0x{:02x} is not a token (a byte-level BPE vocabulary has all 256)", what,
                 c);
    _byteId[c] = static_cast<std::uint32_t>(id);
  }
}

std::int64_t ByteBpe::find(std::string_view b) const {
  if (_byHash.empty()) return -1;
  std::uint64_t s = XXH3_64bits(b.data(), b.size()) & _byHashMask;
  while (const std::uint32_t v = _byHash[s]) {
    if (_bytes[v - 1] == b) return v - 1;
    s = (s + 1) & _byHashMask;
  }
  return -1;
}

void ByteBpe::insertPair(std::uint64_t key, std::uint64_t value) {
  if ((_pairCount + 1) * 2 > _pairs.size()) {  // grow: keep the load under 1/2
    std::vector<Slot> old = std::move(_pairs);
    _pairs.assign(std::max<std::size_t>(1024, old.size() * 2), Slot{});
    _pairMask = _pairs.size() - 1;
    _pairCount = 0;
    for (const Slot& s : old)
      if (s.key != ~0ull) insertPair(s.key, s.value);
  }
  std::uint64_t s = pairSlot(key, _pairMask);
  while (_pairs[s].key != ~0ull && _pairs[s].key != key) s = (s + 1) & _pairMask;
  if (_pairs[s].key == ~0ull) ++_pairCount;
  _pairs[s] = {key, value};
}

std::uint64_t ByteBpe::lookupPair(std::uint32_t a, std::uint32_t b) const {
  const std::uint64_t key = std::uint64_t{a} << 32 | b;
  std::uint64_t s = pairSlot(key, _pairMask);
  while (_pairs[s].key != ~0ull) {
    if (_pairs[s].key == key) return _pairs[s].value;
    s = (s + 1) & _pairMask;
  }
  return ~0ull;
}

void ByteBpe::deriveTiktokenMerges() {
  for (std::uint32_t id = 0; id < _bytes.size(); ++id) {
    const std::string_view t = _bytes[id];
    for (std::size_t k = 1; k < t.size(); ++k) {
      const std::int64_t x = find(t.substr(0, k)), y = find(t.substr(k));
      if (x >= 0 && y >= 0)
        insertPair(static_cast<std::uint64_t>(x) << 32 | static_cast<std::uint64_t>(y),
                   std::uint64_t{id} << 32 | id);
    }
  }
  finishMerges();
}

void ByteBpe::addMerge(std::uint32_t left, std::uint32_t right, std::uint32_t rank,
                       std::uint32_t result) {
  insertPair(std::uint64_t{left} << 32 | right, std::uint64_t{rank} << 32 | result);
}

void ByteBpe::finishMerges() {
  if (_pairs.empty()) {
    _pairs.assign(1024, Slot{});
    _pairMask = 1023;
  }
}

void ByteBpe::encode(std::string_view piece, std::uint32_t base, std::vector<std::uint64_t>& ids,
                     std::vector<TokenSpan>* spans) const {
  const std::size_t n = piece.size();
  if (n == 0) return;
  auto emit = [&](std::uint32_t id, std::uint32_t b, std::uint32_t e) {
    ids.push_back(id);
    if (spans) spans->push_back({base + b, base + e});
  };
  if (n == 1) return emit(_byteId[static_cast<unsigned char>(piece[0])], 0, 1);
  if (n > 128) {
    if (wholeLookup)
      if (const std::int64_t id = find(piece); id >= 0)
        return emit(static_cast<std::uint32_t>(id), 0, static_cast<std::uint32_t>(n));
    return encodeLong(piece, base, ids, spans);
  }
  // A direct-mapped per-thread cache of short pieces (natural text repeats its words): the
  // merge result of a piece depends only on its bytes.
  struct CacheEntry {
    const ByteBpe* owner = nullptr;
    std::uint64_t hash = 0;
    std::uint8_t len = 0, count = 0;
    char bytes[kCachedBytes];
    std::uint32_t ids[kCachedIds];
    std::uint8_t ends[kCachedIds];
  };
  thread_local std::vector<CacheEntry> cache(std::size_t{1} << 16);  // 8.5 MB per thread
  const std::uint64_t h = n <= kCachedBytes ? XXH3_64bits(piece.data(), n) : 0;
  CacheEntry* ce = n <= kCachedBytes ? &cache[h & (cache.size() - 1)] : nullptr;
  if (ce && ce->owner == this && ce->hash == h && ce->len == n &&
      std::memcmp(ce->bytes, piece.data(), n) == 0) {
    std::uint32_t b = 0;
    for (std::uint8_t i = 0; i < ce->count; ++i) {
      emit(ce->ids[i], b, ce->ends[i]);
      b = ce->ends[i];
    }
    return;
  }
  if (wholeLookup)
    if (const std::int64_t id = find(piece); id >= 0) {
      if (ce) {
        ce->owner = this;
        ce->hash = h;
        ce->len = static_cast<std::uint8_t>(n);
        ce->count = 1;
        std::memcpy(ce->bytes, piece.data(), n);
        ce->ids[0] = static_cast<std::uint32_t>(id);
        ce->ends[0] = static_cast<std::uint8_t>(n);
      }
      return emit(static_cast<std::uint32_t>(id), 0, static_cast<std::uint32_t>(n));
    }
  // Short pieces: tiktoken's scheme, one rank per adjacent pair, rescanned for the minimum.
  std::uint32_t sym[128], start[129];
  std::uint64_t rank[128];  // rank[i]: of the pair (i, i+1), as rank<<32 | merged id
  std::size_t m = n;
  for (std::size_t i = 0; i < n; ++i) {
    sym[i] = _byteId[static_cast<unsigned char>(piece[i])];
    start[i] = static_cast<std::uint32_t>(i);
  }
  start[n] = static_cast<std::uint32_t>(n);
  for (std::size_t i = 0; i + 1 < m; ++i) rank[i] = lookupPair(sym[i], sym[i + 1]);
  while (m > 1) {
    std::size_t best = 0;
    std::uint64_t bestRank = ~0ull;
    for (std::size_t i = 0; i + 1 < m; ++i)
      if ((rank[i] >> 32) < (bestRank >> 32)) {
        bestRank = rank[i];
        best = i;
      }
    if (bestRank == ~0ull) break;
    sym[best] = static_cast<std::uint32_t>(bestRank);
    for (std::size_t i = best + 1; i + 1 < m; ++i) {
      sym[i] = sym[i + 1];
      start[i] = start[i + 1];
      rank[i] = rank[i + 1];
    }
    start[m - 1] = start[m];
    --m;
    if (best + 1 < m) rank[best] = lookupPair(sym[best], sym[best + 1]);
    if (best > 0) rank[best - 1] = lookupPair(sym[best - 1], sym[best]);
  }
  for (std::size_t i = 0; i < m; ++i) emit(sym[i], start[i], start[i + 1]);
  if (ce && m <= kCachedIds) {
    ce->owner = this;
    ce->hash = h;
    ce->len = static_cast<std::uint8_t>(n);
    ce->count = static_cast<std::uint8_t>(m);
    std::memcpy(ce->bytes, piece.data(), n);
    for (std::size_t i = 0; i < m; ++i) {
      ce->ids[i] = sym[i];
      ce->ends[i] = static_cast<std::uint8_t>(start[i + 1]);
    }
  }
}

void ByteBpe::encodeLong(std::string_view piece, std::uint32_t base,
                         std::vector<std::uint64_t>& ids, std::vector<TokenSpan>* spans) const {
  // Long pieces: a linked list of symbols and a min-heap of (rank, position); the same merge
  // order (lowest rank, then leftmost) in O(n log n). Stale heap entries fail validation.
  const std::size_t n = piece.size();
  std::vector<std::uint32_t> sym(n), next(n), prev(n);
  for (std::size_t i = 0; i < n; ++i) {
    sym[i] = _byteId[static_cast<unsigned char>(piece[i])];
    next[i] = static_cast<std::uint32_t>(i + 1);
    prev[i] = static_cast<std::uint32_t>(i - 1);  // wraps for i = 0: never followed
  }
  struct Entry {
    std::uint64_t rank;  // rank << 32 | merged id
    std::uint32_t pos, left, right;
    bool operator>(const Entry& o) const {
      return (rank >> 32) != (o.rank >> 32) ? (rank >> 32) > (o.rank >> 32) : pos > o.pos;
    }
  };
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap;
  auto push = [&](std::uint32_t i) {
    const std::uint32_t j = next[i];
    if (j >= n) return;
    const std::uint64_t r = lookupPair(sym[i], sym[j]);
    if (r != ~0ull) heap.push({r, i, sym[i], sym[j]});
  };
  for (std::uint32_t i = 0; i + 1 < n; ++i) push(i);
  std::vector<std::uint8_t> alive(n, 1);
  while (!heap.empty()) {
    const Entry e = heap.top();
    heap.pop();
    const std::uint32_t i = e.pos, j = next[i];
    if (!alive[i] || j >= n || sym[i] != e.left || sym[j] != e.right) continue;
    sym[i] = static_cast<std::uint32_t>(e.rank);
    alive[j] = 0;
    next[i] = next[j];
    if (next[j] < n) prev[next[j]] = i;
    push(i);
    if (i > 0) push(prev[i]);
  }
  for (std::uint32_t i = 0; i < n; i = next[i])
    ids.push_back(sym[i]), spans ? spans->push_back({base + i, base + next[i]}) : void();
}

// ---- RegexSplitter ----------------------------------------------------------------------------

std::string translatePattern(std::string_view p, const std::string& what) {
  static constexpr std::string_view kSpace = "\\t-\\r\\x{85}\\p{Z}";  // Unicode White_Space
  std::string out;
  bool inClass = false;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char d = p[++i];
      if (d == 's') {
        out += inClass ? std::string(kSpace) : "[" + std::string(kSpace) + "]";
      } else if (d == 'S') {
        if (inClass)
          configFail("tokenizer", "{}: \\S inside a character class is not supported", what);
        out += "[^" + std::string(kSpace) + "]";
      } else {
        out += c;
        out += d;
      }
      continue;
    }
    if (!inClass && c == '[') {
      inClass = true;
      out += c;
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];  // a leading ] is literal
      continue;
    }
    if (inClass && c == ']') inClass = false;
    out += c;
  }
  return out;
}

namespace {

/// One match data block and JIT stack per thread (PCRE2's are not shareable).
struct MatchState {
  pcre2_match_data* md = pcre2_match_data_create(4, nullptr);
  pcre2_match_context* mc = pcre2_match_context_create(nullptr);
  pcre2_jit_stack* js = pcre2_jit_stack_create(32 << 10, 16 << 20, nullptr);
  MatchState() { pcre2_jit_stack_assign(mc, nullptr, js); }
  ~MatchState() {
    pcre2_jit_stack_free(js);
    pcre2_match_context_free(mc);
    pcre2_match_data_free(md);
  }
};

std::size_t utf8Len(unsigned char c) {
  return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

}  // namespace

namespace {
bool isCl100kPattern(std::string_view p);
}  // namespace

RegexSplitter::RegexSplitter(std::string_view pattern, const std::string& what)
    : _source(pattern), _fast(isCl100kPattern(pattern)) {
  const std::string pcre = translatePattern(pattern, what);
  int err = 0;
  PCRE2_SIZE off = 0;
  auto* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pcre.data()), pcre.size(),
                             PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &err, &off, nullptr);
  if (!code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    configFail("tokenizer", "{}: split pattern does not compile at offset {}: {}", what, off,
               reinterpret_cast<const char*>(msg));
  }
  if (pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) != 0) {
    pcre2_code_free(code);
    configFail("tokenizer", "{}: PCRE2 JIT is not available for the split pattern", what);
  }
  _code = code;
}

namespace {
constexpr std::string_view kCl100kPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

enum AsciiClass : std::uint8_t { kLetter, kDigit, kSpace, kPunct, kHigh };
constexpr std::array<std::uint8_t, 256> makeClasses() {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c)
    t[c] = c >= 0x80                                          ? kHigh
           : (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ? kLetter
           : c >= '0' && c <= '9'                             ? kDigit
           : c == ' ' || (c >= 9 && c <= 13)                  ? kSpace
                                                              : kPunct;
  return t;
}
constexpr auto kClass = makeClasses();
bool isCl100kPattern(std::string_view p) {
  return p == kCl100kPattern;
}
}  // namespace

bool RegexSplitter::fastNext(std::string_view t, std::size_t i, std::size_t& e) const {
  const std::size_t n = t.size();
  auto cls = [&](std::size_t k) { return kClass[static_cast<unsigned char>(t[k])]; };
  auto lower = [&](std::size_t k) { return static_cast<char>(t[k] | 0x20); };
  const std::uint8_t c = cls(i);
  if (c == kHigh) return false;
  // 1. (?i:'s|'t|'re|'ve|'m|'ll|'d)
  if (t[i] == '\'' && i + 1 < n) {
    if (cls(i + 1) == kHigh) return false;  // 'ſ' folds to s
    const char a = lower(i + 1);
    if (cls(i + 1) == kLetter && (a == 's' || a == 't' || a == 'm' || a == 'd')) {
      e = i + 2;
      return true;
    }
    if (cls(i + 1) == kLetter && i + 2 < n) {
      if (cls(i + 2) == kHigh) return false;
      const char b = lower(i + 2);
      if (cls(i + 2) == kLetter &&
          ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))) {
        e = i + 3;
        return true;
      }
    }
  }
  // 2. [^\r\n\p{L}\p{N}]?\p{L}+
  auto letters = [&](std::size_t k) -> std::size_t {  // end of the letter run at k; 0: unsure
    while (k < n && cls(k) == kLetter) ++k;
    return k < n && cls(k) == kHigh ? 0 : k;
  };
  if (c == kLetter) {
    e = letters(i);
    return e != 0;
  }
  if (c != kDigit && t[i] != '\r' && t[i] != '\n' && i + 1 < n) {
    if (cls(i + 1) == kHigh) return false;
    if (cls(i + 1) == kLetter) {
      e = letters(i + 1);
      return e != 0;
    }
  }
  // 3. \p{N}{1,3}
  if (c == kDigit) {
    std::size_t k = i;
    while (k < n && k < i + 3 && cls(k) == kDigit) ++k;
    if (k < i + 3 && k < n && cls(k) == kHigh) return false;  // a non-ASCII digit may follow
    e = k;
    return true;
  }
  // 4. ' ?[^\s\p{L}\p{N}]+[\r\n]*'
  auto punctRun = [&](std::size_t k) -> std::size_t {  // k at a punct; 0: unsure
    while (k < n && cls(k) == kPunct) ++k;
    if (k < n && cls(k) == kHigh) return 0;
    while (k < n && (t[k] == '\r' || t[k] == '\n')) ++k;
    return k;
  };
  if (c == kPunct) {
    e = punctRun(i);
    return e != 0;
  }
  // c is white space from here
  if (t[i] == ' ' && i + 1 < n && cls(i + 1) == kPunct) {
    e = punctRun(i + 1);
    return e != 0;
  }
  std::size_t j = i;  // the white-space run [i, j)
  while (j < n && cls(j) == kSpace) ++j;
  if (j < n && cls(j) == kHigh) return false;  // may be a Unicode space
  // 5. \s*[\r\n]+ : up to the run's last \r or \n
  for (std::size_t k = j; k > i; --k)
    if (t[k - 1] == '\r' || t[k - 1] == '\n') {
      e = k;
      return true;
    }
  // 6. \s+(?!\S), 7. \s+
  if (j == n || j - i == 1) {
    e = j;
    return true;
  }
  e = j - 1;
  return true;
}

RegexSplitter::~RegexSplitter() {
  pcre2_code_free(static_cast<pcre2_code*>(_code));
}

bool RegexSplitter::next(std::string_view text, std::size_t at, std::size_t& b,
                         std::size_t& e) const {
  thread_local MatchState st;
  auto* code = static_cast<pcre2_code*>(_code);
  const auto* subj = reinterpret_cast<PCRE2_SPTR>(text.data());
  while (at < text.size()) {
    const int rc = pcre2_jit_match(code, subj, text.size(), at, PCRE2_NO_UTF_CHECK, st.md, st.mc);
    if (rc == PCRE2_ERROR_NOMATCH) return false;
    if (rc < 0) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof msg);
      fail("tokenizer", "split pattern match failed: {}", reinterpret_cast<const char*>(msg));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(st.md);
    if (ov[1] > ov[0]) {
      b = ov[0];
      e = ov[1];
      return true;
    }
    at = ov[0] + utf8Len(static_cast<unsigned char>(text[ov[0]]));  // empty match: step on
  }
  return false;
}

}  // namespace cleanmix
