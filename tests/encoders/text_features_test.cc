#include "encoders/text_features.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "base/status.h"
#include "base/utf8.h"
#include "tests/testing/test_util.h"

namespace flashembed::encoders {
namespace {

// A TextSegmenter sink that writes every call down: "w[ab]" a word, "u[東]" a
// unit, "|" the end of a run of units, "s[☃]" a symbol, "p[,]" punctuation.
class Recorder {
 public:
  void BeginWord() { Log("w["); }
  void WordChar(uint32_t cp) { AppendUtf8(cp, &log_); }
  void EndWord() { Log("]"); }
  void BeginUnit(uint32_t cp) {
    Log("u[");
    AppendUtf8(cp, &log_);
  }
  void UnitMark(uint32_t cp) { AppendUtf8(cp, &log_); }
  void EndUnit() {
    Log("]");
    unit_ended_ = true;
  }
  // Called after every word, symbol and separator too; logged after units.
  void EndRun() { Log(unit_ended_ ? "|" : ""); }
  void Symbol(uint32_t cp) {
    Log("s[");
    AppendUtf8(cp, &log_);
    Log("]");
  }
  void Punct(uint32_t cp) {
    Log("p[");
    AppendUtf8(cp, &log_);
    Log("]");
  }
  const std::string& log() const { return log_; }

 private:
  void Log(std::string_view s) {
    log_ += s;
    unit_ended_ = false;
  }

  std::string log_;
  bool unit_ended_ = false;
};

// Normalises `text` in small pieces and records how the segmenter cuts it.
std::string Segment(std::string_view text) {
  Recorder recorder;
  TextSegmenter<Recorder> segmenter(&recorder);
  std::vector<int32_t> scratch;
  EXPECT_OK(ForEachNormalizedCodePoint(text, /*segment_bytes=*/7, &scratch,
                                       [&](int32_t cp) { segmenter.Feed(cp); }));
  segmenter.Finish();
  return recorder.log();
}

TEST(TextSegmenter, CutsWordsUnitsSymbolsAndPunctuation) {
  EXPECT_EQ(Segment("Hello, WORLD"), "w[hello]p[,]w[world]");
  EXPECT_EQ(Segment("东京ab"), "u[东]u[京]|w[ab]");
  EXPECT_EQ(Segment("x ☃ y!"), "w[x]s[☃]w[y]p[!]");
  // NFKC: full-width letters and the superscript two become ASCII.
  EXPECT_EQ(Segment("Ｈi x²"), "w[hi]w[x2]");
  // A combining mark stays with the character before it, or starts a word.
  EXPECT_EQ(Segment("\xcc\x81"
                    "a"),
            "w[\xcc\x81"
            "a]");
  EXPECT_EQ(Segment("ก\xe0\xb8\xb4 x"), "u[ก\xe0\xb8\xb4]|w[x]");
  EXPECT_EQ(Segment(" \t\n"), "");
}

TEST(TextSegmenter, NormalisingInPiecesEqualsTheWhole) {
  // ForEachNormalizedCodePoint cuts only where normalisation cannot change,
  // so small pieces give what one piece gives.
  const std::string text = "Ａｂｃ e\xcc\x81t\xc3\xa9 東京 ﬁ ＡＢＣ, Straße";
  std::vector<int32_t> scratch, whole, pieces;
  ASSERT_OK(ForEachNormalizedCodePoint(text, text.size(), &scratch,
                                       [&](int32_t cp) { whole.push_back(cp); }));
  ASSERT_OK(
      ForEachNormalizedCodePoint(text, 1, &scratch, [&](int32_t cp) { pieces.push_back(cp); }));
  EXPECT_EQ(whole, pieces);
  const Status bad = ForEachNormalizedCodePoint("ab\xff", 64, &scratch, [](int32_t) {});
  EXPECT_EQ(bad, Status::InvalidArgument("invalid UTF-8 at byte 2"));
}

TEST(WordTokenSpans, UnitsOnTheRawText) {
  ASSERT_OK_AND_ASSIGN(const auto spans, WordTokenSpans("ab, 東京"));
  const std::vector<TokenSpan> expected = {
      {0, 2, false}, {2, 3, false}, {4, 7, false}, {7, 10, false}};
  EXPECT_EQ(spans, expected);
}

}  // namespace
}  // namespace flashembed::encoders
