#include "encoders/wordpiece_tokenizer.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/utf8.h"
#include "encoders/hf_tokenizer_common.h"

namespace flashembed::encoders {

namespace {

using hf::CodePointRange;
using hf::InRanges;
using hf::IsWhitespace;
using hf::NormChar;
using hf::Piece;

// ---------------------------------------------------------------------------
// Character classes, as HF tokenizers defines them
// ---------------------------------------------------------------------------

// The tables below are HF's own answers, not current Unicode: `tokenizers`
// takes categories from the unicode_categories crate (old Unicode data), so
// e.g. unassigned code points are kept by clean_text and some recent
// punctuation is not split off. They were produced by running its
// BertNormalizer / BertPreTokenizer on every code point:
//   cd tools/fixtures && node gen_tokenizer_refs.mjs --unicode-tables

// clang-format off
// BertNormalizer is_control: removed by clean_text (137679 code points).
constexpr CodePointRange kControlRanges[] = {
  {0x1, 0x8}, {0xB, 0xC}, {0xE, 0x1F}, {0x7F, 0x9F}, {0xAD, 0xAD}, {0x600, 0x605}, {0x61C, 0x61C},
  {0x6DD, 0x6DD}, {0x70F, 0x70F}, {0x180E, 0x180E}, {0x200B, 0x200F}, {0x202A, 0x202E},
  {0x2060, 0x2064}, {0x2066, 0x206F}, {0xE000, 0xF8FF}, {0xFEFF, 0xFEFF}, {0xFFF9, 0xFFFB},
  {0x110BD, 0x110BD}, {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A}, {0xE0001, 0xE0001},
  {0xE0020, 0xE007F}, {0xF0000, 0xFFFFD}, {0x100000, 0x10FFFD},
};

// BertPreTokenizer is_bert_punc (726 code points).
constexpr CodePointRange kPunctuationRanges[] = {
  {0x21, 0x2F}, {0x3A, 0x40}, {0x5B, 0x60}, {0x7B, 0x7E}, {0xA1, 0xA1}, {0xA7, 0xA7}, {0xAB, 0xAB},
  {0xB6, 0xB7}, {0xBB, 0xBB}, {0xBF, 0xBF}, {0x37E, 0x37E}, {0x387, 0x387}, {0x55A, 0x55F},
  {0x589, 0x58A}, {0x5BE, 0x5BE}, {0x5C0, 0x5C0}, {0x5C3, 0x5C3}, {0x5C6, 0x5C6}, {0x5F3, 0x5F4},
  {0x609, 0x60A}, {0x60C, 0x60D}, {0x61B, 0x61B}, {0x61E, 0x61F}, {0x66A, 0x66D}, {0x6D4, 0x6D4},
  {0x700, 0x70D}, {0x7F7, 0x7F9}, {0x830, 0x83E}, {0x85E, 0x85E}, {0x964, 0x965}, {0x970, 0x970},
  {0xAF0, 0xAF0}, {0xDF4, 0xDF4}, {0xE4F, 0xE4F}, {0xE5A, 0xE5B}, {0xF04, 0xF12}, {0xF14, 0xF14},
  {0xF3A, 0xF3D}, {0xF85, 0xF85}, {0xFD0, 0xFD4}, {0xFD9, 0xFDA}, {0x104A, 0x104F},
  {0x10FB, 0x10FB}, {0x1360, 0x1368}, {0x1400, 0x1400}, {0x166D, 0x166E}, {0x169B, 0x169C},
  {0x16EB, 0x16ED}, {0x1735, 0x1736}, {0x17D4, 0x17D6}, {0x17D8, 0x17DA}, {0x1800, 0x180A},
  {0x1944, 0x1945}, {0x1A1E, 0x1A1F}, {0x1AA0, 0x1AA6}, {0x1AA8, 0x1AAD}, {0x1B5A, 0x1B60},
  {0x1BFC, 0x1BFF}, {0x1C3B, 0x1C3F}, {0x1C7E, 0x1C7F}, {0x1CC0, 0x1CC7}, {0x1CD3, 0x1CD3},
  {0x2010, 0x2027}, {0x2030, 0x2043}, {0x2045, 0x2051}, {0x2053, 0x205E}, {0x207D, 0x207E},
  {0x208D, 0x208E}, {0x2308, 0x230B}, {0x2329, 0x232A}, {0x2768, 0x2775}, {0x27C5, 0x27C6},
  {0x27E6, 0x27EF}, {0x2983, 0x2998}, {0x29D8, 0x29DB}, {0x29FC, 0x29FD}, {0x2CF9, 0x2CFC},
  {0x2CFE, 0x2CFF}, {0x2D70, 0x2D70}, {0x2E00, 0x2E2E}, {0x2E30, 0x2E42}, {0x3001, 0x3003},
  {0x3008, 0x3011}, {0x3014, 0x301F}, {0x3030, 0x3030}, {0x303D, 0x303D}, {0x30A0, 0x30A0},
  {0x30FB, 0x30FB}, {0xA4FE, 0xA4FF}, {0xA60D, 0xA60F}, {0xA673, 0xA673}, {0xA67E, 0xA67E},
  {0xA6F2, 0xA6F7}, {0xA874, 0xA877}, {0xA8CE, 0xA8CF}, {0xA8F8, 0xA8FA}, {0xA8FC, 0xA8FC},
  {0xA92E, 0xA92F}, {0xA95F, 0xA95F}, {0xA9C1, 0xA9CD}, {0xA9DE, 0xA9DF}, {0xAA5C, 0xAA5F},
  {0xAADE, 0xAADF}, {0xAAF0, 0xAAF1}, {0xABEB, 0xABEB}, {0xFD3E, 0xFD3F}, {0xFE10, 0xFE19},
  {0xFE30, 0xFE52}, {0xFE54, 0xFE61}, {0xFE63, 0xFE63}, {0xFE68, 0xFE68}, {0xFE6A, 0xFE6B},
  {0xFF01, 0xFF03}, {0xFF05, 0xFF0A}, {0xFF0C, 0xFF0F}, {0xFF1A, 0xFF1B}, {0xFF1F, 0xFF20},
  {0xFF3B, 0xFF3D}, {0xFF3F, 0xFF3F}, {0xFF5B, 0xFF5B}, {0xFF5D, 0xFF5D}, {0xFF5F, 0xFF65},
  {0x10100, 0x10102}, {0x1039F, 0x1039F}, {0x103D0, 0x103D0}, {0x1056F, 0x1056F},
  {0x10857, 0x10857}, {0x1091F, 0x1091F}, {0x1093F, 0x1093F}, {0x10A50, 0x10A58},
  {0x10A7F, 0x10A7F}, {0x10AF0, 0x10AF6}, {0x10B39, 0x10B3F}, {0x10B99, 0x10B9C},
  {0x11047, 0x1104D}, {0x110BB, 0x110BC}, {0x110BE, 0x110C1}, {0x11140, 0x11143},
  {0x11174, 0x11175}, {0x111C5, 0x111C9}, {0x111CD, 0x111CD}, {0x111DB, 0x111DB},
  {0x111DD, 0x111DF}, {0x11238, 0x1123D}, {0x112A9, 0x112A9}, {0x114C6, 0x114C6},
  {0x115C1, 0x115D7}, {0x11641, 0x11643}, {0x1173C, 0x1173E}, {0x12470, 0x12474},
  {0x16A6E, 0x16A6F}, {0x16AF5, 0x16AF5}, {0x16B37, 0x16B3B}, {0x16B44, 0x16B44},
  {0x1BC9F, 0x1BC9F}, {0x1DA87, 0x1DA8B},
};

// is_mark_nonspacing: removed by strip_accents (1549 code points).
constexpr CodePointRange kNonspacingMarkRanges[] = {
  {0x300, 0x33F}, {0x342, 0x342}, {0x345, 0x36F}, {0x483, 0x487}, {0x591, 0x5BD}, {0x5BF, 0x5BF},
  {0x5C1, 0x5C2}, {0x5C4, 0x5C5}, {0x5C7, 0x5C7}, {0x610, 0x61A}, {0x64B, 0x65F}, {0x670, 0x670},
  {0x6D6, 0x6DC}, {0x6DF, 0x6E4}, {0x6E7, 0x6E8}, {0x6EA, 0x6ED}, {0x711, 0x711}, {0x730, 0x74A},
  {0x7A6, 0x7B0}, {0x7EB, 0x7F3}, {0x816, 0x819}, {0x81B, 0x823}, {0x825, 0x827}, {0x829, 0x82D},
  {0x859, 0x85B}, {0x8E3, 0x902}, {0x93A, 0x93A}, {0x93C, 0x93C}, {0x941, 0x948}, {0x94D, 0x94D},
  {0x951, 0x957}, {0x962, 0x963}, {0x981, 0x981}, {0x9BC, 0x9BC}, {0x9C1, 0x9C4}, {0x9CD, 0x9CD},
  {0x9E2, 0x9E3}, {0xA01, 0xA02}, {0xA3C, 0xA3C}, {0xA41, 0xA42}, {0xA47, 0xA48}, {0xA4B, 0xA4D},
  {0xA51, 0xA51}, {0xA70, 0xA71}, {0xA75, 0xA75}, {0xA81, 0xA82}, {0xABC, 0xABC}, {0xAC1, 0xAC5},
  {0xAC7, 0xAC8}, {0xACD, 0xACD}, {0xAE2, 0xAE3}, {0xB01, 0xB01}, {0xB3C, 0xB3C}, {0xB3F, 0xB3F},
  {0xB41, 0xB44}, {0xB4D, 0xB4D}, {0xB56, 0xB56}, {0xB62, 0xB63}, {0xB82, 0xB82}, {0xBC0, 0xBC0},
  {0xBCD, 0xBCD}, {0xC00, 0xC00}, {0xC3E, 0xC40}, {0xC46, 0xC47}, {0xC4A, 0xC4D}, {0xC55, 0xC56},
  {0xC62, 0xC63}, {0xC81, 0xC81}, {0xCBC, 0xCBC}, {0xCBF, 0xCBF}, {0xCC6, 0xCC6}, {0xCCC, 0xCCD},
  {0xCE2, 0xCE3}, {0xD01, 0xD01}, {0xD41, 0xD44}, {0xD4D, 0xD4D}, {0xD62, 0xD63}, {0xDCA, 0xDCA},
  {0xDD2, 0xDD4}, {0xDD6, 0xDD6}, {0xE31, 0xE31}, {0xE34, 0xE3A}, {0xE47, 0xE4E}, {0xEB1, 0xEB1},
  {0xEB4, 0xEB9}, {0xEBB, 0xEBC}, {0xEC8, 0xECD}, {0xF18, 0xF19}, {0xF35, 0xF35}, {0xF37, 0xF37},
  {0xF39, 0xF39}, {0xF71, 0xF72}, {0xF74, 0xF74}, {0xF77, 0xF77}, {0xF79, 0xF7E}, {0xF80, 0xF80},
  {0xF82, 0xF84}, {0xF86, 0xF87}, {0xF8D, 0xF92}, {0xF94, 0xF97}, {0xF99, 0xF9C}, {0xF9E, 0xFA1},
  {0xFA3, 0xFA6}, {0xFA8, 0xFAB}, {0xFAD, 0xFB8}, {0xFBA, 0xFBC}, {0xFC6, 0xFC6}, {0x102D, 0x1030},
  {0x1032, 0x1037}, {0x1039, 0x103A}, {0x103D, 0x103E}, {0x1058, 0x1059}, {0x105E, 0x1060},
  {0x1071, 0x1074}, {0x1082, 0x1082}, {0x1085, 0x1086}, {0x108D, 0x108D}, {0x109D, 0x109D},
  {0x135D, 0x135F}, {0x1712, 0x1714}, {0x1732, 0x1734}, {0x1752, 0x1753}, {0x1772, 0x1773},
  {0x17B4, 0x17B5}, {0x17B7, 0x17BD}, {0x17C6, 0x17C6}, {0x17C9, 0x17D3}, {0x17DD, 0x17DD},
  {0x180B, 0x180D}, {0x18A9, 0x18A9}, {0x1920, 0x1922}, {0x1927, 0x1928}, {0x1932, 0x1932},
  {0x1939, 0x193B}, {0x1A17, 0x1A18}, {0x1A1B, 0x1A1B}, {0x1A56, 0x1A56}, {0x1A58, 0x1A5E},
  {0x1A60, 0x1A60}, {0x1A62, 0x1A62}, {0x1A65, 0x1A6C}, {0x1A73, 0x1A7C}, {0x1A7F, 0x1A7F},
  {0x1AB0, 0x1ABD}, {0x1B00, 0x1B03}, {0x1B34, 0x1B34}, {0x1B36, 0x1B3A}, {0x1B3C, 0x1B3C},
  {0x1B42, 0x1B42}, {0x1B6B, 0x1B73}, {0x1B80, 0x1B81}, {0x1BA2, 0x1BA5}, {0x1BA8, 0x1BA9},
  {0x1BAB, 0x1BAD}, {0x1BE6, 0x1BE6}, {0x1BE8, 0x1BE9}, {0x1BED, 0x1BED}, {0x1BEF, 0x1BF1},
  {0x1C2C, 0x1C33}, {0x1C36, 0x1C37}, {0x1CD0, 0x1CD2}, {0x1CD4, 0x1CE0}, {0x1CE2, 0x1CE8},
  {0x1CED, 0x1CED}, {0x1CF4, 0x1CF4}, {0x1CF8, 0x1CF9}, {0x1DC0, 0x1DF5}, {0x1DFC, 0x1DFF},
  {0x20D0, 0x20DC}, {0x20E1, 0x20E1}, {0x20E5, 0x20F0}, {0x2CEF, 0x2CF1}, {0x2D7F, 0x2D7F},
  {0x2DE0, 0x2DFF}, {0x302A, 0x302D}, {0x3099, 0x309A}, {0xA66F, 0xA66F}, {0xA674, 0xA67D},
  {0xA69E, 0xA69F}, {0xA6F0, 0xA6F1}, {0xA802, 0xA802}, {0xA806, 0xA806}, {0xA80B, 0xA80B},
  {0xA825, 0xA826}, {0xA8C4, 0xA8C4}, {0xA8E0, 0xA8F1}, {0xA926, 0xA92D}, {0xA947, 0xA951},
  {0xA980, 0xA982}, {0xA9B3, 0xA9B3}, {0xA9B6, 0xA9B9}, {0xA9BC, 0xA9BC}, {0xA9E5, 0xA9E5},
  {0xAA29, 0xAA2E}, {0xAA31, 0xAA32}, {0xAA35, 0xAA36}, {0xAA43, 0xAA43}, {0xAA4C, 0xAA4C},
  {0xAA7C, 0xAA7C}, {0xAAB0, 0xAAB0}, {0xAAB2, 0xAAB4}, {0xAAB7, 0xAAB8}, {0xAABE, 0xAABF},
  {0xAAC1, 0xAAC1}, {0xAAEC, 0xAAED}, {0xAAF6, 0xAAF6}, {0xABE5, 0xABE5}, {0xABE8, 0xABE8},
  {0xABED, 0xABED}, {0xFB1E, 0xFB1E}, {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F}, {0x101FD, 0x101FD},
  {0x102E0, 0x102E0}, {0x10376, 0x1037A}, {0x10A01, 0x10A03}, {0x10A05, 0x10A06},
  {0x10A0C, 0x10A0F}, {0x10A38, 0x10A3A}, {0x10A3F, 0x10A3F}, {0x10AE5, 0x10AE6},
  {0x11001, 0x11001}, {0x11038, 0x11046}, {0x1107F, 0x11081}, {0x110B3, 0x110B6},
  {0x110B9, 0x110BA}, {0x11100, 0x11102}, {0x11127, 0x1112B}, {0x1112D, 0x1112D},
  {0x11130, 0x11134}, {0x11173, 0x11173}, {0x11180, 0x11181}, {0x111B6, 0x111BE},
  {0x111CA, 0x111CC}, {0x1122F, 0x11231}, {0x11234, 0x11234}, {0x11236, 0x11237},
  {0x112DF, 0x112DF}, {0x112E3, 0x112EA}, {0x11300, 0x11301}, {0x1133C, 0x1133C},
  {0x11340, 0x11340}, {0x11366, 0x1136C}, {0x11370, 0x11374}, {0x114B3, 0x114B8},
  {0x114BA, 0x114BA}, {0x114BF, 0x114C0}, {0x114C2, 0x114C3}, {0x115B2, 0x115B5},
  {0x115BC, 0x115BD}, {0x115BF, 0x115C0}, {0x115DC, 0x115DD}, {0x11633, 0x1163A},
  {0x1163D, 0x1163D}, {0x1163F, 0x11640}, {0x116AB, 0x116AB}, {0x116AD, 0x116AD},
  {0x116B0, 0x116B5}, {0x116B7, 0x116B7}, {0x1171D, 0x1171F}, {0x11722, 0x11725},
  {0x11727, 0x1172B}, {0x16AF0, 0x16AF4}, {0x16B30, 0x16B36}, {0x16F8F, 0x16F92},
  {0x1BC9D, 0x1BC9E}, {0x1D167, 0x1D169}, {0x1D17B, 0x1D182}, {0x1D185, 0x1D18B},
  {0x1D1AA, 0x1D1AD}, {0x1D242, 0x1D244}, {0x1DA00, 0x1DA36}, {0x1DA3B, 0x1DA6C},
  {0x1DA75, 0x1DA75}, {0x1DA84, 0x1DA84}, {0x1DA9B, 0x1DA9F}, {0x1DAA1, 0x1DAAF},
  {0x1E8D0, 0x1E8D6}, {0xE0100, 0xE01EF},
};
// clang-format on

// normalizers/bert.rs is_control: Cc, Cf and Co except \t \n \r.
bool IsControl(char32_t cp) { return InRanges(kControlRanges, cp); }

// pre_tokenizers/bert.rs is_bert_punc: ASCII punctuation or Unicode P*.
bool IsPunctuation(char32_t cp) {
  if (cp < 0x80) {
    return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
           (cp >= 123 && cp <= 126);
  }
  return InRanges(kPunctuationRanges, cp);
}

// normalizers/bert.rs do_strip_accents drops is_mark_nonspacing (Mn).
bool IsNonspacingMark(char32_t cp) { return InRanges(kNonspacingMarkRanges, cp); }

// normalizers/bert.rs is_chinese_char: the CJK Unified Ideographs blocks.
bool IsChineseChar(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// Keeps the chars for which keep(cp) holds (NormalizedString::filter); the
// bytes of removed chars belong to no token.
template <typename Keep>
void Filter(std::vector<NormChar>* chars, Keep keep) {
  std::erase_if(*chars, [&](const NormChar& c) { return !keep(c.cp); });
}

// NFD (canonical decomposition and canonical ordering), each produced char
// keeping the alignment of the char it came from. The ordering uses
// utf8proc's combining classes, unlike BpeTokenizer's NFC, which patches
// them to those of HF's tables.
void Nfd(std::vector<NormChar>* chars) {
  std::vector<NormChar> out;
  out.reserve(chars->size());
  char32_t buffer[hf::kMaxDecomposition];
  for (const NormChar& c : *chars) {
    const size_t n = hf::DecomposeChar(c.cp, buffer);
    for (size_t k = 0; k < n; ++k) out.push_back({buffer[k], c.begin, c.end});
  }
  hf::CanonicalOrder(&out, [](const NormChar& c) { return hf::Utf8procCombiningClass(c.cp); });
  *chars = std::move(out);
}

}  // namespace

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

class WordPieceTokenizerEncoder {
 public:
  explicit WordPieceTokenizerEncoder(const WordPieceTokenizer& t) : t_(t) {}

