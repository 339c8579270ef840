#include "encoders/hashing_encoder.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "encoders/text_features.h"

namespace flashembed::encoders {
namespace {

// ---------------------------------------------------------------------------
// Feature keys and hashing (frozen for hash/v1: changing anything here changes
// every stored vector and needs a new spec version).
//
// A feature key is a 64-bit hash whose low 3 bits are replaced by the feature
// family. Bit 3 gives the sign, bits 32..63 the bucket (multiply-shift range
// reduction, so any dim works without modulo bias worth caring about).
// ---------------------------------------------------------------------------

enum Family : uint64_t {
  kWordUnigram = 0,
  kWordNgram = 1,
  kCharNgram = 2,
  kCjkUnigram = 3,
  kCjkNgram = 4,
  kSymbol = 5,
  kPunct = 6,
};
constexpr uint64_t kFamilyMask = 7;
constexpr uint64_t kSignBit = 8;

// Per-family weights. A word of 6 letters yields ~15 character n-grams, so
// 15 * 0.25^2 ~= 0.9: words and their spelling carry about equal mass. Word
// n-grams add order, a little less than the words themselves. For scripts
// without spaces the bigrams are the word-like unit, so they weigh most.
constexpr std::array<float, 8> kFamilyWeight = {
    1.0f,   // kWordUnigram
    0.6f,   // kWordNgram
    0.25f,  // kCharNgram
    0.8f,   // kCjkUnigram
    1.0f,   // kCjkNgram
    0.5f,   // kSymbol
    1.0f,   // kPunct (only used when nothing else is present)
    0.0f,   // unused
};

// Fixed seeds, one per kind of hashed sequence (arbitrary odd constants).
constexpr uint64_t kSeedWord = 0x243f6a8885a308d3;
constexpr uint64_t kSeedWordNgram = 0x13198a2e03707345;
constexpr uint64_t kSeedChar = 0xa4093822299f31d1;
constexpr uint64_t kSeedCjk = 0x082efa98ec4e6c89;
constexpr uint64_t kSeedCjkNgram = 0x452821e638d01377;
constexpr uint64_t kSeedSymbol = 0xbe5466cf34e90c6d;
constexpr uint64_t kSeedPunct = 0xc0ac29b7c97c50dd;

// Padding around words for character n-grams; outside the Unicode range so
// they never equal a real code point.
constexpr uint32_t kBeginOfWord = 0x110000;
constexpr uint32_t kEndOfWord = 0x110001;

// One absorption step: xor the value in, then an odd multiply (spreads low
// bits upward) and an xor-shift (folds high bits back down). Each step is a
// bijection of the state for a fixed value, so sequences that differ only in
// their last element never collide.
inline uint64_t MixIn(uint64_t h, uint64_t v) {
  h ^= v;
  h *= 0x9e3779b97f4a7c15;
  return h ^ (h >> 29);
}

// Final avalanche so every output bit depends on every input bit.
inline uint64_t Finalize(uint64_t h) {
  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9;
  h ^= h >> 27;
  h *= 0x94d049bb133111eb;
  return h ^ (h >> 33);
}

// ---------------------------------------------------------------------------
// FeatureCounter: term frequency per distinct feature key.
//
// Open addressing with linear probing; `used_` lists the occupied slots so
// clearing and iteration cost O(distinct features), not O(capacity). Memory
// is O(distinct features) however long the text. Iteration order is
// arbitrary; the weighting below is exact, so order does not matter.
// ---------------------------------------------------------------------------

class FeatureCounter {
 public:
  void Clear() {
    for (size_t i : used_) slots_[i].count = 0;
    used_.clear();
  }

  void Add(uint64_t hash, Family family) {
    if (slots_.empty()) Rehash(kInitialCapacity);
    const uint64_t key = (hash & ~kFamilyMask) | family;
    const size_t mask = slots_.size() - 1;
    // Bits 4..31 are not used for the bucket or sign; any well-mixed bits do.
    for (size_t i = static_cast<size_t>(key >> 4) & mask;; i = (i + 1) & mask) {
      Slot& slot = slots_[i];
      if (slot.count == 0) {
        slot.key = key;
        slot.count = 1;
        used_.push_back(i);
        if (used_.size() * 2 > slots_.size()) Rehash(slots_.size() * 2);
        return;
      }
      if (slot.key == key) {
        ++slot.count;
        return;
      }
    }
  }

  size_t MemoryBytes() const {
    return slots_.capacity() * sizeof(Slot) + used_.capacity() * sizeof(size_t);
  }

  // Calls fn(key, count) once per distinct key.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (size_t i : used_) fn(slots_[i].key, slots_[i].count);
  }

