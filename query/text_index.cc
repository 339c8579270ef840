#include "query/text_index.h"

#include <utf8proc.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>

#include "base/utf8.h"
#include "query/posting_cache.h"
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

TextIndex::TextIndex(storage::Store* store, uint32_t cid, std::shared_ptr<PostingCache> cache)
    : store_(store),
      cid_(cid),
      cache_(cache && cache->capacity() > 0 ? std::move(cache) : nullptr),
      owner_(cache_ ? cache_->NewOwner() : 0) {}

TextIndex::~TextIndex() { ReleaseCache(); }

Status TextIndex::Load() {
  auto bytes = store_->Get(storage::Cf::kPostings, storage::TextStatsKey(cid_));
  TextStats stats;  // zero for a new collection
  if (bytes.ok()) {
    FE_ASSIGN_OR_RETURN(stats, storage::DecodeTextStats(*bytes));
  } else if (!bytes.status().IsNotFound()) {
    return bytes.status();
  }
  std::lock_guard<std::mutex> lock(mu_);
  stats_ = stats;
  return Status::OK();
}

Status TextIndex::Reload() {
  FE_RETURN_IF_ERROR(Load());
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  if (cache_) cache_->EraseOwner(owner_);
  return Status::OK();
}

void TextIndex::BeginWrite() {
  if (writing_) return;
  writing_ = true;
  std::lock_guard<std::mutex> lock(mu_);
  bypass_ = true;
  ++generation_;
}

void TextIndex::set_stats(const TextStats& stats) {
  std::lock_guard<std::mutex> lock(mu_);
  stats_ = stats;
  if (cache_) cache_->EraseTerms(owner_, written_terms_);
  written_terms_.clear();
  writing_ = false;
  bypass_ = false;
}

size_t TextIndex::AppendAdd(uint64_t slot, std::string_view text, storage::WriteBatch* batch,
                            TextStats* stats) {
  BeginWrite();
  size_t length = 0;
  for (const auto& [term, tf] : TermCounts(text, &length)) {
    batch->Put(storage::Cf::kPostings, storage::PostingKey(cid_, term, slot),
               storage::EncodePosting(tf, length));
    if (cache_) written_terms_.insert(term);
  }
  ++stats->documents;
  stats->terms += length;
  return length;
}

void TextIndex::AppendRemove(uint64_t slot, std::string_view text, storage::WriteBatch* batch,
                             TextStats* stats) {
  BeginWrite();
  size_t length = 0;
  for (const auto& [term, tf] : TermCounts(text, &length)) {
    batch->Delete(storage::Cf::kPostings, storage::PostingKey(cid_, term, slot));
    if (cache_) written_terms_.insert(term);
  }
  if (stats->documents > 0) --stats->documents;
  stats->terms -= std::min<uint64_t>(stats->terms, length);
}

void TextIndex::AppendStats(const TextStats& stats, storage::WriteBatch* batch) {
  BeginWrite();
  batch->Put(storage::Cf::kPostings, storage::TextStatsKey(cid_), storage::EncodeTextStats(stats));
}

void TextIndex::AppendDropAll(uint32_t cid, storage::WriteBatch* batch) {
  batch->DeleteRange(storage::Cf::kPostings, storage::CollectionPrefix(cid),
                     storage::CollectionEnd(cid));
}

void TextIndex::ReleaseCache() {
  if (!cache_) return;
  std::lock_guard<std::mutex> lock(mu_);
  released_ = true;
  cache_->EraseOwner(owner_);
}

size_t TextIndex::cached_bytes() const { return cache_ ? cache_->bytes(owner_) : 0; }

Status TextIndex::ReadPostings(std::string_view term, const storage::ReadView& view,
                               PostingList* list) const {
  Status bad;
  FE_RETURN_IF_ERROR(store_->Scan(
      storage::Cf::kPostings, storage::PostingsBegin(cid_, term), storage::PostingsEnd(cid_, term),
      [&](std::string_view key, std::string_view value) {
        auto posting = storage::DecodePosting(term, key, value);
        if (!posting.ok()) {
          bad = posting.status();
          return false;
        }
        // A document's length in terms is below its text's length in bytes,
        // and a stored text is below 4 GiB (a RocksDB value).
        if (posting->length > UINT32_MAX || posting->tf > UINT32_MAX) {
          bad = Status::Corruption("full-text posting of term \"" + std::string(term) +
                                   "\" is out of range");
          return false;
        }
        list->slots.push_back(posting->slot);
        list->tf.push_back(static_cast<uint32_t>(posting->tf));
        list->length.push_back(static_cast<uint32_t>(posting->length));
        return true;
      },
      &view));
  FE_RETURN_IF_ERROR(bad);
  list->slots.shrink_to_fit();
  list->tf.shrink_to_fit();
  list->length.shrink_to_fit();
  return Status::OK();
}