  // Tokenizes text[begin, end) (no added tokens inside) into `out`.
  void Segment(std::string_view text, size_t begin, size_t end, std::vector<Piece>* out) const {
    const WordPieceTokenizer::Settings& s = t_.settings_;
    std::vector<NormChar> chars = hf::ToNormChars(text, begin, end);  // validated by Encode
    // normalizers/bert.rs BertNormalizer::normalize, step by step.
    if (s.clean_text) {
      Filter(&chars, [](char32_t cp) { return !(cp == 0 || cp == 0xFFFD || IsControl(cp)); });
      for (NormChar& c : chars) {
        if (IsWhitespace(c.cp)) c.cp = ' ';
      }
    }
    if (s.handle_chinese_chars) {
      std::vector<NormChar> padded;
      padded.reserve(chars.size());
      for (const NormChar& c : chars) {
        if (IsChineseChar(c.cp)) {
          padded.push_back({' ', c.begin, c.end});
          padded.push_back(c);
          padded.push_back({' ', c.begin, c.end});
        } else {
          padded.push_back(c);
        }
      }
      chars = std::move(padded);
    }
    if (s.strip_accents) {
      Nfd(&chars);
      Filter(&chars, [](char32_t cp) { return !IsNonspacingMark(cp); });
    }
    if (s.lowercase) hf::Lowercase(&chars);

    // pre_tokenizers/bert.rs: split on whitespace (removed), then isolate
    // every punctuation char.
    size_t word = 0;
    for (size_t i = 0; i <= chars.size(); ++i) {
      const bool at_end = i == chars.size();
      if (at_end || IsWhitespace(chars[i].cp)) {
        if (word < i) WordPiece(chars, word, i, out);
        word = i + 1;
      } else if (IsPunctuation(chars[i].cp)) {
        if (word < i) WordPiece(chars, word, i, out);
        WordPiece(chars, i, i + 1, out);
        word = i + 1;
      }
    }
  }

