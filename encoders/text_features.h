// How the word-based encoders (HashingEncoder, LearnedEncoder) read text:
// one normalisation, one classification of code points and one cutting into
// words, characters of scripts without spaces, symbols and punctuation, so
// both encoders see the same units. Internal to encoders/.
//
//   * Normalisation: NFKC + full case folding + removal of default-ignorable
//     code points (utf8proc's NFKC_Casefold), in pieces of a bounded size cut
//     where normalisation cannot change (ForEachNormalizedCodePoint).
//   * Classes (Classify): letters and digits of scripts that use spaces make
//     words; letters of scripts written without spaces (Han, kana, Thai, ...)
//     are units of their own; combining marks stay with the character before
//     them; symbols (S*) and punctuation (P*) are one unit each; everything
//     else separates.
//   * Cutting (TextSegmenter): turns the classified code points into calls on
//     a sink, which hashes features (HashingEncoder) or builds token strings
//     (LearnedEncoder).
//   * WordTokenSpans: the byte range of each unit on the raw text, for
//     TextEncoder::TokenSpans and chunking.
//
// Thread-safety: free functions and constants only; TextSegmenter is a
// per-call object.
#ifndef FLASHEMBED_ENCODERS_TEXT_FEATURES_H_
#define FLASHEMBED_ENCODERS_TEXT_FEATURES_H_

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "encoders/encoder.h"

namespace flashembed::encoders {

enum class CharClass : uint8_t { kSeparator, kWord, kUnsegmented, kMark, kSymbol, kPunct };

// The class of a (normalised or raw) code point, from Unicode general
// categories and the list of scripts written without spaces.
CharClass ClassifyFromTables(int32_t cp);
extern const std::array<CharClass, 128> kAsciiClasses;

inline CharClass Classify(int32_t cp) {
  return cp < 128 ? kAsciiClasses[static_cast<size_t>(cp)] : ClassifyFromTables(cp);
}

// First position >= `from` where `text` may be cut without changing its
// normalisation; text.size() if there is none.
size_t NextSafeCut(std::string_view text, size_t from);

// Normalises `piece` into (*buffer)[0..result) and returns the number of code
// points, or a negative utf8proc error code.
int64_t NormalizePiece(std::string_view piece, std::vector<int32_t>* buffer);

// The Status of utf8proc error `code` met while normalising `text`:
// InvalidArgument ("invalid UTF-8 at byte N", N an offset into `text`; "text
// too long to normalise"), ResourceExhausted, else Internal.
Status NormalizeError(int64_t code, std::string_view text);

// Calls fn(cp) for every code point of the normalised `text`, in order. The
// text is normalised in pieces of about `segment_bytes` (>= 1), which bounds
// `*buffer`, the caller's reusable scratch; the code points are the same as
// for normalising the whole text at once. Errors as NormalizeError; fn may
// have been called for a prefix of the text then.
template <typename Fn>
Status ForEachNormalizedCodePoint(std::string_view text, size_t segment_bytes,
                                  std::vector<int32_t>* buffer, Fn&& fn) {
  size_t begin = 0;
  while (begin < text.size()) {
    const size_t end = NextSafeCut(text, begin + std::min(segment_bytes, text.size()));
    const int64_t n = NormalizePiece(text.substr(begin, end - begin), buffer);
    if (n < 0) return NormalizeError(n, text);
    for (int64_t i = 0; i < n; ++i) fn((*buffer)[static_cast<size_t>(i)]);
    begin = end;
  }
  return Status::OK();
}

// Cuts a stream of normalised code points into units and reports them to
// `Sink`, which must provide (each called in text order):
//   BeginWord()            a word starts (a run of letters, digits, marks)
//   WordChar(uint32_t cp)  the next code point of the open word
//   EndWord()              the open word ends
//   BeginUnit(uint32_t cp) a character of a script without spaces starts a
//                          unit of its own (ending the one before)
//   UnitMark(uint32_t cp)  a combining mark joins the open unit
//   EndUnit()              the open unit ends
//   EndRun()               a run of such units ends (after its EndUnit; also
//                          called when no run was open)
//   Symbol(uint32_t cp)    a symbol (S*), one unit
//   Punct(uint32_t cp)     a punctuation character (P*), one unit
// A mark with no unit open belongs to the word it continues or starts.
// All state survives between Feed() calls, so a text may be fed in pieces.
template <typename Sink>
class TextSegmenter {
 public:
  explicit TextSegmenter(Sink* sink) : sink_(sink) {}

  void Feed(int32_t cp) {
    const auto c = static_cast<uint32_t>(cp);
    switch (Classify(cp)) {
      case CharClass::kWord:
        EndRun();
        WordChar(c);
        break;
      case CharClass::kUnsegmented:
        EndWord();
        EndUnit();
        in_unit_ = true;
        sink_->BeginUnit(c);
        break;
      case CharClass::kMark:
        if (in_unit_) {
          sink_->UnitMark(c);
        } else {
          WordChar(c);
        }
        break;
      case CharClass::kSymbol:
        EndWord();
        EndRun();
        sink_->Symbol(c);
        break;
      case CharClass::kPunct:
        EndWord();
        EndRun();
        sink_->Punct(c);
        break;
      case CharClass::kSeparator:
        EndWord();
        EndRun();
        break;
    }
  }

  // Ends the word or run in progress.
  void Finish() {
    EndWord();
    EndRun();
  }

 private:
  void WordChar(uint32_t cp) {
    if (!in_word_) {
      in_word_ = true;
      sink_->BeginWord();
    }
    sink_->WordChar(cp);
  }

  void EndWord() {
    if (!in_word_) return;
    in_word_ = false;
    sink_->EndWord();
  }

  void EndUnit() {
    if (!in_unit_) return;
    in_unit_ = false;
    sink_->EndUnit();
  }

  void EndRun() {
    EndUnit();
    sink_->EndRun();
  }

  Sink* const sink_;
  bool in_word_ = false;
  bool in_unit_ = false;
};

// Longest word piece of WordTokenSpans, in letters/digits.
inline constexpr size_t kWordPieceCodePoints = 64;

// The units of `text` found on the raw text (before normalisation): a word is
// one token, cut into pieces of kWordPieceCodePoints letters/digits when
// longer (the later pieces have continues_word set); every character of a
// script without spaces, every symbol and every punctuation character is one
// token. Combining marks, variation selectors, emoji modifiers, tag
// characters, the second regional indicator of a flag, and a ZERO WIDTH
// JOINER with what follows it stay in the token before them, so emoji
// sequences are not split. Whitespace, controls and other separators belong
// to no token. Cutting before any token gives pieces that tokenize into
// exactly their own tokens. InvalidArgument ("invalid UTF-8 at byte N").
Result<std::vector<TokenSpan>> WordTokenSpans(std::string_view text);

}  // namespace flashembed::encoders

#endif  // FLASHEMBED_ENCODERS_TEXT_FEATURES_H_
