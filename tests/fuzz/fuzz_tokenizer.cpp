// libFuzzer harness for the words tokenizer: any bytes are repaired to UTF-8 and tokenized; the
// segment-wise normalisation must equal one utf8proc call on the whole string, the block
// scanners must equal the bytewise ones, and the outputs must be self-consistent.
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
  for (const std::string* t : {&text, &d.norm})
    for (std::size_t i = 0; i <= t->size(); ++i)
      if (asciiWordRunEnd(t->data(), i, t->size()) !=
          asciiWordRunEndReference(t->data(), i, t->size()))
        __builtin_trap();
  return 0;
}