 private:
  // models/wordpiece/mod.rs WordPiece::tokenize on chars[begin, end).
  void WordPiece(const std::vector<NormChar>& chars, size_t begin, size_t end,
                 std::vector<Piece>* out) const {
    const WordPieceTokenizer::Settings& s = t_.settings_;
    if (end - begin > s.max_input_chars_per_word) {
      out->push_back({t_.unk_id_, s.unk_token, chars[begin].begin, chars[end - 1].end});
      return;
    }
    std::string word;
    std::vector<size_t> boundary;  // byte offset in `word` of each char, plus the end
    for (size_t i = begin; i < end; ++i) {
      boundary.push_back(word.size());
      AppendUtf8(chars[i].cp, &word);
    }
    boundary.push_back(word.size());
    const size_t first = out->size();
    std::string candidate;
    const size_t n = end - begin;
    for (size_t start = 0; start < n;) {
      size_t stop = n;
      int32_t id = -1;
      for (; stop > start; --stop) {
        const std::string_view sub(word.data() + boundary[start], boundary[stop] - boundary[start]);
        if (start == 0) {
          id = Lookup(sub);
        } else {
          candidate.assign(s.continuing_subword_prefix);
          candidate.append(sub);
          id = Lookup(candidate);
        }
        if (id >= 0) break;
      }
      if (id < 0) {  // the whole word becomes [UNK]
        out->resize(first);
        out->push_back({t_.unk_id_, s.unk_token, chars[begin].begin, chars[end - 1].end});
        return;
      }
      out->push_back({id, t_.id_to_token_[static_cast<size_t>(id)], chars[begin + start].begin,
                      chars[begin + stop - 1].end});
      start = stop;
    }
  }