 private:
  static constexpr size_t kInitialCapacity = 512;  // power of two

  struct Slot {
    uint64_t key = 0;
    uint64_t count = 0;  // 0 = empty
  };

  void Rehash(size_t capacity) {
    std::vector<Slot> old(capacity);
    old.swap(slots_);
    std::vector<size_t> old_used;
    old_used.swap(used_);
    used_.reserve(capacity / 2);
    const size_t mask = capacity - 1;
    for (size_t j : old_used) {
      size_t i = static_cast<size_t>(old[j].key >> 4) & mask;
      while (slots_[i].count != 0) i = (i + 1) & mask;
      slots_[i] = old[j];
      used_.push_back(i);
    }
  }

  std::vector<Slot> slots_;
  std::vector<size_t> used_;
};

// ---------------------------------------------------------------------------
// FeatureExtractor: the TextSegmenter sink that hashes each unit and its
// n-grams into the counter.
// ---------------------------------------------------------------------------

class FeatureExtractor {
 public:
  FeatureExtractor(const HashingEncoder::Options& options, FeatureCounter* counter)
      : char_min_(options.char_ngram_min),
        char_max_(options.char_ngram_max),
        word_max_(options.word_ngram_max),
        cjk_max_(options.cjk_ngram_max),
        counter_(counter) {}

  // True if any feature other than punctuation was produced.
  bool has_content() const { return has_content_; }
  bool has_punct() const { return has_punct_; }

  // The TextSegmenter sink.
  void BeginWord() {
    word_hash_ = kSeedWord;
    window_len_ = 0;
    PushWindow(kBeginOfWord);
  }

  void WordChar(uint32_t cp) {
    word_hash_ = MixIn(word_hash_, cp);
    PushWindow(cp);
    EmitCharNgrams(/*min_n=*/char_min_);
  }

  void EndWord() {
    PushWindow(kEndOfWord);
    // A lone end marker is not a feature.
    EmitCharNgrams(/*min_n=*/std::max(char_min_, 2));

    const uint64_t word = Finalize(word_hash_);
    counter_->Add(word, kWordUnigram);
    EmitNgramsOfHashes(word, kSeedWordNgram, word_max_, prev_words_.data(), &num_prev_words_,
                       kWordNgram);
    has_content_ = true;
  }

  void BeginUnit(uint32_t cp) { unit_hash_ = MixIn(kSeedCjk, cp); }
  void UnitMark(uint32_t cp) { unit_hash_ = MixIn(unit_hash_, cp); }

  void EndUnit() {
    const uint64_t unit = Finalize(unit_hash_);
    counter_->Add(unit, kCjkUnigram);
    EmitNgramsOfHashes(unit, kSeedCjkNgram, cjk_max_, prev_units_.data(), &num_prev_units_,
                       kCjkNgram);
    has_content_ = true;
  }

  void EndRun() { num_prev_units_ = 0; }

  void Symbol(uint32_t cp) {
    counter_->Add(Finalize(MixIn(kSeedSymbol, cp)), kSymbol);
    has_content_ = true;
  }

  void Punct(uint32_t cp) {
    counter_->Add(Finalize(MixIn(kSeedPunct, cp)), kPunct);
    has_punct_ = true;
  }

 private:
  void PushWindow(uint32_t cp) {
    // Fixed-size shift (the newest element is always last) keeps indices
    // compile-time bounded; char_max_ only limits how much of it is used.
    for (size_t k = 1; k < window_.size(); ++k) window_[k - 1] = window_[k];
    window_.back() = cp;
    window_len_ = std::min(window_len_ + 1, char_max_);
  }

  // Emits the n-grams (min_n <= n <= char_max_) that end at the newest
  // window element. Each n-gram is hashed newest-first, so all lengths share
  // one pass: O(char_max_) per code point.
  void EmitCharNgrams(int min_n) {
    uint64_t h = kSeedChar;
    for (int n = 1; n <= window_len_; ++n) {
      h = MixIn(h, window_[window_.size() - static_cast<size_t>(n)]);
      if (n >= min_n) counter_->Add(Finalize(h), kCharNgram);
    }
  }

