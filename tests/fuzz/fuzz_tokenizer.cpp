// libFuzzer harness for the words tokenizer: any bytes are repaired to UTF-8 and tokenized; the
// segment-wise normalisation must equal one utf8proc call on the whole string, the block
// scanners must equal the bytewise ones, and the outputs must be self-consistent.
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <string>

#include "cleanmix/io/jsonl.hpp"
#include "cleanmix/tokenize/words.hpp"

using namespace cleanmix;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text;
  repairUtf8(std::string_view(reinterpret_cast<const char*>(data), size), text);
  std::string fast;
  normalizeText(text, fast);
  if (fast != normalizeTextReference(text)) __builtin_trap();
  TokenizedDoc d;
  WordsTokenizer().tokenize(text, d, true);
  if (d.lens.size() != d.ids.size()) __builtin_trap();
  const std::uint64_t inSentences = std::accumulate(d.sentLens.begin(), d.sentLens.end(), 0ull);
  if (inSentences != d.ids.size()) __builtin_trap();
  const std::uint64_t bytes = std::accumulate(d.lens.begin(), d.lens.end(), 0ull);
  if (bytes > d.norm.size()) __builtin_trap();
  std::vector<std::uint64_t> words, wordsRef;
  wordHashes(d.norm, words);
  if (words.size() > d.ids.size()) __builtin_trap();
  wordHashesReference(d.norm, wordsRef);  // the block scanner equals the bytewise one
  if (words != wordsRef) __builtin_trap();
  // The block scanner from the start positions of every run. The reference is a forward scan with
  // no look-behind, so every j in [i, r) of a run that ends at r = reference(i) ends at r too: one
  // reference call per run keeps this linear (per start position, it was quadratic in the run
  // length and took most of the harness's time).
  for (const std::string* t : {&text, &d.norm}) {
    const char* p = t->data();
    const std::size_t n = t->size();
    for (std::size_t i = 0; i <= n;) {
      const std::size_t r = asciiWordRunEndReference(p, i, n);
      // Inside a long run, the scanner's path from j depends only on (r - j) mod 8 and on
      // whether the final block would pass n, all of which the first and last 32 starts
      // cover; the middle is sampled (every 61st) so that long runs stay linear.
      std::size_t j = i;
      do {  // at least i itself: where no run starts, r == i
        if (asciiWordRunEnd(p, j, n) != r) __builtin_trap();
        j = (j - i < 32 || r - j <= 32) ? j + 1 : std::min(j + 61, r - 32);
      } while (j < r);
      i = r > i ? r : i + 1;
    }
  }
  return 0;
}