  int32_t Lookup(std::string_view token) const {
    const auto it = t_.token_to_id_.find(token);
    return it == t_.token_to_id_.end() ? -1 : it->second;
  }

  const WordPieceTokenizer& t_;
};

WordPieceTokenizer::~WordPieceTokenizer() = default;

std::string_view WordPieceTokenizer::IdToToken(int32_t id) const {
  return hf::IdToToken(id_to_token_, id);
}

namespace {

// The tokens of `text` before [CLS] / [SEP]: added tokens (all of them
// non-normalized) are found on the raw text, leftmost-longest; the text
// between them is tokenized.
template <typename AddedTokens, typename Encoder>
std::vector<Piece> TextPieces(std::string_view text, const AddedTokens& added_tokens,
                              const std::bitset<256>& added_first_bytes, const Encoder& encoder) {
  const auto match = [&](size_t pos, size_t floor) -> std::optional<Piece> {
    if (!added_first_bytes[static_cast<unsigned char>(text[pos])]) return std::nullopt;
    const auto* added =
        hf::LongestAddedToken(added_tokens, text.substr(pos), [](const auto&) { return true; });
    if (added == nullptr) return std::nullopt;
    // lstrip / rstrip: the match swallows adjacent whitespace.
    const size_t begin = added->lstrip ? hf::SkipWhitespaceBackward(text, floor, pos) : pos;
    size_t end = pos + added->content.size();
    if (added->rstrip) end = hf::SkipWhitespaceForward(text, end);
    // As in HF, a stripped token's text and offsets include the whitespace.
    return Piece{added->id, std::string(text.substr(begin, end - begin)), begin, end};
  };
  return hf::SplitOnAddedTokens(text, match, encoder);
}

}  // namespace

Result<WordPieceTokenizer::Encoding> WordPieceTokenizer::Encode(std::string_view text,
                                                                size_t max_tokens) const {
  FE_RETURN_IF_ERROR(hf::CheckEncodeArgs(text, max_tokens));
  return Single(
      TextPieces(text, added_tokens_, added_first_bytes_, WordPieceTokenizerEncoder(*this)),
      max_tokens);
}

Result<WordPieceTokenizer::Encoding> WordPieceTokenizer::EncodeIds(std::span<const int32_t> ids,
                                                                   size_t max_tokens) const {
  FE_RETURN_IF_ERROR(hf::CheckEncodeArgs("", max_tokens));
  FE_ASSIGN_OR_RETURN(std::vector<Piece> pieces, hf::PiecesFromIds(ids, id_to_token_));
  return Single(std::move(pieces), max_tokens);
}

WordPieceTokenizer::Encoding WordPieceTokenizer::Single(std::vector<hf::Piece> pieces,
                                                        size_t max_tokens) const {
  // BertProcessing: [CLS] tokens [SEP].
  Encoding e =
      hf::WrapPieces<Encoding>(std::move(pieces), max_tokens, {cls_id_, settings_.cls_token},
                               {sep_id_, settings_.sep_token});
  e.type_ids.assign(e.ids.size(), 0);
  e.sequence_ids.assign(e.ids.size(), 0);
  e.sequence_ids.front() = e.sequence_ids.back() = -1;
  return e;
}

Result<WordPieceTokenizer::Encoding> WordPieceTokenizer::EncodePair(std::string_view first,
                                                                    std::string_view second,
                                                                    size_t max_tokens) const {
  for (const auto& [text, which] : {std::pair{first, "first"}, std::pair{second, "second"}}) {
    if (const size_t bad = FindInvalidUtf8(text); bad != std::string_view::npos) {
      return Status::InvalidArgument("invalid UTF-8 at byte " + std::to_string(bad) + " of the " +
                                     which + " text");
    }
  }
  if (max_tokens != 0 && max_tokens < 3) {
    return Status::InvalidArgument(
        "max_tokens must be 0 (no limit) or at least 3 for a pair, got " +
        std::to_string(max_tokens));
  }
  const WordPieceTokenizerEncoder encoder(*this);
  std::vector<Piece> a = TextPieces(first, added_tokens_, added_first_bytes_, encoder);
  std::vector<Piece> b = TextPieces(second, added_tokens_, added_first_bytes_, encoder);
  if (max_tokens != 0 && a.size() + b.size() + 3 > max_tokens) {
    hf::TruncatePairLongestFirst(max_tokens - 3, &a, &b);
  }
  // BertProcessing's pair: [CLS] A [SEP] B [SEP], type ids 0 then 1.
  Encoding e;
  const auto special = [&](int32_t id, const std::string& token, int32_t type) {
    e.ids.push_back(id);
    e.tokens.push_back(token);
    e.offsets.emplace_back(0, 0);
    e.type_ids.push_back(type);
    e.sequence_ids.push_back(-1);
  };
  const auto text = [&](std::vector<Piece>& pieces, int32_t type) {
    for (Piece& piece : pieces) {
      e.ids.push_back(piece.id);
      e.tokens.push_back(std::move(piece.token));
      e.offsets.emplace_back(piece.begin, piece.end);
      e.type_ids.push_back(type);
      e.sequence_ids.push_back(static_cast<int8_t>(type));
    }
  };
  special(cls_id_, settings_.cls_token, 0);
  text(a, 0);
  special(sep_id_, settings_.sep_token, 0);
  text(b, 1);
  special(sep_id_, settings_.sep_token, 1);
  return e;
}

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

class WordPieceTokenizerLoader {
 public:
  using json = nlohmann::json;