namespace {

// The BM25 term-frequency part of one posting: tf (k1 + 1) / (tf + k1 (1 -
// b + b length / avg_length)).
float TfPart(uint32_t tf, uint32_t length, double avg_length) {
  const double t = static_cast<double>(tf);
  const double norm = kK1 * (1 - kB + kB * static_cast<double>(length) / avg_length);
  return static_cast<float>(t * (kK1 + 1) / (t + norm));
}

std::shared_ptr<const PostingParts> PartsFor(const PostingList& list, double avg_length) {
  auto parts = std::make_shared<PostingParts>();
  parts->avg_length = avg_length;
  parts->values.resize(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    parts->values[i] = TfPart(list.tf[i], list.length[i], avg_length);
  }
  return parts;
}

// A query term and its postings.
struct QueryTerm {
  std::string_view term;
  uint32_t query_tf = 0;
  std::shared_ptr<const PostingList> list;
  std::shared_ptr<const PostingParts> parts;
  bool read = false;       // list read from the store by this search
  bool new_parts = false;  // parts computed by this search
  float idf = 0;           // times query_tf
};

// Calls `add(slot, idf, part)` for every posting of `terms`, term by term
// in their order, so that however the scores are kept each document's sum
// adds the same floats in the same order. `add` computes score += idf * part
// as one expression (a compiler that fuses it into one multiply-add does so
// wherever it is kept).
template <typename Add>
void Accumulate(const std::vector<QueryTerm>& terms, Add add) {
  for (const QueryTerm& t : terms) {
    if (t.list->size() == 0) continue;
    const uint64_t* slots = t.list->slots.data();
    const float* parts = t.parts->values.data();
    const float idf = t.idf;
    for (size_t i = 0, n = t.list->size(); i < n; ++i) add(slots[i], idf, parts[i]);
  }
}

// The k best of the hits offered (higher score, then lower slot: a total
// order, so the result does not depend on the order of the offers), kept as
// a heap with the worst on top: most offers cost one comparison.
class TopHits {
 public:
  explicit TopHits(size_t k) : k_(k) {}
  void Offer(const TextHit& hit) {
    if (heap_.size() < k_) {
      Push(hit);
    } else if (k_ > 0 && Better(hit, heap_.front())) {
      Replace(hit);
    }
  }
  // Best first.
  std::vector<TextHit> Take() {
    std::sort_heap(heap_.begin(), heap_.end(), Better);
    return std::move(heap_);
  }

 private:
  // A type rather than a function, so the heap algorithms inline it.
  struct IsBetter {
    bool operator()(const TextHit& a, const TextHit& b) const {
      return a.score != b.score ? a.score > b.score : a.slot < b.slot;
    }
  };
  static constexpr IsBetter Better{};
  // Out of line, so that Offer's one comparison is inlined in the loops.
  [[gnu::noinline]] void Push(const TextHit& hit) {
    heap_.push_back(hit);
    std::push_heap(heap_.begin(), heap_.end(), Better);
  }
  // `hit` replaces the worst (the top), sifted down to its place.
  [[gnu::noinline]] void Replace(const TextHit& hit) {
    const size_t n = heap_.size();
    size_t i = 0;
    for (size_t child = 1; child < n; child = 2 * i + 1) {
      if (child + 1 < n && Better(heap_[child], heap_[child + 1])) ++child;  // the worse child
      if (!Better(hit, heap_[child])) break;
      heap_[i] = heap_[child];
      i = child;
    }
    heap_[i] = hit;
  }
  const size_t k_;
  std::vector<TextHit> heap_;
};

}  // namespace

