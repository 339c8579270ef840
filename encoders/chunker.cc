#include "encoders/chunker.h"

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "base/utf8.h"

namespace flashembed::encoders {
namespace {

// Cut levels, weakest first (see the header).
enum Level : uint8_t {
  kNoCut = 0,  // the tokens share bytes (made from one character)
  kMidWord,
  kToken,
  kWord,
  kSentence,
  kLine,
  kSentenceLine,
  kParagraph,
};

// The code point that ends just before `end` and where it starts. `text` is
// valid UTF-8 and `end` lies between sequences.
char32_t CodePointBefore(std::string_view text, size_t end, size_t* start) {
  size_t i = end - 1;
  while (i > 0 && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) --i;
  *start = i;
  return DecodeUtf8(text, i).cp;
}

bool IsWhitespace(char32_t cp) {
  switch (cp) {
    case ' ':
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000: return true;
    default: return cp >= 0x2000 && cp <= 0x200A;
  }
}

// Closing quotes and brackets that may follow a sentence's terminator.
bool IsClosing(char32_t cp) {
  switch (cp) {
    case '"':
    case '\'':
    case ')':
    case ']':
    case '}':
    case 0x2019:
    case 0x201D:
    case 0x00BB:
    case 0x203A:  // ’ ” » ›
    case 0x300D:
    case 0x300F:
    case 0x3011:
    case 0x3015:
    case 0x3009:
    case 0x300B:  // 」』】〕〉》
    case 0xFF09:
    case 0xFF3D:
    case 0xFF5D:
    case 0xFF63:  // ） ］ ｝ ｣
      return true;
    default: return false;
  }
}

// '.', '!', '?', '…': end a sentence only before whitespace.
bool IsSpacedTerminator(char32_t cp) { return cp == '.' || cp == '!' || cp == '?' || cp == 0x2026; }

// CJK and fullwidth terminators: end a sentence wherever they stand.
bool IsCjkTerminator(char32_t cp) {
  switch (cp) {
    case 0x3002:
    case 0xFF01:
    case 0xFF1F:
    case 0xFF1B:
    case 0xFF0E:
    case 0xFF61: return true;
    default: return false;
  }
}

struct Gap {
  int line_breaks = 0;
  bool paragraph = false;  // form feed or U+2029
  bool empty = true;
};

Gap ScanGap(std::string_view text, size_t begin, size_t end) {
  Gap gap;
  gap.empty = begin >= end;
  for (size_t i = begin; i < end; ++i) {
    const char c = text[i];
    if (c == '\n') {
      ++gap.line_breaks;
    } else if (c == '\r') {
      if (i + 1 >= end || text[i + 1] != '\n') ++gap.line_breaks;
    } else if (c == '\f') {
      gap.paragraph = true;
    } else if (c == '\xE2' && i + 2 < end && text[i + 1] == '\x80') {
      if (text[i + 2] == '\xA8') ++gap.line_breaks;     // U+2028
      if (text[i + 2] == '\xA9') gap.paragraph = true;  // U+2029
    }
  }
  return gap;
}

// Whether the text before byte `end` (a token's end) closes a sentence, given
// that the next token starts at `next` and the gap between is `gap`.
bool EndsSentence(std::string_view text, size_t end, size_t next, const Gap& gap) {
  size_t at = end;
  char32_t cp = 0;
  // Skip up to four closing quotes / brackets: 'He said "Stop." Then ...'.
  for (int skipped = 0; at > 0; ++skipped) {
    size_t start = 0;
    cp = CodePointBefore(text, at, &start);
    if (!IsClosing(cp) || skipped == 4) break;
    at = start;
  }
  if (at == 0) return false;
  if (IsCjkTerminator(cp)) return true;
  if (!IsSpacedTerminator(cp) || gap.empty) return false;
  const char first = next < text.size() ? text[next] : '\0';
  return gap.line_breaks > 0 || !(first >= 'a' && first <= 'z');
}

Level CutLevel(std::string_view text, const TokenSpan& before, const TokenSpan& after) {
  if (after.begin < before.end) return kNoCut;
  const size_t gap_begin = before.end;
  const size_t gap_end = after.begin;
  if (after.continues_word) return kMidWord;
  // Fast path for the common cut, "word word": after an ASCII letter or
  // digit (no terminator, no closing quote) and across one space or none.
  const unsigned char last = static_cast<unsigned char>(text[before.end - 1]);
  const bool alnum = (last >= '0' && last <= '9') || ((last | 0x20) >= 'a' && (last | 0x20) <= 'z');
  if (alnum && after.begin == gap_begin) return kToken;
  if (alnum && after.begin == gap_begin + 1 && text[gap_begin] == ' ') return kWord;
  const Gap gap = ScanGap(text, gap_begin, gap_end);
  if (gap.paragraph || gap.line_breaks >= 2) return kParagraph;
  const bool sentence = EndsSentence(text, before.end, after.begin, gap);
  if (gap.line_breaks == 1) {
    if (sentence) return kSentenceLine;
    const char first = text[after.begin];
    return (first >= 'a' && first <= 'z') ? kWord : kLine;  // a wrapped line
  }
  if (sentence) return kSentence;
  return gap.empty ? kToken : kWord;
}

// The strongest cut among levels[lo..hi] (cut i lies before token i); among
// equals the latest when `latest`, else the earliest. REQUIRES: lo <= hi.
size_t BestCut(std::span<const Level> levels, size_t lo, size_t hi, bool latest) {
  size_t best = latest ? hi : lo;
  if (latest) {
    for (size_t i = hi; i-- > lo;) {
      if (levels[i] > levels[best]) best = i;
    }
  } else {
    for (size_t i = lo + 1; i <= hi; ++i) {
      if (levels[i] > levels[best]) best = i;
    }
  }
  return best;
}

// Checks what Split relies on: spans non-empty, inside the text, with
// begins and ends that never decrease, overlapping the one before only as
// pieces of one word.
Status CheckSpans(std::string_view text, std::span<const TokenSpan> spans) {
  for (size_t i = 0; i < spans.size(); ++i) {
    const TokenSpan& t = spans[i];
    const TokenSpan* prev = i > 0 ? &spans[i - 1] : nullptr;
    if (t.begin >= t.end || t.end > text.size() ||
        (prev != nullptr && (t.begin < prev->begin || t.end < prev->end ||
                             (t.begin < prev->end && !t.continues_word)))) {
      return Status::Internal(fmt::format(
          "encoder token span {} [{}, {}) is empty, out of order or past the {}-byte text", i,
          t.begin, t.end, text.size()));
    }
  }
  return Status::OK();
}

// Narrows [*begin, *end) to exclude surrounding whitespace.
void TrimWhitespace(std::string_view text, size_t* begin, size_t* end) {
  while (*begin < *end) {
    const Utf8Char c = DecodeUtf8(text, *begin);
    if (!c.ok() || !IsWhitespace(c.cp)) break;
    *begin += c.length;
  }
  while (*begin < *end) {
    size_t start = 0;
    if (!IsWhitespace(CodePointBefore(text, *end, &start))) break;
    *end = start;
  }
}

}  // namespace

Result<Chunker> Chunker::Create(const TextEncoder& encoder, const ChunkOptions& options) {
  const size_t max_tokens = encoder.max_tokens();
  const size_t specials = encoder.special_tokens();
  if (max_tokens > 0 && max_tokens <= specials) {
    return Status::InvalidArgument(
        fmt::format("encoder {} reads {} tokens, no more than its {} special tokens",
                    encoder.spec(), max_tokens, specials));
  }
  const size_t room = max_tokens > 0 ? max_tokens - specials : 0;
  size_t chunk_tokens = options.chunk_tokens;
  if (chunk_tokens == 0) {
    chunk_tokens = room == 0 ? ChunkOptions::kShortContextCap : room;
    if (max_tokens <= ChunkOptions::kShortContextTokens) {
      chunk_tokens = std::min(chunk_tokens, ChunkOptions::kShortContextCap);
    }
  } else if (room > 0 && chunk_tokens > room) {
    return Status::InvalidArgument(
        fmt::format("chunk_tokens {} exceeds the {} text tokens encoder {} reads (max_tokens {} "
                    "minus {} special tokens)",
                    chunk_tokens, room, encoder.spec(), max_tokens, specials));
  }
  const size_t overlap_tokens = options.overlap_tokens.value_or(chunk_tokens * 15 / 100);
  if (overlap_tokens > chunk_tokens / 2) {
    return Status::InvalidArgument(
        fmt::format("overlap_tokens {} exceeds half of chunk_tokens {} (at most {})",
                    overlap_tokens, chunk_tokens, chunk_tokens / 2));
  }
  // A probe for NotSupported now rather than at the first Split.
  const auto probe = encoder.TokenSpans("");
  if (!probe.ok()) return probe.status();
  return Chunker(encoder, chunk_tokens, overlap_tokens);
}

Result<std::vector<Chunk>> Chunker::Split(std::string_view text) const {
  // TokenSpans validates the UTF-8 (its contract), so the text is valid below.
  FE_ASSIGN_OR_RETURN(const std::vector<TokenSpan> spans, encoder_->TokenSpans(text));
  FE_RETURN_IF_ERROR(CheckSpans(text, spans));
  std::vector<Chunk> chunks;
  const size_t n = spans.size();
  if (n == 0) return chunks;

  // levels[i]: the cut before token i (levels[0] is unused).
  std::vector<Level> levels(n, kParagraph);
  for (size_t i = 1; i < n; ++i) levels[i] = CutLevel(text, spans[i - 1], spans[i]);

  const size_t c = chunk_tokens_;
  const size_t o = overlap_tokens_;
  const size_t min_fill = c / 2 + c % 2;  // ceil(c / 2) without overflow
  size_t start = 0;
  size_t prev_end = 0;
  for (;;) {
    size_t end = n;
    if (c < n - start) {
      const size_t lo = std::max(start + min_fill, prev_end + 1);
      end = BestCut(levels, lo, start + c, /*latest=*/true);
      // Only tokens of one character there (a Hangul syllable NFD splits
      // into jamo pieces): any earlier cut will do.
      while (levels[end] == kNoCut && end > start + 1) --end;
      if (levels[end] == kNoCut) {
        return Status::InvalidArgument(
            fmt::format("chunk_tokens {} is too small: more tokens than that come from the "
                        "characters at byte {}",
                        c, spans[start].begin));
      }
    }
    size_t begin_byte = spans[start].begin;
    size_t end_byte = spans[end - 1].end;
    TrimWhitespace(text, &begin_byte, &end_byte);
    size_t token_count = end - start;
    // A mid-word edge: the piece may tokenize differently on its own.
    while ((start > 0 && levels[start] == kMidWord) || (end < n && levels[end] == kMidWord)) {
      FE_ASSIGN_OR_RETURN(const std::vector<TokenSpan> again,
                          encoder_->TokenSpans(text.substr(begin_byte, end_byte - begin_byte)));
      token_count = again.size();
      if (token_count <= c) break;
      if (end - start == 1) {
        return Status::InvalidArgument(
            fmt::format("chunk_tokens {} is too small: the piece of one word at bytes [{}, {}) "
                        "alone tokenizes into {} tokens",
                        c, begin_byte, end_byte, token_count));
      }
      end -= std::min(token_count - c, end - start - 1);
      while (end > start + 1 && levels[end] == kNoCut) --end;
      if (levels[end] == kNoCut) {
        return Status::InvalidArgument(fmt::format(
            "chunk_tokens {} is too small for the word at byte {}", c, spans[start].begin));
      }
      token_count = end - start;  // exact if both new edges are whole-word cuts
      begin_byte = spans[start].begin;
      end_byte = spans[end - 1].end;
      TrimWhitespace(text, &begin_byte, &end_byte);
    }
    chunks.push_back({chunks.size(), begin_byte, end_byte, token_count,
                      std::string(text.substr(begin_byte, end_byte - begin_byte))});
    if (end == n) break;
    size_t next = end;
    if (o > 0) {
      const size_t lo = std::max(start + 1, end - std::min(o, end));
      const size_t hi = std::max(lo, end - (o + 1) / 2);
      next = BestCut(levels, lo, hi, /*latest=*/false);
      if (levels[next] == kNoCut) next = end;
    }
    prev_end = end;
    start = next;
  }
  return chunks;
}

}  // namespace flashembed::encoders