  static Result<std::unique_ptr<WordPieceTokenizer>> Load(
      const std::string& vocab_path, const std::string& json_path,
      const WordPieceTokenizer::VocabSettings& vocab_settings) {
    if (vocab_path.empty() && json_path.empty()) {
      return Status::InvalidArgument("tokenizer: need a vocab.txt or a tokenizer.json path");
    }
    // The constructor is private, so make_unique cannot reach it.
    std::unique_ptr<WordPieceTokenizer> t(new WordPieceTokenizer());
    bool have_vocab = false;
    bool have_json = false;
    if (!json_path.empty()) {
      FE_ASSIGN_OR_RETURN(const std::string text, hf::ReadTokenizerFile(json_path));
      Status status;
      try {
        status = ParseJson(text, json_path, t.get(), &have_vocab);
      } catch (const json::exception& e) {
        status =
            Status::InvalidArgument(json_path + ": unexpected tokenizer.json content: " + e.what());
      }
      FE_RETURN_IF_ERROR(status);
      have_json = true;
    }
    std::string source = have_vocab ? json_path : vocab_path;
    if (have_json && !have_vocab) source += " (with settings from " + json_path + ")";
    if (!have_vocab) {
      if (vocab_path.empty()) {
        return Status::InvalidArgument(json_path +
                                       ": model.vocab is missing and no vocab.txt was given");
      }
      FE_ASSIGN_OR_RETURN(const std::string text, hf::ReadTokenizerFile(vocab_path));
      FE_RETURN_IF_ERROR(ParseVocabTxt(text, vocab_path, t.get()));
    }
    if (!have_json) {
      WordPieceTokenizer::Settings& settings = t->settings_;
      settings.lowercase = vocab_settings.lowercase;
      settings.strip_accents = vocab_settings.strip_accents.value_or(vocab_settings.lowercase);
      settings.handle_chinese_chars = vocab_settings.handle_chinese_chars;
      // HF BertWordPieceTokenizer registers these as special tokens.
      for (const char* special : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) {
        const auto it = t->token_to_id_.find(special);
        if (it != t->token_to_id_.end()) t->added_tokens_.push_back({special, it->second});
      }
    }
    FE_RETURN_IF_ERROR(Finish(source, t.get()));
    return t;
  }