  // Emits n-grams (2 <= n <= max_n) of `prev[0..*num_prev)` followed by
  // `newest`, then appends `newest` to `prev` (capacity max_n - 1).
  void EmitNgramsOfHashes(uint64_t newest, uint64_t seed, int max_n, uint64_t* prev, int* num_prev,
                          Family family) {
    for (int n = 2; n <= max_n && n - 1 <= *num_prev; ++n) {
      uint64_t h = MixIn(seed, static_cast<uint64_t>(n));
      for (int k = *num_prev - (n - 1); k < *num_prev; ++k) h = MixIn(h, prev[k]);
      counter_->Add(Finalize(MixIn(h, newest)), family);
    }
    const int capacity = max_n - 1;
    if (capacity == 0) return;
    if (*num_prev == capacity) {
      for (int k = 1; k < capacity; ++k) prev[k - 1] = prev[k];
      prev[capacity - 1] = newest;
    } else {
      prev[(*num_prev)++] = newest;
    }
  }

  const int char_min_;
  const int char_max_;
  const int word_max_;
  const int cjk_max_;
  FeatureCounter* const counter_;

  // Word in progress: hash of its code points and the last window_len_
  // (<= char_max_) code points of the padded word, at the end of window_.
  uint64_t word_hash_ = 0;
  std::array<uint32_t, HashingEncoder::kMaxCharNgram> window_{};
  int window_len_ = 0;
  // Hashes of the previous words, oldest first.
  std::array<uint64_t, HashingEncoder::kMaxWordNgram - 1> prev_words_{};
  int num_prev_words_ = 0;

  // Character (plus marks) of a script without spaces in progress, and the
  // previous characters of the current run.
  uint64_t unit_hash_ = 0;
  std::array<uint64_t, HashingEncoder::kMaxCjkNgram - 1> prev_units_{};
  int num_prev_units_ = 0;

  bool has_content_ = false;
  bool has_punct_ = false;
};

// ---------------------------------------------------------------------------
// Weighting: exact fixed-point sums, so the result does not depend on the
// order features were counted in (nor on segmenting or batch position).
// ---------------------------------------------------------------------------

// Weights are rounded to multiples of 2^-24 (finer than float resolution
// near 1). An int64 bucket cannot overflow below ~10^11 features.
constexpr double kFixedOne = 16777216.0;  // 2^24
constexpr uint64_t kTfTableSize = 64;

// Fixed-point family_weight * (1 + ln tf), the sub-linear term weight.
int64_t ComputeFixedWeight(uint64_t family, uint64_t tf) {
  const double tf_weight = 1.0 + std::log(static_cast<double>(tf));
  return std::llround(static_cast<double>(kFamilyWeight[family]) * tf_weight * kFixedOne);
}

using FixedWeightTable = std::array<std::array<int64_t, kTfTableSize>, kFamilyWeight.size()>;
FixedWeightTable MakeFixedWeightTable() {
  FixedWeightTable table{};
  for (uint64_t family = 0; family < table.size(); ++family) {
    for (uint64_t tf = 1; tf < kTfTableSize; ++tf) {
      table[family][tf] = ComputeFixedWeight(family, tf);
    }
  }
  return table;
}
const FixedWeightTable kFixedWeight = MakeFixedWeightTable();

inline int64_t FixedWeight(uint64_t family, uint64_t tf) {
  return tf < kTfTableSize ? kFixedWeight[family][tf] : ComputeFixedWeight(family, tf);
}

// GCC and Clang both provide it; __extension__ keeps -Wpedantic quiet.
__extension__ typedef unsigned __int128 UInt128;

// Sums every counted feature into its bucket of `acc` (size dim) and returns
// the squared L2 norm of `acc`.
double Accumulate(const FeatureCounter& counter, bool skip_punct, bool use_sign,
                  std::vector<int64_t>* acc) {
  std::fill(acc->begin(), acc->end(), 0);
  const uint64_t dim = acc->size();
  int64_t* const buckets = acc->data();
  counter.ForEach([&](uint64_t key, uint64_t tf) {
    const uint64_t family = key & kFamilyMask;
    if (skip_punct && family == kPunct) return;
    const int64_t w = FixedWeight(family, tf);
    const size_t bucket = static_cast<size_t>(((key >> 32) * dim) >> 32);
    buckets[bucket] += (use_sign && (key & kSignBit) != 0) ? -w : w;
  });
  // The squared norm is summed exactly in 128-bit integers (it is at most
  // (sum of all weights)^2, below 2^127 for any text under ~10^11 features),
  // so no compiler choice of FMA or summation order can change a bit of it;
  // a single rounding converts it to double.
  UInt128 sum = 0;
  for (size_t i = 0; i < dim; ++i) {
    const uint64_t bits = static_cast<uint64_t>(buckets[i]);
    const uint64_t magnitude = buckets[i] < 0 ? 0 - bits : bits;
    sum += static_cast<UInt128>(magnitude) * magnitude;
  }
  return static_cast<double>(sum);
}

// Scratch memory, one per thread, reused across texts and calls so a short
// text costs no allocation. Encode() never calls back out, so a thread can
// never use its scratch twice at once.
struct Scratch {
  std::vector<int32_t> code_points;
  FeatureCounter counter;
  std::vector<int64_t> acc;

