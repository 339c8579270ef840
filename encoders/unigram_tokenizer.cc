#include "encoders/unigram_tokenizer.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <limits>
#include <numeric>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/base64.h"
#include "base/utf8.h"
#include "encoders/hf_tokenizer_common.h"

namespace flashembed::encoders {
namespace {

using hf::NormChar;
using hf::Piece;

// models/unigram/model.rs K_UNK_PENALTY: an unknown char scores this much
// below the vocabulary's lowest score.
constexpr double kUnkPenalty = 10.0;

// spm_precompiled: a grapheme cluster shorter than this many bytes is looked
// up as a whole.
constexpr size_t kWholeGraphemeBytes = 6;

size_t EncodedLength(char32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

// One change of NormalizedString::transform: the char `cp` and what it does
// to the chars of the string before it: 0 replaces the next one, 1 is
// inserted, -n replaces the next one and removes n more.
struct Change {
  char32_t cp;
  int64_t change;
};

// tokenizer/normalizer.rs NormalizedString::transform_range over all of
// `chars`, in chars rather than bytes: `initial` chars are removed first,
// then each change takes the alignment of the char it replaces, or an
// inserted one that of the char before it (the section's start when there is
// none). Chars left over at the end are dropped, as in HF.
std::vector<NormChar> Transform(const std::vector<NormChar>& chars,
                                const std::vector<Change>& changes, size_t initial,
                                size_t section_begin) {
  std::vector<NormChar> out;
  out.reserve(changes.size());
  size_t i = std::min(initial, chars.size());
  for (const Change& c : changes) {
    size_t begin = section_begin, end = section_begin;
    if (c.change > 0) {
      if (i > 0) begin = chars[i - 1].begin, end = chars[i - 1].end;
    } else {
      if (i < chars.size()) {
        begin = chars[i].begin, end = chars[i].end;
      } else if (!chars.empty()) {
        begin = chars.back().begin, end = chars.back().end;
      }
      i = std::min(chars.size(), i + 1 + static_cast<size_t>(-c.change));
    }
    out.push_back({c.cp, begin, end});
  }
  return out;
}

// Appends the changes that replace `old_count` chars by `replacement`, as
// normalizers/precompiled.rs replace() does (a shorter replacement removes the
// difference with its last char, or with the char before it when it is
// empty; a longer one inserts the difference at its end).
void PushReplacement(std::vector<Change>* changes, size_t old_count, std::string_view replacement) {
  int64_t new_count = 0;
  for (size_t pos = 0; pos < replacement.size();) {
    const Utf8Char c = DecodeUtf8(replacement, pos);
    changes->push_back({c.cp, 0});
    pos += c.length;
    ++new_count;
  }
  const int64_t diff = new_count - static_cast<int64_t>(old_count);
  if (diff > 0) {
    for (int64_t k = 0; k < diff; ++k) (*changes)[changes->size() - 1 - k].change = 1;
  } else if (diff < 0 && !changes->empty()) {
    changes->back().change += diff;
  }
}

std::string Utf8Of(const NormChar* first, const NormChar* last) {
  std::string s;
  for (const NormChar* c = first; c != last; ++c) AppendUtf8(c->cp, &s);
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

class UnigramTokenizerEncoder {
 public:
  explicit UnigramTokenizerEncoder(const UnigramTokenizer& t) : t_(t) {}

  // The tokens of `text` before post-processing: added tokens and the
  // segments between them.
  std::vector<Piece> Pieces(std::string_view text) const;
  // The post-processing template `items` around the tokens of the first and
  // second text.
  static UnigramTokenizer::Encoding Apply(const std::vector<UnigramTokenizer::TemplateItem>& items,
                                          std::vector<Piece> first, std::vector<Piece> second);

  // Normalizes, pre-tokenizes and segments text[begin, end) (no added
  // tokens in it), appending its tokens to `pieces`.
  void Segment(std::string_view text, size_t begin, size_t end, std::vector<Piece>* pieces) const {
    if (begin == end) return;
    std::vector<NormChar> chars = hf::ToNormChars(text, begin, end);
    for (const UnigramTokenizer::NormalizerStep& step : t_.normalizer_) {
      switch (step.kind) {
        case UnigramTokenizer::NormalizerStep::Kind::kPrecompiled:
          chars = Precompiled(chars, begin);
          break;
        case UnigramTokenizer::NormalizerStep::Kind::kReplaceLiteral:
          chars = ReplaceLiteral(chars, step.pattern, step.content, begin);
          break;
        case UnigramTokenizer::NormalizerStep::Kind::kReplaceSpaceRuns:
          chars = ReplaceSpaceRuns(chars, step.content, begin);
          break;
        case UnigramTokenizer::NormalizerStep::Kind::kStrip:
          Strip(&chars, step.left, step.right);
          break;
      }
    }
    if (chars.empty()) return;
    // WhitespaceSplit (optional): words between whitespace chars.
    if (t_.whitespace_split_) {
      size_t i = 0;
      while (i < chars.size()) {
        while (i < chars.size() && hf::IsWhitespace(chars[i].cp)) ++i;
        size_t j = i;
        while (j < chars.size() && !hf::IsWhitespace(chars[j].cp)) ++j;
        if (j > i) {
          // A word split off starts where its first char came from.
          const bool at_start = chars[i].begin == 0;
          Metaspace(std::vector<NormChar>(chars.begin() + static_cast<std::ptrdiff_t>(i),
                                          chars.begin() + static_cast<std::ptrdiff_t>(j)),
                    at_start, pieces);
        }
        i = j;
      }
    } else {
      Metaspace(std::move(chars), begin == 0, pieces);
    }
  }

 private:
  // pre_tokenizers/metaspace.rs on one split (`at_start`: it begins the
  // text, which prepend_scheme "first" asks), then the model on each piece.
  void Metaspace(std::vector<NormChar> chars, bool at_start, std::vector<Piece>* pieces) const {
    for (NormChar& c : chars) {
      if (c.cp == ' ') c.cp = t_.replacement_cp_;
    }
    const bool prepend = t_.prepend_ == UnigramTokenizer::Prepend::kAlways ||
                         (t_.prepend_ == UnigramTokenizer::Prepend::kFirst && at_start);
    if (prepend && chars[0].cp != t_.replacement_cp_) {
      // NormalizedString::prepend: the new char takes the first char's place
      // and alignment, the first char is inserted after it with the same.
      chars.insert(chars.begin(), {t_.replacement_cp_, chars[0].begin, chars[0].end});
    }
    if (!t_.split_) {
      Model(chars.data(), chars.data() + chars.size(), pieces);
      return;
    }
    // Split, MergedWithNext: each replacement char starts a piece.
    size_t start = 0;
    for (size_t i = 1; i <= chars.size(); ++i) {
      if (i == chars.size() || chars[i].cp == t_.replacement_cp_) {
        Model(chars.data() + start, chars.data() + i, pieces);
        start = i;
      }
    }
  }

  // models/unigram/model.rs encode_optimized + tokenize on chars [first, last).
  void Model(const NormChar* first, const NormChar* last, std::vector<Piece>* pieces) const {
    if (first == last) return;
    std::string s;
    std::vector<uint32_t> char_of_byte;  // char index of each byte, and of s.size()
    for (const NormChar* c = first; c != last; ++c) {
      const size_t before = s.size();
      AppendUtf8(c->cp, &s);
      char_of_byte.insert(char_of_byte.end(), s.size() - before, static_cast<uint32_t>(c - first));
    }
    char_of_byte.push_back(static_cast<uint32_t>(last - first));
    const size_t n = s.size();
    struct Node {
      int32_t id = -1;
      double score = 0;
      int64_t start = -1;  // -1: not reached yet
    };
    std::vector<Node> best(n + 1);
    for (size_t at = 0; at < n;) {
      const double here = best[at].score;
      const size_t char_bytes = DecodeUtf8(s, at).length;
      bool single_char_piece = false;
      uint32_t node = 0;
      for (size_t k = at; k < n; ++k) {
        const std::optional<uint32_t> child = Child(node, static_cast<uint8_t>(s[k]));
        if (!child) break;
        node = *child;
        const int32_t id = t_.nodes_[node].piece;
        if (id < 0) continue;
        Node& target = best[k + 1];
        const double score = here + t_.scores_[static_cast<size_t>(id)];
        if (target.start < 0 || score > target.score) {
          target = {id, score, static_cast<int64_t>(at)};
        }
        if (k + 1 - at == char_bytes) single_char_piece = true;
      }
      if (!single_char_piece) {
        Node& target = best[at + char_bytes];
        const double score = here + t_.unk_score_;
        if (target.start < 0 || score > target.score) {
          target = {t_.unk_id_, score, static_cast<int64_t>(at)};
        }
      }
      at += char_bytes;
    }
    // Back from the end; runs of unk nodes fuse into one token.
    std::vector<std::pair<size_t, size_t>> spans;  // byte ranges, last first
    for (size_t end = n; end > 0;) {
      const Node& node = best[end];
      const auto start = static_cast<size_t>(node.start);
      spans.emplace_back(start, end);
      end = start;
    }
    std::reverse(spans.begin(), spans.end());
    std::vector<std::pair<size_t, size_t>> tokens;
    for (size_t i = 0; i < spans.size(); ++i) {
      const bool unk = best[spans[i].second].id == t_.unk_id_;
      if (unk && i > 0 && best[spans[i - 1].second].id == t_.unk_id_) {
        tokens.back().second = spans[i].second;
      } else {
        tokens.push_back(spans[i]);
      }
    }
    for (const auto& [b, e] : tokens) {
      std::string token = s.substr(b, e - b);
      const auto it = t_.token_to_id_.find(token);
      const int32_t id = it == t_.token_to_id_.end() ? t_.unk_id_ : it->second;
      const NormChar& head = first[char_of_byte[b]];
      const NormChar& tail = first[char_of_byte[e] - 1];
      pieces->push_back({id, std::move(token), head.begin, tail.end});
    }
  }

  std::optional<uint32_t> Child(uint32_t node, uint8_t byte) const {
    const UnigramTokenizer::TrieNode& n = t_.nodes_[node];
    const auto* begin = t_.edges_.data() + n.first_edge;
    const auto* end = begin + n.edge_count;
    const auto* it =
        std::lower_bound(begin, end, byte,
                         [](const UnigramTokenizer::TrieEdge& e, uint8_t b) { return e.byte < b; });
    if (it == end || it->byte != byte) return std::nullopt;
    return it->child;
  }

  // spm_precompiled's transform: the replacement of the shortest key that is
  // a prefix of `chunk` (the darts-clone common prefix search stops at a NUL
  // byte), or nullopt.
  std::optional<std::string_view> Lookup(std::string_view chunk) const {
    const std::vector<uint32_t>& units = t_.charsmap_units_;
    const auto offset = [](uint32_t unit) { return (unit >> 10) << ((unit & (1u << 9)) >> 6); };
    if (units.empty()) return std::nullopt;
    size_t pos = offset(units[0]);
    for (const char ch : chunk) {
      const auto byte = static_cast<uint8_t>(ch);
      if (byte == 0) break;
      pos ^= byte;
      if (pos >= units.size()) return std::nullopt;
      const uint32_t unit = units[pos];
      if ((unit & ((1u << 31) | 0xFF)) != byte) return std::nullopt;
      pos ^= offset(unit);
      if ((unit >> 8) & 1) {
        if (pos >= units.size()) return std::nullopt;
        const size_t value = units[pos] & ((1u << 31) - 1);
        if (value > t_.charsmap_pool_.size()) return std::nullopt;
        const std::string_view rest = std::string_view(t_.charsmap_pool_).substr(value);
        return rest.substr(0, std::min(rest.find('\0'), rest.size()));
      }
    }
    return std::nullopt;
  }

  // normalizers/precompiled.rs.
  std::vector<NormChar> Precompiled(const std::vector<NormChar>& chars, size_t section) const {
    std::vector<Change> changes;
    changes.reserve(chars.size());
    utf8proc_int32_t state = 0;
    for (size_t g = 0; g < chars.size();) {
      // The extended grapheme cluster [g, h).
      size_t h = g + 1;
      while (h < chars.size() && !utf8proc_grapheme_break_stateful(
                                     static_cast<utf8proc_int32_t>(chars[h - 1].cp),
                                     static_cast<utf8proc_int32_t>(chars[h].cp), &state)) {
        ++h;
      }
      size_t bytes = 0;
      for (size_t k = g; k < h; ++k) bytes += EncodedLength(chars[k].cp);
      bool done = false;
      if (bytes < kWholeGraphemeBytes) {
        const std::string grapheme = Utf8Of(&chars[g], &chars[h]);
        if (const auto replacement = Lookup(grapheme)) {
          PushReplacement(&changes, h - g, *replacement);
          done = true;
        }
      }
      for (size_t k = g; !done && k < h; ++k) {
        const std::string one = Utf8Of(&chars[k], &chars[k + 1]);
        if (const auto replacement = Lookup(one)) {
          PushReplacement(&changes, 1, *replacement);
        } else {
          changes.push_back({chars[k].cp, 0});
        }
      }
      g = h;
    }
    return Transform(chars, changes, 0, section);
  }

  // NormalizedString::replace of each match [i, j) by `content`: the matched
  // chars are removed and the content inserted with the alignment of the
  // last of them.
  static std::vector<NormChar> ReplaceMatches(const std::vector<NormChar>& chars,
                                              const std::vector<std::pair<size_t, size_t>>& matches,
                                              std::string_view content) {
    if (matches.empty()) return chars;
    std::vector<NormChar> out;
    out.reserve(chars.size());
    size_t at = 0;
    for (const auto& [i, j] : matches) {
      out.insert(out.end(), chars.begin() + static_cast<std::ptrdiff_t>(at),
                 chars.begin() + static_cast<std::ptrdiff_t>(i));
      for (size_t pos = 0; pos < content.size();) {
        const Utf8Char c = DecodeUtf8(content, pos);
        out.push_back({c.cp, chars[j - 1].begin, chars[j - 1].end});
        pos += c.length;
      }
      at = j;
    }
    out.insert(out.end(), chars.begin() + static_cast<std::ptrdiff_t>(at), chars.end());
    return out;
  }

  static std::vector<NormChar> ReplaceLiteral(const std::vector<NormChar>& chars,
                                              std::string_view pattern, std::string_view content,
                                              size_t /*section*/) {
    std::vector<char32_t> want;
    for (size_t pos = 0; pos < pattern.size();) {
      const Utf8Char c = DecodeUtf8(pattern, pos);
      want.push_back(c.cp);
      pos += c.length;
    }
    std::vector<std::pair<size_t, size_t>> matches;
    for (size_t i = 0; !want.empty() && i + want.size() <= chars.size();) {
      size_t k = 0;
      while (k < want.size() && chars[i + k].cp == want[k]) ++k;
      if (k == want.size()) {
        matches.emplace_back(i, i + k);
        i += k;
      } else {
        ++i;
      }
    }
    return ReplaceMatches(chars, matches, content);
  }

  // The regex " {2,}": runs of two or more U+0020.
  static std::vector<NormChar> ReplaceSpaceRuns(const std::vector<NormChar>& chars,
                                                std::string_view content, size_t /*section*/) {
    std::vector<std::pair<size_t, size_t>> matches;
    for (size_t i = 0; i < chars.size();) {
      size_t j = i;
      while (j < chars.size() && chars[j].cp == ' ') ++j;
      if (j - i >= 2) matches.emplace_back(i, j);
      i = j > i ? j : i + 1;
    }
    return ReplaceMatches(chars, matches, content);
  }

  static void Strip(std::vector<NormChar>* chars, bool left, bool right) {
    if (right) {
      while (!chars->empty() && hf::IsWhitespace(chars->back().cp)) chars->pop_back();
    }
    if (left) {
      size_t k = 0;
      while (k < chars->size() && hf::IsWhitespace((*chars)[k].cp)) ++k;
      chars->erase(chars->begin(), chars->begin() + static_cast<std::ptrdiff_t>(k));
    }
  }

  const UnigramTokenizer& t_;
};

UnigramTokenizer::~UnigramTokenizer() = default;

std::optional<int32_t> UnigramTokenizer::TokenToId(std::string_view token) const {
  const auto it = token_to_id_.find(token);
  if (it == token_to_id_.end()) return std::nullopt;
  return it->second;
}

std::string_view UnigramTokenizer::IdToToken(int32_t id) const {
  return hf::IdToToken(id_to_token_, id);
}

namespace {

// The check both Encode and EncodePair make of a text.
Status CheckText(std::string_view text, std::string_view which) {
  if (const size_t bad = FindInvalidUtf8(text); bad != std::string_view::npos) {
    return Status::InvalidArgument(
        fmt::format("invalid UTF-8 at byte {} of {}a {}-byte text", bad, which, text.size()));
  }
  return Status::OK();
}

Status CheckMaxTokens(size_t max_tokens, size_t specials) {
  if (max_tokens != 0 && max_tokens < specials) {
    return Status::InvalidArgument(
        fmt::format("max_tokens must be 0 (no limit) or at least {} (the special tokens), got {}",
                    specials, max_tokens));
  }
  return Status::OK();
}

}  // namespace

std::vector<Piece> UnigramTokenizerEncoder::Pieces(std::string_view text) const {
  // Added tokens are found on the raw text, leftmost-longest; lstrip /
  // rstrip swallow the whitespace beside them, which then belongs to the
  // token's text and offsets, as in HF.
  const auto match = [&](size_t pos, size_t floor) -> std::optional<Piece> {
    const auto* added =
        hf::LongestAddedToken(t_.added_tokens_, text.substr(pos), [](const auto&) { return true; });
    if (added == nullptr) return std::nullopt;
    const size_t begin = added->lstrip ? hf::SkipWhitespaceBackward(text, floor, pos) : pos;
    size_t end = pos + added->content.size();
    if (added->rstrip) end = hf::SkipWhitespaceForward(text, end);
    return Piece{added->id, std::string(text.substr(begin, end - begin)), begin, end};
  };
  return hf::SplitOnAddedTokens(text, match, *this);
}

UnigramTokenizer::Encoding UnigramTokenizerEncoder::Apply(
    const std::vector<UnigramTokenizer::TemplateItem>& items, std::vector<Piece> first,
    std::vector<Piece> second) {
  UnigramTokenizer::Encoding e;
  const size_t n = items.size() + first.size() + second.size();
  e.ids.reserve(n);
  e.tokens.reserve(n);
  e.offsets.reserve(n);
  e.type_ids.reserve(n);
  e.sequence_ids.reserve(n);
  for (const UnigramTokenizer::TemplateItem& item : items) {
    if (item.sequence < 0) {
      e.ids.push_back(item.id);
      e.tokens.push_back(item.token);
      e.offsets.emplace_back(0, 0);
      e.type_ids.push_back(item.type_id);
      e.sequence_ids.push_back(-1);
      continue;
    }
    for (Piece& piece : item.sequence == 0 ? first : second) {
      e.ids.push_back(piece.id);
      e.tokens.push_back(std::move(piece.token));
      e.offsets.emplace_back(piece.begin, piece.end);
      e.type_ids.push_back(item.type_id);
      e.sequence_ids.push_back(static_cast<int8_t>(item.sequence));
    }
  }
  return e;
}

Result<UnigramTokenizer::Encoding> UnigramTokenizer::Encode(std::string_view text,
                                                            size_t max_tokens) const {
  FE_RETURN_IF_ERROR(CheckText(text, ""));
  const size_t specials = single_special_tokens();
  FE_RETURN_IF_ERROR(CheckMaxTokens(max_tokens, specials));
  const UnigramTokenizerEncoder encoder(*this);
  std::vector<Piece> pieces = encoder.Pieces(text);
  if (max_tokens != 0 && pieces.size() + specials > max_tokens) {
    pieces.resize(max_tokens - specials);
  }
  return UnigramTokenizerEncoder::Apply(single_, std::move(pieces), {});
}

Result<UnigramTokenizer::Encoding> UnigramTokenizer::EncodeIds(std::span<const int32_t> ids,
                                                               size_t max_tokens) const {
  const size_t specials = single_special_tokens();
  FE_RETURN_IF_ERROR(CheckMaxTokens(max_tokens, specials));
  FE_ASSIGN_OR_RETURN(std::vector<Piece> pieces, hf::PiecesFromIds(ids, id_to_token_));
  if (max_tokens != 0 && pieces.size() + specials > max_tokens) {
    pieces.resize(max_tokens - specials);
  }
  return UnigramTokenizerEncoder::Apply(single_, std::move(pieces), {});
}

Result<UnigramTokenizer::Encoding> UnigramTokenizer::EncodePair(std::string_view first,
                                                                std::string_view second,
                                                                size_t max_tokens) const {
  FE_RETURN_IF_ERROR(CheckText(first, "the first text, "));
  FE_RETURN_IF_ERROR(CheckText(second, "the second text, "));
  const size_t specials = pair_special_tokens();
  FE_RETURN_IF_ERROR(CheckMaxTokens(max_tokens, specials));
  const UnigramTokenizerEncoder encoder(*this);
  std::vector<Piece> a = encoder.Pieces(first);
  std::vector<Piece> b = encoder.Pieces(second);
  if (max_tokens != 0) hf::TruncatePairLongestFirst(max_tokens - specials, &a, &b);
  return UnigramTokenizerEncoder::Apply(pair_, std::move(a), std::move(b));
}

size_t UnigramTokenizer::single_special_tokens() const {
  return static_cast<size_t>(std::count_if(single_.begin(), single_.end(),
                                           [](const TemplateItem& i) { return i.sequence < 0; }));
}

size_t UnigramTokenizer::pair_special_tokens() const {
  return static_cast<size_t>(std::count_if(pair_.begin(), pair_.end(),
                                           [](const TemplateItem& i) { return i.sequence < 0; }));
}

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

class UnigramTokenizerLoader {
 public:
  using json = nlohmann::json;

  static Result<std::unique_ptr<UnigramTokenizer>> Load(std::string_view text,
                                                        const std::string& name) {
    std::unique_ptr<UnigramTokenizer> t(new UnigramTokenizer());
    Status status;
    try {
      status = Parse(text, name, t.get());
    } catch (const json::exception& e) {
      status = Status::InvalidArgument(name + ": unexpected tokenizer.json content: " + e.what());
    }
    FE_RETURN_IF_ERROR(status);
    return t;
  }

 private:
  static std::string TypeOf(const json& v) {
    if (v.is_null()) return "null";
    if (v.is_object() && v.contains("type") && v["type"].is_string()) {
      return v["type"].get<std::string>();
    }
    return "?";
  }

  // The entries of a Sequence (its list under `key`), or the step itself.
  static std::vector<std::pair<std::string, json>> Steps(const json& v, const std::string& field,
                                                         const char* key) {
    std::vector<std::pair<std::string, json>> steps;
    if (v.is_null()) return steps;
    if (TypeOf(v) != "Sequence") {
      steps.emplace_back(field, v);
      return steps;
    }
    const json& list = v.at(key);
    for (size_t i = 0; i < list.size(); ++i) {
      steps.emplace_back(fmt::format("{}.{}[{}]", field, key, i), list[i]);
    }
    return steps;
  }

  static Status ParseCharsmap(const std::string& name, const std::string& field, const json& step,
                              UnigramTokenizer* t) {
    const json& encoded = step.at("precompiled_charsmap");
    if (encoded.is_null()) return Status::OK();
    auto bad = [&](const std::string& what) {
      return Status::InvalidArgument(name + ": " + field + ".precompiled_charsmap " + what);
    };
    if (!encoded.is_string()) return bad("is not a string");
    auto bytes = Base64Decode(encoded.get<std::string>());
    if (!bytes.ok()) return bad("is not base64: " + bytes.status().message());
    const std::string& blob = *bytes;
    if (blob.empty()) return Status::OK();
    if (blob.size() < 4) return bad("is shorter than its 4-byte header");
    uint32_t trie_bytes = 0;
    for (int k = 3; k >= 0; --k) trie_bytes = (trie_bytes << 8) | static_cast<uint8_t>(blob[k]);
    if (trie_bytes % 4 != 0 || trie_bytes > blob.size() - 4) {
      return bad(fmt::format("declares a {}-byte trie in {} bytes", trie_bytes, blob.size()));
    }
    if (!t->charsmap_units_.empty()) {
      return bad("is a second Precompiled step (only one is supported)");
    }
    t->charsmap_units_.resize(trie_bytes / 4);
    for (size_t u = 0; u < t->charsmap_units_.size(); ++u) {
      uint32_t v = 0;
      for (int k = 3; k >= 0; --k) v = (v << 8) | static_cast<uint8_t>(blob[4 + 4 * u + k]);
      t->charsmap_units_[u] = v;
    }
    t->charsmap_pool_ = blob.substr(4 + trie_bytes);
    if (!IsValidUtf8(t->charsmap_pool_)) return bad("holds replacements that are not UTF-8");
    if (t->charsmap_units_.empty()) return bad("has an empty trie");
    return Status::OK();
  }

  static Status ParseNormalizer(const json& doc, const std::string& name, UnigramTokenizer* t) {
    using Step = UnigramTokenizer::NormalizerStep;
    for (const auto& [field, step] :
         Steps(doc.value("normalizer", json()), "normalizer", "normalizers")) {
      const std::string type = TypeOf(step);
      if (type == "Precompiled") {
        FE_RETURN_IF_ERROR(ParseCharsmap(name, field, step, t));
        if (!t->charsmap_units_.empty()) t->normalizer_.push_back({Step::Kind::kPrecompiled});
      } else if (type == "Replace") {
        const json& pattern = step.at("pattern");
        Step s{Step::Kind::kReplaceLiteral};
        s.content = step.at("content").get<std::string>();
        if (pattern.contains("String")) {
          s.pattern = pattern["String"].get<std::string>();
          if (s.pattern.empty()) continue;
        } else if (pattern.contains("Regex") && pattern["Regex"] == " {2,}") {
          s.kind = Step::Kind::kReplaceSpaceRuns;
        } else {
          return Status::InvalidArgument(name + ": " + field + ".pattern " + pattern.dump() +
                                         " is not supported (a String, or the Regex \" {2,}\")");
        }
        if (!IsValidUtf8(s.content) || !IsValidUtf8(s.pattern)) {
          return Status::InvalidArgument(name + ": " + field + " holds invalid UTF-8");
        }
        t->normalizer_.push_back(std::move(s));
      } else if (type == "Strip") {
        Step s{Step::Kind::kStrip};
        s.left = step.value("strip_left", true);
        s.right = step.value("strip_right", true);
        t->normalizer_.push_back(std::move(s));
      } else {
        return Status::InvalidArgument(name + ": " + field + " is a \"" + type +
                                       "\" normalizer, which is not supported with a Unigram "
                                       "model (Precompiled, Replace, Strip)");
      }
    }
    return Status::OK();
  }

  static Status ParsePreTokenizer(const json& doc, const std::string& name, UnigramTokenizer* t) {
    const auto steps = Steps(doc.value("pre_tokenizer", json()), "pre_tokenizer", "pretokenizers");
    bool metaspace = false;
    for (size_t i = 0; i < steps.size(); ++i) {
      const auto& [field, step] = steps[i];
      const std::string type = TypeOf(step);
      if (type == "WhitespaceSplit" && i == 0 && steps.size() == 2) {
        t->whitespace_split_ = true;
      } else if (type == "Metaspace" && i + 1 == steps.size()) {
        metaspace = true;
        t->replacement_ = step.value("replacement", std::string("\u2581"));
        const std::optional<size_t> length = ::flashembed::Utf8Length(t->replacement_);
        if (!length || *length != 1) {
          return Status::InvalidArgument(name + ": " + field +
                                         ".replacement must be one character");
        }
        t->replacement_cp_ = DecodeUtf8(t->replacement_, 0).cp;
        t->split_ = step.value("split", true);
        if (step.contains("prepend_scheme") && !step["prepend_scheme"].is_null()) {
          const std::string scheme = step["prepend_scheme"].get<std::string>();
          if (scheme == "always") {
            t->prepend_ = UnigramTokenizer::Prepend::kAlways;
          } else if (scheme == "first") {
            t->prepend_ = UnigramTokenizer::Prepend::kFirst;
          } else if (scheme == "never") {
            t->prepend_ = UnigramTokenizer::Prepend::kNever;
          } else {
            return Status::InvalidArgument(name + ": " + field + ".prepend_scheme \"" + scheme +
                                           "\" is not one of always, first, never");
          }
        } else {
          t->prepend_ = step.value("add_prefix_space", true) ? UnigramTokenizer::Prepend::kAlways
                                                             : UnigramTokenizer::Prepend::kNever;
        }
      } else {
        return Status::InvalidArgument(
            name + ": " + field + " is a \"" + type +
            "\" pre-tokenizer here, which is not supported with a Unigram model (Metaspace, "
            "optionally after WhitespaceSplit)");
      }
    }
    if (!metaspace) {
      return Status::InvalidArgument(name +
                                     ": the pre_tokenizer has no Metaspace step, which a "
                                     "SentencePiece Unigram model needs");
    }
    return Status::OK();
  }

  static Status SetId(const std::string& name, const std::string& token, int64_t id,
                      UnigramTokenizer* t) {
    if (id < 0 || id >= hf::kMaxTokenId) return hf::BadTokenId(name, token, std::to_string(id));
    hf::SetTokenId(token, static_cast<size_t>(id), &t->id_to_token_, &t->token_to_id_);
    return Status::OK();
  }

  static Status ParseModel(const json& doc, const std::string& name, UnigramTokenizer* t) {
    const json& model = doc.at("model");
    if (TypeOf(model) != "Unigram") {
      return Status::InvalidArgument(name + ": model type \"" + TypeOf(model) +
                                     "\" is not handled by the Unigram tokenizer");
    }
    if (model.value("byte_fallback", false)) {
      return Status::InvalidArgument(name + ": model.byte_fallback true is not supported");
    }
    const json& vocab = model.at("vocab");
    if (!vocab.is_array() || vocab.empty()) {
      return Status::InvalidArgument(name + ": model.vocab must be a non-empty array");
    }
    if (static_cast<int64_t>(vocab.size()) >= hf::kMaxTokenId) {
      return Status::InvalidArgument(fmt::format("{}: model.vocab has {} pieces, more than {}",
                                                 name, vocab.size(), hf::kMaxTokenId - 1));
    }
    t->scores_.resize(vocab.size());
    double min_score = std::numeric_limits<double>::infinity();
    for (size_t id = 0; id < vocab.size(); ++id) {
      const json& entry = vocab[id];
      if (!entry.is_array() || entry.size() != 2 || !entry[0].is_string() ||
          !entry[1].is_number()) {
        return Status::InvalidArgument(
            fmt::format("{}: model.vocab[{}] is not a [piece, score] pair", name, id));
      }
      const std::string piece = entry[0].get<std::string>();
      if (!IsValidUtf8(piece)) {
        return Status::InvalidArgument(
            fmt::format("{}: model.vocab[{}] is not valid UTF-8", name, id));
      }
      t->scores_[id] = entry[1].get<double>();
      min_score = std::min(min_score, t->scores_[id]);
      FE_RETURN_IF_ERROR(SetId(name, piece, static_cast<int64_t>(id), t));
    }
    t->unk_score_ = min_score - kUnkPenalty;
    const json& unk = model.value("unk_id", json());
    if (!unk.is_number_integer() || unk.get<int64_t>() < 0 ||
        unk.get<int64_t>() >= static_cast<int64_t>(vocab.size())) {
      return Status::InvalidArgument(name + ": model.unk_id " + unk.dump() +
                                     " is not the index of a vocab piece");
    }
    t->unk_id_ = unk.get<int32_t>();
    BuildTrie(vocab, t);
    return Status::OK();
  }

  // The trie of the pieces, breadth first from their sorted list, each
  // node's edges contiguous and sorted by byte.
  static void BuildTrie(const json& vocab, UnigramTokenizer* t) {
    std::vector<std::string> pieces;
    pieces.reserve(vocab.size());
    for (const json& entry : vocab) {
      std::string piece = entry[0].get<std::string>();
      if (!piece.empty()) pieces.push_back(std::move(piece));
    }
    std::sort(pieces.begin(), pieces.end());
    pieces.erase(std::unique(pieces.begin(), pieces.end()), pieces.end());
    struct Pending {
      uint32_t node;
      size_t lo, hi, depth;
    };
    t->nodes_.assign(1, {});
    std::deque<Pending> queue{{0, 0, pieces.size(), 0}};
    while (!queue.empty()) {
      const Pending p = queue.front();
      queue.pop_front();
      size_t lo = p.lo;
      if (lo < p.hi && pieces[lo].size() == p.depth) {
        // HF looks a matched piece up by its string: the last id it has.
        t->nodes_[p.node].piece = t->token_to_id_.at(pieces[lo]);
        ++lo;
      }
      t->nodes_[p.node].first_edge = static_cast<uint32_t>(t->edges_.size());
      while (lo < p.hi) {
        const auto byte = static_cast<uint8_t>(pieces[lo][p.depth]);
        size_t hi = lo + 1;
        while (hi < p.hi && static_cast<uint8_t>(pieces[hi][p.depth]) == byte) ++hi;
        const auto child = static_cast<uint32_t>(t->nodes_.size());
        t->nodes_.push_back({});
        t->edges_.push_back({byte, child});
        queue.push_back({child, lo, hi, p.depth + 1});
        lo = hi;
      }
      t->nodes_[p.node].edge_count =
          static_cast<uint32_t>(t->edges_.size()) - t->nodes_[p.node].first_edge;
    }
  }

  static Status ParseAddedTokens(const json& doc, const std::string& name, UnigramTokenizer* t) {
    const json& added = doc.value("added_tokens", json::array());
    for (size_t i = 0; i < added.size(); ++i) {
      const json& a = added[i];
      const std::string content = a.at("content").get<std::string>();
      if (a.value("normalized", false) || a.value("single_word", false)) {
        return Status::InvalidArgument(name + ": added token \"" + content +
                                       "\" sets normalized or single_word, which is not "
                                       "supported");
      }
      if (content.empty() || !IsValidUtf8(content)) continue;
      FE_RETURN_IF_ERROR(SetId(name, content, a.at("id").get<int64_t>(), t));
      t->added_tokens_.push_back(
          {content, a.at("id").get<int32_t>(), a.value("lstrip", false), a.value("rstrip", false)});
    }
    return Status::OK();
  }

  static Result<UnigramTokenizer::TemplateItem> Special(const std::string& name,
                                                        const std::string& token,
                                                        const UnigramTokenizer& t) {
    const auto it = t.token_to_id_.find(token);
    if (it == t.token_to_id_.end()) {
      return Status::InvalidArgument(name + ": the post_processor's token \"" + token +
                                     "\" is not in the vocabulary");
    }
    UnigramTokenizer::TemplateItem item;
    item.id = it->second;
    item.token = token;
    return item;
  }

  static Status ParseTemplate(const std::string& name, const std::string& field, const json& list,
                              const json& specials, const UnigramTokenizer& t,
                              std::vector<UnigramTokenizer::TemplateItem>* out) {
    for (const json& piece : list) {
      if (piece.contains("Sequence")) {
        const json& seq = piece["Sequence"];
        const std::string id = seq.at("id").get<std::string>();
        if (id != "A" && id != "B") {
          return Status::InvalidArgument(name + ": " + field + " names sequence \"" + id + "\"");
        }
        UnigramTokenizer::TemplateItem item;
        item.sequence = id == "A" ? 0 : 1;
        item.type_id = seq.value("type_id", 0);
        out->push_back(item);
      } else if (piece.contains("SpecialToken")) {
        const json& sp = piece["SpecialToken"];
        const json& entry = specials.at(sp.at("id").get<std::string>());
        const json& tokens = entry.at("tokens");
        const json& ids = entry.at("ids");
        if (!tokens.is_array() || tokens.size() != ids.size()) {
          return Status::InvalidArgument(name + ": post_processor.special_tokens entry " +
                                         sp.at("id").dump() + " is malformed");
        }
        for (size_t k = 0; k < tokens.size(); ++k) {
          UnigramTokenizer::TemplateItem item;
          item.id = ids[k].get<int32_t>();
          item.token = tokens[k].get<std::string>();
          item.type_id = sp.value("type_id", 0);
          if (item.id < 0 || static_cast<size_t>(item.id) >= t.id_to_token_.size()) {
            return Status::InvalidArgument(fmt::format(
                "{}: the post_processor's token \"{}\" has id {}, outside the vocabulary", name,
                item.token, item.id));
          }
          out->push_back(std::move(item));
        }
      } else {
        return Status::InvalidArgument(name + ": " + field + " holds " + piece.dump());
      }
    }
    return Status::OK();
  }

  static Status ParsePostProcessor(const json& doc, const std::string& name, UnigramTokenizer* t) {
    const json& post = doc.value("post_processor", json());
    const std::string type = TypeOf(post);
    using Item = UnigramTokenizer::TemplateItem;
    if (type == "null") {
      t->single_ = {Item{0}};
      t->pair_ = {Item{0}, Item{1}};
    } else if (type == "TemplateProcessing") {
      FE_RETURN_IF_ERROR(ParseTemplate(name, "post_processor.single", post.at("single"),
                                       post.at("special_tokens"), *t, &t->single_));
      FE_RETURN_IF_ERROR(ParseTemplate(name, "post_processor.pair", post.at("pair"),
                                       post.at("special_tokens"), *t, &t->pair_));
    } else if (type == "RobertaProcessing" || type == "BertProcessing") {
      // cls A sep, and cls A sep (sep) B sep.
      FE_ASSIGN_OR_RETURN(Item cls, Special(name, post.at("cls").at(0).get<std::string>(), *t));
      FE_ASSIGN_OR_RETURN(Item sep, Special(name, post.at("sep").at(0).get<std::string>(), *t));
      t->single_ = {cls, Item{0}, sep};
      if (type == "RobertaProcessing") {
        t->pair_ = {cls, Item{0}, sep, sep, Item{1}, sep};
      } else {
        Item b{1};
        b.type_id = 1;
        Item sep1 = sep;
        sep1.type_id = 1;
        t->pair_ = {cls, Item{0}, sep, b, sep1};
      }
    } else {
      return Status::InvalidArgument(name + ": post_processor type \"" + type +
                                     "\" is not supported (TemplateProcessing, "
                                     "RobertaProcessing or BertProcessing)");
    }
    return Status::OK();
  }

  static Status Parse(std::string_view text, const std::string& name, UnigramTokenizer* t) {
    const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object()) {
      return Status::InvalidArgument(name + ": malformed JSON (expected a tokenizer.json object)");
    }
    FE_RETURN_IF_ERROR(ParseModel(doc, name, t));
    FE_RETURN_IF_ERROR(ParseNormalizer(doc, name, t));
    FE_RETURN_IF_ERROR(ParsePreTokenizer(doc, name, t));
    FE_RETURN_IF_ERROR(ParseAddedTokens(doc, name, t));
    FE_RETURN_IF_ERROR(ParsePostProcessor(doc, name, t));
    const json& truncation = doc.value("truncation", json());
    if (truncation.is_object()) t->default_max_tokens_ = truncation.value("max_length", size_t{0});
    return Status::OK();
  }
};

Result<std::unique_ptr<UnigramTokenizer>> UnigramTokenizer::FromFile(const std::string& path) {
  FE_ASSIGN_OR_RETURN(const std::string text, hf::ReadTokenizerFile(path));
  return UnigramTokenizerLoader::Load(text, path);
}

Result<std::unique_ptr<UnigramTokenizer>> UnigramTokenizer::FromJson(
    std::string_view json, const std::string& name_for_errors) {
  return UnigramTokenizerLoader::Load(json, name_for_errors);
}

}  // namespace flashembed::encoders