 private:
  // models/wordpiece/mod.rs WordPiece::read_file: lines split on '\n'
  // (Rust BufRead::lines, which also drops a '\r' before it), each trimmed of
  // trailing whitespace (str::trim_end); a repeated token keeps its last id.
  static Status ParseVocabTxt(std::string_view text, const std::string& path,
                              WordPieceTokenizer* t) {
    size_t line_no = 0;
    for (size_t pos = 0; pos < text.size(); ++line_no) {
      size_t eol = text.find('\n', pos);
      if (eol == std::string_view::npos) eol = text.size();
      std::string_view line = text.substr(pos, eol - pos);
      pos = eol + 1;
      size_t kept = 0;  // byte end of the last non-whitespace char
      for (size_t i = 0; i < line.size();) {
        const Utf8Char c = DecodeUtf8(line, i);
        if (!c.ok()) {
          return Status::InvalidArgument(path + ": invalid UTF-8 on line " +
                                         std::to_string(line_no + 1));
        }
        i += c.length;
        if (!IsWhitespace(c.cp)) kept = i;
      }
      // Added tokens from tokenizer.json may already have grown the table.
      hf::SetTokenId(std::string(line.substr(0, kept)), line_no, &t->id_to_token_,
                     &t->token_to_id_);
    }
    if (line_no == 0) return Status::InvalidArgument(path + ": vocab is empty");
    return Status::OK();
  }

