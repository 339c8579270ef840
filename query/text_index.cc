#include "query/text_index.h"

#include <utf8proc.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <unordered_map>

#include "base/utf8.h"
#include "storage/records.h"

namespace flashembed::query {
namespace {

constexpr float kK1 = 1.2f;
constexpr float kB = 0.75f;

enum class CharClass { kSeparator, kWord, kCjk };

bool IsCjk(utf8proc_int32_t c) {
  return (c >= 0x3040 && c <= 0x30FF) ||  // Hiragana, Katakana
         (c >= 0x31F0 && c <= 0x31FF) ||  // Katakana phonetic extensions
         (c >= 0x3400 && c <= 0x4DBF) ||  // CJK extension A
         (c >= 0x4E00 && c <= 0x9FFF) ||  // CJK unified ideographs
         (c >= 0xAC00 && c <= 0xD7AF) ||  // Hangul syllables
         (c >= 0xF900 && c <= 0xFAFF) ||  // CJK compatibility ideographs
         (c >= 0x20000 && c <= 0x3134F);  // CJK extensions B..H
}

CharClass Classify(utf8proc_int32_t c) {
  if (IsCjk(c)) return CharClass::kCjk;
  switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO: return CharClass::kWord;
    default: return CharClass::kSeparator;
  }
}

// `text` with every byte that does not start a valid UTF-8 sequence
// replaced by a space, so normalisation never fails.
std::string ValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const Utf8Char u = DecodeUtf8(text, i);
    if (!u.ok()) {
      out.push_back(' ');
      ++i;
    } else {
      out.append(text.substr(i, u.length));
      i += u.length;
    }
  }
  return out;
}

// Term -> occurrences in one text.
std::map<std::string, uint32_t> TermCounts(std::string_view text, size_t* length) {
  std::map<std::string, uint32_t> counts;
  std::vector<std::string> terms = AnalyzeText(text);
  *length = terms.size();
  for (std::string& t : terms) ++counts[std::move(t)];
  return counts;
}

}  // namespace

std::vector<std::string> AnalyzeText(std::string_view text) {
  std::vector<std::string> terms;
  const std::string valid = ValidUtf8(text);
  utf8proc_uint8_t* mapped = nullptr;
  const utf8proc_ssize_t len =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(valid.data()),
                   static_cast<utf8proc_ssize_t>(valid.size()), &mapped,
                   static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE |
                                                  UTF8PROC_COMPAT | UTF8PROC_CASEFOLD));
  if (len < 0) return terms;  // cannot happen for valid UTF-8 but out of memory
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owned(mapped, &std::free);
  const std::string_view norm(reinterpret_cast<const char*>(mapped), static_cast<size_t>(len));

  std::string word;
  std::vector<std::string_view> cjk;  // the current run of CJK characters
  auto emit = [&](std::string term) {
    if (!term.empty() && term.size() <= kMaxTermBytes) terms.push_back(std::move(term));
  };
  auto flush_word = [&] {
    emit(std::move(word));
    word.clear();
  };
  auto flush_cjk = [&] {
    if (cjk.size() == 1) emit(std::string(cjk[0]));
    for (size_t i = 0; i + 1 < cjk.size(); ++i) emit(std::string(cjk[i]) + std::string(cjk[i + 1]));
    cjk.clear();
  };
  size_t i = 0;
  while (i < norm.size()) {
    const Utf8Char u = DecodeUtf8(norm, i);
    const size_t step = u.ok() ? u.length : 1;
    const std::string_view ch = norm.substr(i, step);
    i += step;
    const CharClass cls =
        u.ok() ? Classify(static_cast<utf8proc_int32_t>(u.cp)) : CharClass::kSeparator;
    if (cls == CharClass::kCjk) {
      flush_word();
      cjk.push_back(ch);
    } else if (cls == CharClass::kWord) {
      flush_cjk();
      word.append(ch);
    } else {
      flush_word();
      flush_cjk();
    }
  }
  flush_word();
  flush_cjk();
  return terms;
}

// ---- postings (keys and values: storage/records.h) ----------------------------

Status TextIndex::Load() {
  auto bytes = store_->Get(storage::Cf::kPostings, storage::TextStatsKey(cid_));
  if (bytes.status().IsNotFound()) {
    stats_ = TextStats();
    return Status::OK();
  }
  if (!bytes.ok()) return bytes.status();
  FE_ASSIGN_OR_RETURN(stats_, storage::DecodeTextStats(*bytes));
  return Status::OK();
}