  // Gives back memory a huge text left behind.
  void Trim() {
    constexpr size_t kKeepBytes = size_t{4} << 20;
    if (code_points.capacity() * sizeof(int32_t) > kKeepBytes) {
      std::vector<int32_t>().swap(code_points);
    }
    if (counter.MemoryBytes() > kKeepBytes) counter = FeatureCounter();
  }
};

Status EncodeText(const HashingEncoder::Options& options, std::string_view text, Scratch* scratch,
                  std::span<float> row) {
  if (text.empty()) return Status::InvalidArgument("empty text");

  scratch->counter.Clear();
  FeatureExtractor extractor(options, &scratch->counter);
  TextSegmenter<FeatureExtractor> segmenter(&extractor);
  FE_RETURN_IF_ERROR(ForEachNormalizedCodePoint(text, options.segment_bytes, &scratch->code_points,
                                                [&](int32_t cp) { segmenter.Feed(cp); }));
  segmenter.Finish();
  if (!extractor.has_content() && !extractor.has_punct()) {
    return Status::InvalidArgument(
        "nothing to encode (only whitespace, control, unassigned or private-use characters)");
  }

  const bool skip_punct = extractor.has_content();
  scratch->acc.resize(row.size());
  double sq = Accumulate(scratch->counter, skip_punct, /*use_sign=*/true, &scratch->acc);
  // Signed features can cancel exactly (more likely at small dim). Rather
  // than return a zero vector, drop the signs: then every bucket is a sum of
  // positive weights and the norm cannot vanish.
  if (sq == 0.0) sq = Accumulate(scratch->counter, skip_punct, /*use_sign=*/false, &scratch->acc);
  const double inv_norm = 1.0 / std::sqrt(sq);
  for (size_t i = 0; i < row.size(); ++i) {
    row[i] = static_cast<float>(static_cast<double>(scratch->acc[i]) * inv_norm);
  }
  return Status::OK();
}

// ---------------------------------------------------------------------------
// Spec parsing helpers
// ---------------------------------------------------------------------------

constexpr std::string_view kSpecPrefix = "hash/v1";

// Parses a non-empty run of ASCII digits.
bool ParseNonNegative(std::string_view s, int* out) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// Parses "<lo>-<hi>".
bool ParseRange(std::string_view s, int* lo, int* hi) {
  const size_t dash = s.find('-');
  return dash != std::string_view::npos && ParseNonNegative(s.substr(0, dash), lo) &&
         ParseNonNegative(s.substr(dash + 1), hi);
}

std::string RangeError(const char* name, int lo, int hi, int value) {
  return fmt::format("{} must be in [{}, {}], got {}", name, lo, hi, value);
}

}  // namespace

Status HashingEncoder::Options::Validate() const {
  if (dim < kMinDim || dim > kMaxDim) {
    return Status::InvalidArgument(RangeError("dim", kMinDim, kMaxDim, dim));
  }
  if (char_ngram_min < 1 || char_ngram_min > kMaxCharNgram) {
    return Status::InvalidArgument(RangeError("char_ngram_min", 1, kMaxCharNgram, char_ngram_min));
  }
  if (char_ngram_max < char_ngram_min || char_ngram_max > kMaxCharNgram) {
    return Status::InvalidArgument(
        RangeError("char_ngram_max", char_ngram_min, kMaxCharNgram, char_ngram_max));
  }
  if (word_ngram_max < 1 || word_ngram_max > kMaxWordNgram) {
    return Status::InvalidArgument(RangeError("word_ngram_max", 1, kMaxWordNgram, word_ngram_max));
  }
  if (cjk_ngram_max < 1 || cjk_ngram_max > kMaxCjkNgram) {
    return Status::InvalidArgument(RangeError("cjk_ngram_max", 1, kMaxCjkNgram, cjk_ngram_max));
  }
  if (segment_bytes < 1) return Status::InvalidArgument("segment_bytes must be >= 1, got 0");
  return Status::OK();
}

Result<std::unique_ptr<HashingEncoder>> HashingEncoder::Create(const Options& options) {
  FE_RETURN_IF_ERROR(options.Validate());
  // The constructor is private, so std::make_unique cannot reach it.
  return std::unique_ptr<HashingEncoder>(new HashingEncoder(options));
}

