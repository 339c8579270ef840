// Chunker: cuts a long text into overlapping windows of model tokens that
// end at sentence ends where possible, for encoders that see at most a few
// hundred tokens.
//
// Every chunk is a byte range [begin, end) of the ORIGINAL text and `text` is
// exactly text.substr(begin, end - begin): no normalisation, no joining. A
// chunk starts at the first byte of a model token and ends at the last byte
// of one, so it never starts or ends inside a UTF-8 sequence and carries no
// surrounding whitespace.
//
// Algorithm. The encoder's TokenSpans gives the tokens t[0..n). Every cut
// between t[i-1] and t[i] gets a level from what lies between them, strongest
// first:
//   kParagraph     a blank line (two or more line breaks), a form feed or
//                  U+2029 PARAGRAPH SEPARATOR;
//   kSentenceLine  a line break after a sentence end;
//   kLine          any other line break (\n, \r\n, \r, U+2028), except a
//                  wrapped line: a break followed by a lowercase ASCII letter
//                  that does not end a sentence counts as kWord;
//   kSentence      a sentence end: '.', '!', '?' or U+2026 '…' followed by
//                  whitespace (not followed by a lowercase ASCII letter, so
//                  "e.g. this" stays whole), or a CJK / fullwidth terminator
//                  U+3002 '。' U+FF01 '！' U+FF1F '？' U+FF1B '；' U+FF0E '．'
//                  U+FF61 '｡' with or without whitespace; closing quotes and
//                  brackets after the terminator stay with its sentence;
//   kWord          whitespace (or characters the tokenizer drops);
//   kToken         adjacent tokens of different words (punctuation, CJK
//                  characters, "foo/bar");
//   kMidWord       inside one word (TokenSpan::continues_word);
//   (none)         between tokens that share bytes (made from one
//                  character); never cut.
// With C = chunk_tokens and O = overlap_tokens, a chunk starting at token s
// ends at the strongest cut in [s + ceil(C/2), s + C] (the latest one among
// equals), or at n when s + C >= n. So a chunk is at least half full unless
// it is the last one, and it is cut inside a word only when the second half
// of its window is a single word (a long URL, base64, a run of letters).
// The next chunk starts at the strongest cut in [end - O, end - ceil(O/2)]
// (the earliest among equals, giving the larger overlap), so consecutive
// chunks share between ceil(O/2) and O tokens, and a sentence or paragraph
// start is preferred to a larger overlap (ceil(O/2) is not reached only
// where no cut is possible). Each chunk starts after the previous one's start
// and no later than its end, so the chunks cover every token; a chunk ends
// past the previous one's end (unless shortened as below), so there are at
// most about n / (C/2 - O) + 1 of them.
//
// A chunk whose edge is a kMidWord cut is tokenized again (a text starting
// mid-word may tokenize into more tokens than it had inside the word) and
// shortened until it fits in C; a chunk with whole-word edges tokenizes into
// exactly its own tokens. So for every chunk token_count <= C, and the encoder
// sees at most C + special_tokens() <= max_tokens() tokens: nothing is
// truncated.
//
// Cost: one TokenSpans pass over the text, O(n) cut levels, one copy of each
// chunk's text; chunking adds little to tokenizing (see
// tools/bench/chunker_bench.cc). Deterministic: equal inputs give equal
// chunks.
//
// Thread-safety: a Chunker is immutable; Split() is const and safe to call
// from many threads at once if the encoder's TokenSpans is (both built-in
// encoders' are).
#ifndef FLASHEMBED_ENCODERS_CHUNKER_H_
#define FLASHEMBED_ENCODERS_CHUNKER_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "encoders/encoder.h"

namespace flashembed::encoders {

// Options of a Chunker. Not persisted by the encoders module; a collection
// that stores chunks should record the resolved sizes with them.
struct ChunkOptions {
  // Default chunk_tokens is the cap for encoders whose max_tokens() is at most
  // kShortContextTokens (BERT-family models, and encoders that report no
  // limit): the model's maximum, capped at 256 for short-context models.
  static constexpr size_t kShortContextTokens = 512;
  static constexpr size_t kShortContextCap = 256;

  // Most model tokens per chunk, special tokens not counted. 0 (default) =
  // the encoder's max_tokens() - special_tokens(), capped at
  // kShortContextCap when max_tokens() <= kShortContextTokens; 256 for an
  // encoder with max_tokens() 0 (unknown). Must be at most
  // max_tokens() - special_tokens() when max_tokens() > 0.
  size_t chunk_tokens = 0;
  // Tokens two consecutive chunks share, at most (at least half as many).
  // Unset (default) = 15% of chunk_tokens, rounded down. Must be at most
  // chunk_tokens / 2 (rounded down).
  std::optional<size_t> overlap_tokens;
};

struct Chunk {
  size_t ordinal = 0;      // position among the text's chunks: 0, 1, 2, ...
  size_t begin = 0;        // byte offset of the chunk in the original text
  size_t end = 0;          // byte offset one past the chunk's last byte
  size_t token_count = 0;  // tokens the encoder makes of `text`, specials excluded
  std::string text;        // == original.substr(begin, end - begin)

  friend bool operator==(const Chunk&, const Chunk&) = default;
};

class Chunker {
 public:
  // Resolves `options` against `encoder` (see ChunkOptions). InvalidArgument
  // naming the values for a chunk_tokens the encoder cannot take in full or an
  // overlap_tokens above chunk_tokens / 2; NotSupported if the encoder cannot
  // report token spans. REQUIRES: `encoder` outlives the Chunker.
  static Result<Chunker> Create(const TextEncoder& encoder, const ChunkOptions& options);

  // The chunks of `text`, in order (see the file comment). No chunks for a
  // text without tokens (empty, whitespace, controls). Errors: those of the
  // encoder's TokenSpans, which validates the UTF-8 (InvalidArgument
  // "invalid UTF-8 at byte N ..."); InvalidArgument if one piece of a word,
  // or the tokens of one character, alone exceed chunk_tokens (only possible
  // for a tiny chunk_tokens); Internal if the encoder's spans break their
  // contract.
  Result<std::vector<Chunk>> Split(std::string_view text) const;

  // The resolved sizes.
  size_t chunk_tokens() const { return chunk_tokens_; }
  size_t overlap_tokens() const { return overlap_tokens_; }

 private:
  Chunker(const TextEncoder& encoder, size_t chunk_tokens, size_t overlap_tokens)
      : encoder_(&encoder), chunk_tokens_(chunk_tokens), overlap_tokens_(overlap_tokens) {}

  const TextEncoder* encoder_;
  size_t chunk_tokens_;
  size_t overlap_tokens_;
};

}  // namespace flashembed::encoders

#endif  // FLASHEMBED_ENCODERS_CHUNKER_H_