size_t TextIndex::AppendAdd(uint64_t slot, std::string_view text, storage::WriteBatch* batch,
                            TextStats* stats) const {
  size_t length = 0;
  for (const auto& [term, tf] : TermCounts(text, &length)) {
    batch->Put(storage::Cf::kPostings, storage::PostingKey(cid_, term, slot),
               storage::EncodePosting(tf, length));
  }
  ++stats->documents;
  stats->terms += length;
  return length;
}

void TextIndex::AppendRemove(uint64_t slot, std::string_view text, storage::WriteBatch* batch,
                             TextStats* stats) const {
  size_t length = 0;
  for (const auto& [term, tf] : TermCounts(text, &length)) {
    batch->Delete(storage::Cf::kPostings, storage::PostingKey(cid_, term, slot));
  }
  if (stats->documents > 0) --stats->documents;
  stats->terms -= std::min<uint64_t>(stats->terms, length);
}

void TextIndex::AppendStats(const TextStats& stats, storage::WriteBatch* batch) const {
  batch->Put(storage::Cf::kPostings, storage::TextStatsKey(cid_), storage::EncodeTextStats(stats));
}

void TextIndex::AppendDropAll(uint32_t cid, storage::WriteBatch* batch) {
  batch->DeleteRange(storage::Cf::kPostings, storage::CollectionPrefix(cid),
                     storage::CollectionEnd(cid));
}

Result<std::vector<TextHit>> TextIndex::Search(std::string_view query, size_t k,
                                               const std::function<bool(uint64_t)>& admit) const {
  std::map<std::string, uint32_t> query_terms;
  for (std::string& t : AnalyzeText(query)) ++query_terms[std::move(t)];
  if (query_terms.empty()) {
    return Status::InvalidArgument("the full-text query has no words to match");
  }
  // One point in time for the statistics and every posting list.
  const storage::ReadView view = store_->NewReadView();
  TextStats stats;
  {
    auto bytes = store_->Get(storage::Cf::kPostings, storage::TextStatsKey(cid_), &view);
    if (bytes.ok()) {
      FE_ASSIGN_OR_RETURN(stats, storage::DecodeTextStats(*bytes));
    } else if (!bytes.status().IsNotFound()) {
      return bytes.status();
    }
  }
  if (stats.documents == 0) return std::vector<TextHit>();
  const double n = static_cast<double>(stats.documents);
  const double avg_length = std::max(1.0, static_cast<double>(stats.terms) / n);
  std::unordered_map<uint64_t, float> scores;
  for (const auto& [term, query_tf] : query_terms) {
    std::vector<std::pair<uint64_t, float>> postings;  // slot, BM25 tf part
    Status bad;
    FE_RETURN_IF_ERROR(store_->Scan(
        storage::Cf::kPostings, storage::PostingsBegin(cid_, term),
        storage::PostingsEnd(cid_, term),
        [&](std::string_view key, std::string_view value) {
          auto posting = storage::DecodePosting(term, key, value);
          if (!posting.ok()) {
            bad = posting.status();
            return false;
          }
          const double t = static_cast<double>(posting->tf);
          const double norm =
              kK1 * (1 - kB + kB * static_cast<double>(posting->length) / avg_length);
          postings.emplace_back(posting->slot, static_cast<float>(t * (kK1 + 1) / (t + norm)));
          return true;
        },
        &view));
    FE_RETURN_IF_ERROR(bad);
    if (postings.empty()) continue;
    const double df = static_cast<double>(postings.size());
    const float idf = static_cast<float>(std::log(1 + (n - df + 0.5) / (df + 0.5))) *
                      static_cast<float>(query_tf);
    for (const auto& [slot, part] : postings) {
      if (admit && !admit(slot)) continue;
      scores[slot] += idf * part;
    }
  }
  std::vector<TextHit> hits;
  hits.reserve(scores.size());
  for (const auto& [slot, score] : scores) hits.push_back({slot, score});
  auto better = [](const TextHit& a, const TextHit& b) {
    return a.score != b.score ? a.score > b.score : a.slot < b.slot;
  };
  const size_t keep = std::min(k, hits.size());
  std::partial_sort(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(keep), hits.end(),
                    better);
  hits.resize(keep);
  return hits;
}

}  // namespace flashembed::query