  static Status ParseJson(const std::string& text, const std::string& path, WordPieceTokenizer* t,
                          bool* have_vocab) {
    const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object()) {
      return Status::InvalidArgument(path + ": malformed JSON (expected a tokenizer.json object)");
    }
    WordPieceTokenizer::Settings& s = t->settings_;
    const auto type_of = [](const json& v) {
      return v.is_object() && v.contains("type") && v["type"].is_string()
                 ? v["type"].get<std::string>()
                 : std::string(v.is_null() ? "null" : "?");
    };

    // normalizer: BertNormalizer, or null (no normalization).
    const json& normalizer = doc.value("normalizer", json());
    if (normalizer.is_null()) {
      s.clean_text = s.handle_chinese_chars = s.strip_accents = s.lowercase = false;
    } else if (type_of(normalizer) == "BertNormalizer") {
      s.clean_text = normalizer.value("clean_text", true);
      s.handle_chinese_chars = normalizer.value("handle_chinese_chars", true);
      s.lowercase = normalizer.value("lowercase", true);
      const json& strip = normalizer.value("strip_accents", json());
      s.strip_accents = strip.is_null() ? s.lowercase : strip.get<bool>();
    } else {
      return Status::InvalidArgument(path + ": unsupported normalizer type \"" +
                                     type_of(normalizer) + "\" (expected BertNormalizer)");
    }

    const json& pre = doc.value("pre_tokenizer", json());
    if (type_of(pre) != "BertPreTokenizer") {
      return Status::InvalidArgument(path + ": unsupported pre_tokenizer type \"" + type_of(pre) +
                                     "\" (expected BertPreTokenizer)");
    }