std::string HashingEncoder::spec() const {
  return fmt::format("{};dim={};char={}-{};word=1-{};cjk=1-{}", kSpecPrefix, options_.dim,
                     options_.char_ngram_min, options_.char_ngram_max, options_.word_ngram_max,
                     options_.cjk_ngram_max);
}

Result<HashingEncoder::Options> HashingEncoder::ParseSpec(std::string_view spec) {
  const std::string quoted = "'" + std::string(spec) + "'";
  auto malformed = [&](const std::string& why) {
    return Status::InvalidArgument("malformed encoder spec " + quoted + ": " + why);
  };

  size_t pos = spec.find(';');
  const std::string_view head = spec.substr(0, pos);
  const size_t slash = head.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == head.size()) {
    return malformed("expected '<encoder>/<version>' before the first ';'");
  }
  if (head.substr(0, slash) != "hash") {
    return Status::NotSupported("encoder spec " + quoted + ": unknown encoder '" +
                                std::string(head.substr(0, slash)) + "' (expected 'hash')");
  }
  if (head != kSpecPrefix) {
    return Status::NotSupported("encoder spec " + quoted + ": hash encoder version '" +
                                std::string(head.substr(slash + 1)) +
                                "' is not supported by this build (it knows v1)");
  }

  Options options;
  bool seen_dim = false, seen_char = false, seen_word = false, seen_cjk = false;
  while (pos != std::string_view::npos) {
    const size_t next = spec.find(';', pos + 1);
    const std::string_view field = spec.substr(
        pos + 1, next == std::string_view::npos ? std::string_view::npos : next - pos - 1);
    pos = next;
    const size_t eq = field.find('=');
    if (field.empty()) return malformed("empty field");
    if (eq == std::string_view::npos) {
      return malformed("field '" + std::string(field) + "' is not key=value");
    }
    const std::string key(field.substr(0, eq));
    const std::string_view value = field.substr(eq + 1);
    if (key.empty() || !std::all_of(key.begin(), key.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        })) {
      return malformed("bad key '" + key + "' (expected [a-z0-9_]+)");
    }
    auto once = [&](bool* seen) {
      const bool first = !*seen;
      *seen = true;
      return first;
    };
    int lo = 0;
    int hi = 0;
    if (key == "dim") {
      if (!once(&seen_dim)) return malformed("repeated key 'dim'");
      if (!ParseNonNegative(value, &options.dim)) return malformed("dim is not a number");
    } else if (key == "char") {
      if (!once(&seen_char)) return malformed("repeated key 'char'");
      if (!ParseRange(value, &lo, &hi)) return malformed("char is not '<min>-<max>'");
      options.char_ngram_min = lo;
      options.char_ngram_max = hi;
    } else if (key == "word" || key == "cjk") {
      if (!once(key == "word" ? &seen_word : &seen_cjk)) {
        return malformed("repeated key '" + key + "'");
      }
      if (!ParseRange(value, &lo, &hi) || lo != 1) {
        return malformed(key + " is not '1-<max>'");
      }
      (key == "word" ? options.word_ngram_max : options.cjk_ngram_max) = hi;
    } else {
      return Status::NotSupported("encoder spec " + quoted + ": unknown key '" + key +
                                  "' for hash/v1");
    }
  }
  const Status valid = options.Validate();
  if (!valid.ok())
    return Status::InvalidArgument("encoder spec " + quoted + ": " + valid.message());
  return options;
}

Result<std::unique_ptr<HashingEncoder>> HashingEncoder::FromSpec(std::string_view spec) {
  FE_ASSIGN_OR_RETURN(const Options options, ParseSpec(spec));
  return Create(options);
}

Result<std::vector<TokenSpan>> HashingEncoder::TokenSpans(std::string_view text) const {
  static_assert(kWordPieceCodePoints == encoders::kWordPieceCodePoints);
  return WordTokenSpans(text);
}

Status HashingEncoder::Encode(std::span<const std::string_view> texts, std::span<float> out) const {
  const size_t dim = static_cast<size_t>(options_.dim);
  if (out.size() != texts.size() * dim) {
    return Status::InvalidArgument(
        fmt::format("output size mismatch: expected {} x {} = {} floats, got {}", texts.size(), dim,
                    texts.size() * dim, out.size()));
  }
  thread_local Scratch scratch;
  Status status;
  for (size_t i = 0; i < texts.size() && status.ok(); ++i) {
    status = EncodeText(options_, texts[i], &scratch, out.subspan(i * dim, dim));
    if (!status.ok()) status = status.WithContext(fmt::format("text {}", i));
  }
  scratch.Trim();
  return status;
}

}  // namespace flashembed::encoders