Result<std::vector<TextHit>> TextIndex::Search(std::string_view query, size_t k,
                                               const std::function<bool(uint64_t)>& admit) const {
  std::map<std::string, uint32_t> query_terms;
  for (std::string& t : AnalyzeText(query)) ++query_terms[std::move(t)];
  if (query_terms.empty()) {
    return Status::InvalidArgument("the full-text query has no words to match");
  }
  std::vector<QueryTerm> terms;
  terms.reserve(query_terms.size());
  for (const auto& [term, query_tf] : query_terms) {
    terms.push_back({.term = term, .query_tf = query_tf});
  }

  // The statistics and every posting list of one point in time: cached lists
  // with the statistics they were cached under and a read view taken then,
  // or (no cache, or a write in progress) everything from one read view.
  std::optional<storage::ReadView> view;
  TextStats stats;
  bool cached = false;
  uint64_t generation = 0;
  if (cache_) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!bypass_ && !released_) {
      cached = true;
      generation = generation_;
      stats = stats_;
      bool missing = false;
      for (QueryTerm& t : terms) {
        CachedPostings c = cache_->Get(owner_, t.term);
        t.list = std::move(c.list);
        t.parts = std::move(c.parts);
        missing = missing || !t.list;
      }
      // No write is between its store write and set_stats (bypass_ is
      // clear), so the store holds what the cache and stats_ describe.
      if (missing && stats.documents > 0) view.emplace(store_->NewReadView());
    }
  }
  if (!cached) {
    view.emplace(store_->NewReadView());
    auto bytes = store_->Get(storage::Cf::kPostings, storage::TextStatsKey(cid_), &*view);
    if (bytes.ok()) {
      FE_ASSIGN_OR_RETURN(stats, storage::DecodeTextStats(*bytes));
    } else if (!bytes.status().IsNotFound()) {
      return bytes.status();
    }
  }
  if (stats.documents == 0) return std::vector<TextHit>();
  const double n = static_cast<double>(stats.documents);
  const double avg_length = std::max(1.0, static_cast<double>(stats.terms) / n);

  bool to_cache = false;
  uint64_t lowest = UINT64_MAX, highest = 0;
  size_t postings = 0;
  for (QueryTerm& t : terms) {
    if (!t.list) {
      auto list = std::make_shared<PostingList>();
      FE_RETURN_IF_ERROR(ReadPostings(t.term, *view, list.get()));
      t.list = std::move(list);
      t.read = true;
    }
    if (!t.parts || t.parts->avg_length != avg_length) {
      t.parts = PartsFor(*t.list, avg_length);
      t.new_parts = true;
    }
    to_cache = to_cache || t.read || t.new_parts;
    if (t.list->size() == 0) continue;
    const double df = static_cast<double>(t.list->size());
    t.idf = static_cast<float>(std::log(1 + (n - df + 0.5) / (df + 0.5))) *
            static_cast<float>(t.query_tf);
    lowest = std::min(lowest, t.list->slots.front());
    highest = std::max(highest, t.list->slots.back());
    postings += t.list->size();
  }
  if (cached && to_cache) {
    if (before_caching_) before_caching_();
    std::lock_guard<std::mutex> lock(mu_);
    // Only if no write began since this search's point in time.
    if (generation_ == generation && !released_) {
      for (const QueryTerm& t : terms) {
        if (t.read) {
          cache_->Put(owner_, t.term, {.list = t.list, .parts = t.parts});
        } else if (t.new_parts) {
          cache_->SetParts(owner_, t.term, t.list.get(), t.parts);
        }
      }
    }
  }

  TopHits top(k);
  if (postings > 0) {
    const uint64_t range = highest - lowest + 1;
    if (range <= std::max<uint64_t>(4096, 8 * static_cast<uint64_t>(postings))) {
      // Dense: a score per slot of the lists' range, and which were touched.
      std::vector<float> scores(range, 0.0f);
      std::vector<uint64_t> touched((range + 63) / 64, 0);
      Accumulate(terms, [&](uint64_t slot, float idf, float part) {
        const uint64_t i = slot - lowest;
        scores[i] += idf * part;
        touched[i >> 6] |= uint64_t{1} << (i & 63);
      });
      for (size_t w = 0; w < touched.size(); ++w) {
        for (uint64_t bits = touched[w]; bits != 0; bits &= bits - 1) {
          const uint64_t i = w * 64 + static_cast<uint64_t>(std::countr_zero(bits));
          const uint64_t slot = lowest + i;
          if (admit && !admit(slot)) continue;
          top.Offer({slot, scores[i]});
        }
      }
    } else {
      // Slots spread thinly (many slots written since the lists' documents).
      std::unordered_map<uint64_t, float> scores;
      Accumulate(terms, [&](uint64_t slot, float idf, float part) { scores[slot] += idf * part; });
      for (const auto& [slot, score] : scores) {
        if (admit && !admit(slot)) continue;
        top.Offer({slot, score});
      }
    }
  }
  return top.Take();
}

}  // namespace flashembed::query