    // model: WordPiece (older files omit "type").
    if (!doc.contains("model") || !doc["model"].is_object()) {
      return Status::InvalidArgument(path + ": no model object");
    }
    const json& model = doc["model"];
    const std::string model_type = model.contains("type") ? type_of(model) : "WordPiece";
    if (model_type != "WordPiece") {
      return Status::InvalidArgument(path + ": unsupported model type \"" + model_type +
                                     "\" (expected WordPiece)");
    }
    s.unk_token = model.value("unk_token", std::string("[UNK]"));
    s.continuing_subword_prefix = model.value("continuing_subword_prefix", std::string("##"));
    s.max_input_chars_per_word = model.value("max_input_chars_per_word", size_t{100});
    if (model.contains("vocab") && !model["vocab"].is_null()) {
      if (!model["vocab"].is_object()) {
        return Status::InvalidArgument(path + ": model.vocab is not an object");
      }
      for (const auto& [token, id] : model["vocab"].items()) {
        FE_RETURN_IF_ERROR(AddId(path, token, id, t));
      }
      *have_vocab = !t->token_to_id_.empty();
    }

    // post_processor: BertProcessing or TemplateProcessing "[CLS] $A [SEP]".
    const json& post = doc.value("post_processor", json());
    const std::string post_type = type_of(post);
    if (post_type == "BertProcessing") {
      s.cls_token = post.at("cls").at(0).get<std::string>();
      s.sep_token = post.at("sep").at(0).get<std::string>();
    } else if (post_type == "TemplateProcessing") {
      const json& single = post.at("single");
      if (!single.is_array() || single.size() != 3 || !single[0].contains("SpecialToken") ||
          !single[1].contains("Sequence") || !single[2].contains("SpecialToken")) {
        return Status::InvalidArgument(path +
                                       ": unsupported post_processor template (expected "
                                       "[CLS] $A [SEP])");
      }
      const json& specials = post.at("special_tokens");
      s.cls_token = specials.at(single[0]["SpecialToken"].at("id").get<std::string>())
                        .at("tokens")
                        .at(0)
                        .get<std::string>();
      s.sep_token = specials.at(single[2]["SpecialToken"].at("id").get<std::string>())
                        .at("tokens")
                        .at(0)
                        .get<std::string>();
    } else {
      return Status::InvalidArgument(path + ": unsupported post_processor type \"" + post_type +
                                     "\" (expected BertProcessing or TemplateProcessing)");
    }

    // added_tokens: matched on the raw text before normalization.
    if (doc.contains("added_tokens") && doc["added_tokens"].is_array()) {
      for (const json& added : doc["added_tokens"]) {
        const std::string content = added.at("content").get<std::string>();
        if (added.value("normalized", false) || added.value("single_word", false)) {
          return Status::InvalidArgument(path + ": added token \"" + content +
                                         "\" uses normalized or single_word, which is not "
                                         "supported");
        }
        if (content.empty()) continue;
        FE_RETURN_IF_ERROR(AddId(path, content, added.at("id"), t));
        t->added_tokens_.push_back({content, added.at("id").get<int32_t>(),
                                    added.value("lstrip", false), added.value("rstrip", false)});
      }
    }
    const json& truncation = doc.value("truncation", json());
    if (truncation.is_object()) t->default_max_tokens_ = truncation.value("max_length", size_t{0});
    return Status::OK();
  }

  static Status AddId(const std::string& path, const std::string& token, const json& id,
                      WordPieceTokenizer* t) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= hf::kMaxTokenId) {
      return hf::BadTokenId(path, token, id.dump());
    }
    hf::SetTokenId(token, static_cast<size_t>(id.get<int64_t>()), &t->id_to_token_,
                   &t->token_to_id_);
    return Status::OK();
  }

  static Status Finish(const std::string& source, WordPieceTokenizer* t) {
    const auto find = [&](const std::string& token, int32_t* id) -> Status {
      const auto it = t->token_to_id_.find(token);
      if (it == t->token_to_id_.end()) {
        return Status::InvalidArgument(source + ": vocab has no \"" + token + "\" token");
      }
      *id = it->second;
      return Status::OK();
    };
    FE_RETURN_IF_ERROR(find(t->settings_.unk_token, &t->unk_id_));
    FE_RETURN_IF_ERROR(find(t->settings_.cls_token, &t->cls_id_));
    FE_RETURN_IF_ERROR(find(t->settings_.sep_token, &t->sep_id_));
    if (!find("[PAD]", &t->pad_id_).ok()) t->pad_id_ = 0;
    for (const WordPieceTokenizer::AddedToken& added : t->added_tokens_) {
      t->added_first_bytes_.set(static_cast<unsigned char>(added.content[0]));
    }
    if (t->settings_.max_input_chars_per_word == 0) {
      return Status::InvalidArgument(source + ": max_input_chars_per_word is 0");
    }
    return Status::OK();
  }
};

Result<std::unique_ptr<WordPieceTokenizer>> WordPieceTokenizer::FromFiles(
    const std::string& vocab_path, const std::string& tokenizer_json_path,
    const VocabSettings& vocab_settings) {
  return WordPieceTokenizerLoader::Load(vocab_path, tokenizer_json_path, vocab_settings);
}

}  // namespace flashembed::encoders
