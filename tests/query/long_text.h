// Generated long documents shared by the ingest crash test and its child.
#ifndef FLASHEMBED_TESTS_QUERY_LONG_TEXT_H_
#define FLASHEMBED_TESTS_QUERY_LONG_TEXT_H_

#include <cctype>
#include <iterator>
#include <random>
#include <string>

#include "query/database.h"

namespace flashembed::testing {

inline constexpr size_t kCrashChunkTokens = 40;

// A deterministic multi-paragraph text of about `words` words.
inline std::string LongText(uint32_t seed, size_t words) {
  static const char* kWords[] = {"river",   "engine", "garden", "signal",  "copper",  "winter",
                                 "lantern", "harbor", "meadow", "circuit", "granite", "violin",
                                 "orbit",   "canyon", "pepper", "falcon",  "quartz",  "ribbon",
                                 "tunnel",  "saddle", "marble", "thunder", "walnut",  "beacon"};
  std::mt19937 rng(seed);
  std::string text;
  size_t in_sentence = 0, in_paragraph = 0;
  for (size_t w = 0; w < words; ++w) {
    std::string word = kWords[rng() % std::size(kWords)];
    if (in_sentence == 0) word[0] = static_cast<char>(std::toupper(word[0]));
    text += word;
    ++in_sentence;
    if (in_sentence >= 8 + rng() % 10) {
      text += ".";
      in_sentence = 0;
      if (++in_paragraph >= 4) {
        text += "\n\n";
        in_paragraph = 0;
        continue;
      }
    }
    text += " ";
  }
  return text;
}

// Document i of the crash test: 100..1000 words.
inline SourceDocument CrashDocument(int i) {
  return {.id = "doc-" + std::to_string(i),
          .text = LongText(1000 + static_cast<uint32_t>(i), 100 + (i * 37) % 900),
          .source = "generated/" + std::to_string(i) + ".txt",
          .title = "Document " + std::to_string(i),
          .metadata = "{\"i\":" + std::to_string(i) + "}"};
}

}  // namespace flashembed::testing

#endif  // FLASHEMBED_TESTS_QUERY_LONG_TEXT_H_
