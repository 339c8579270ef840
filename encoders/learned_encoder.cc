#include "encoders/learned_encoder.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <limits>
#include <mutex>
#include <new>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fasttext/args.h>
#include <fasttext/densematrix.h>
#include <fasttext/dictionary.h>
#include <fasttext/fasttext.h>
#include <fmt/format.h>

#include "base/hash.h"
#include "base/utf8.h"
#include "encoders/hashing_encoder.h"
#include "encoders/learned_model.h"
#include "encoders/text_features.h"

namespace flashembed::encoders {
namespace {

constexpr std::string_view kSpecPrefix = "learned/v1;";
// Texts are normalised in pieces of this many bytes (as the hashing
// encoder's default segment_bytes), which bounds scratch memory.
constexpr size_t kSegmentBytes = 64 * 1024;

std::string Hex(uint64_t v) { return fmt::format("{:016x}", v); }

// ---------------------------------------------------------------------------
// Tokens: the hashing encoder's units (text_features.h) as strings.
// ---------------------------------------------------------------------------

// The TextSegmenter sink: calls emit(const std::string& token, bool pairs)
// for every word, character of a script without spaces (with its marks) and
// symbol; keeps punctuation, which Finish() emits only when there was
// nothing else. `pairs` tells whether the token and the one before it make
// a pair for the lexical part, as the hashing encoder's n-grams: two words
// (whatever lies between them), or two characters of one run of a script
// without spaces.
template <typename Emit>
class TokenSink {
 public:
  explicit TokenSink(Emit* emit) : emit_(emit) {}

  void BeginWord() { token_.clear(); }
  void WordChar(uint32_t cp) { AppendUtf8(cp, &token_); }
  void EndWord() { EmitToken(Kind::kWord); }
  void BeginUnit(uint32_t cp) {
    token_.clear();
    AppendUtf8(cp, &token_);
  }
  void UnitMark(uint32_t cp) { AppendUtf8(cp, &token_); }
  void EndUnit() { EmitToken(Kind::kUnit); }
  void EndRun() {
    if (last_ == Kind::kUnit) last_ = Kind::kNone;
  }
  void Symbol(uint32_t cp) {
    token_.clear();
    AppendUtf8(cp, &token_);
    EmitToken(Kind::kNone);
  }
  void Punct(uint32_t cp) {
    if (!has_content_) punct_.push_back(cp);
  }

  // Emits the punctuation of a text that had no other token.
  void Finish() {
    if (has_content_) return;
    for (const char32_t cp : punct_) {
      token_.clear();
      AppendUtf8(cp, &token_);
      (*emit_)(token_, false);
    }
  }

 private:
  enum class Kind { kNone, kWord, kUnit };

  void EmitToken(Kind kind) {
    has_content_ = true;
    punct_.clear();
    (*emit_)(token_, kind != Kind::kNone && kind == last_);
    last_ = kind;
  }

  Emit* const emit_;
  std::string token_;
  std::u32string punct_;
  bool has_content_ = false;
  Kind last_ = Kind::kNone;
};

// Calls emit(const std::string& token, bool pairs) for every token of `text` (see
// LearnedEncoder::Tokens). Errors as ForEachNormalizedCodePoint.
template <typename Emit>
Status CutTokens(std::string_view text, std::vector<int32_t>* scratch, Emit emit) {
  TokenSink<Emit> sink(&emit);
  TextSegmenter<TokenSink<Emit>> segmenter(&sink);
  FE_RETURN_IF_ERROR(ForEachNormalizedCodePoint(text, kSegmentBytes, scratch,
                                                [&](int32_t cp) { segmenter.Feed(cp); }));
  segmenter.Finish();
  sink.Finish();
  return Status::OK();
}

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

std::string RangeError(const char* name, double lo, double hi, double value) {
  return fmt::format("{} must be in [{}, {}], got {}", name, lo, hi, value);
}

int ResolveThreads(int threads) {
  if (threads > 0) return threads;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(std::min(hw, 256u));
}

int ResolveEpochs(int epochs, uint64_t tokens) {
  if (epochs > 0) return epochs;
  // Rounded to the nearest whole pass.
  const uint64_t passes =
      (LearnedEncoder::kAutoEpochTokens + tokens / 2) / std::max<uint64_t>(tokens, 1);
  return static_cast<int>(std::clamp<uint64_t>(passes, 1, LearnedEncoder::kMaxAutoEpochs));
}

}  // namespace

Status LearnedOptions::Validate() const {
  auto check = [](const char* name, double lo, double hi, double value) {
    return value >= lo && value <= hi ? Status::OK()
                                      : Status::InvalidArgument(RangeError(name, lo, hi, value));
  };
  FE_RETURN_IF_ERROR(check("dim", 8, 1024, dim));
  FE_RETURN_IF_ERROR(check("epochs", 0, 100, epochs));
  FE_RETURN_IF_ERROR(check("min_count", 1, 1000, min_count));
  if (!(char_ngram_min == 0 && char_ngram_max == 0)) {
    FE_RETURN_IF_ERROR(check("char_ngram_min", 1, 8, char_ngram_min));
    FE_RETURN_IF_ERROR(check("char_ngram_max", char_ngram_min, 8, char_ngram_max));
  }
  FE_RETURN_IF_ERROR(check("buckets", 1000, 10'000'000, buckets));
  FE_RETURN_IF_ERROR(check("window", 1, 20, window));
  FE_RETURN_IF_ERROR(check("negatives", 1, 50, negatives));
  if (!(learning_rate > 0 && learning_rate <= 1)) {
    return Status::InvalidArgument(
        fmt::format("learning_rate must be in (0, 1], got {}", learning_rate));
  }
  if (!(subsample > 0 && subsample <= 1)) {
    return Status::InvalidArgument(fmt::format("subsample must be in (0, 1], got {}", subsample));
  }
  FE_RETURN_IF_ERROR(check("threads", 0, 256, threads));
  if (semantic_weighting != Weighting::kSif && semantic_weighting != Weighting::kIdf) {
    return Status::InvalidArgument(fmt::format("semantic_weighting must be kSif or kIdf, got {}",
                                               static_cast<int>(semantic_weighting)));
  }
  if (!(sif_a > 0 && sif_a <= 1)) {
    return Status::InvalidArgument(fmt::format("sif_a must be in (0, 1], got {}", sif_a));
  }
  FE_RETURN_IF_ERROR(check("lexical_dim", 0, 16384, lexical_dim));
  FE_RETURN_IF_ERROR(check("lexical_weight", 0, 1, lexical_weight));
  FE_RETURN_IF_ERROR(check("pair_weight", 0, 1, pair_weight));
  FE_RETURN_IF_ERROR(check("lexical_char_weight", 0, 1, lexical_char_weight));
  return Status::OK();
}

namespace internal {

LearnedModel::~LearnedModel() = default;

Status LearnedModel::Prepare() {
  out_dim = dim + static_cast<size_t>(options.lexical_dim);
  bucket_slot.assign(static_cast<size_t>(options.buckets), -1);
  for (size_t i = 0; i < bucket_ids.size(); ++i) {
    bucket_slot[bucket_ids[i]] = static_cast<int32_t>(i);
  }
  word_vectors.assign(nwords * dim, 0.0f);
  std::vector<double> acc(dim);
  for (size_t w = 0; w < nwords; ++w) {
    const std::vector<int32_t>& ids = dict->getSubwords(static_cast<int32_t>(w));
    std::fill(acc.begin(), acc.end(), 0.0);
    for (const int32_t id : ids) {
      if (id < 0 || static_cast<size_t>(id) >= nwords + bucket_slot.size() ||
          (static_cast<size_t>(id) >= nwords &&
           bucket_slot[static_cast<size_t>(id) - nwords] < 0)) {
        return Corrupt(fmt::format("word {} uses n-gram row {}, which the model lacks", w, id));
      }
      AddRow(id, 1.0, acc.data());
    }
    // fastText's getWordVector: the mean of the word's row and its n-grams'.
    const double inv = ids.empty() ? 0.0 : 1.0 / static_cast<double>(ids.size());
    for (size_t j = 0; j < dim; ++j) {
      word_vectors[w * dim + j] = static_cast<float>(acc[j] * inv);
    }
  }

  const std::vector<int64_t> counts = dict->getCounts(fasttext::entry_type::word);
  const double n = static_cast<double>(texts);
  const double a = options.sif_a;
  const bool sif = options.semantic_weighting == LearnedOptions::Weighting::kSif;
  idf.resize(nwords);
  semantic_weight.resize(nwords);
  for (size_t w = 0; w < nwords; ++w) {
    idf[w] = static_cast<float>(Idf(df[w], n));
    const double p = static_cast<double>(counts[w]) / static_cast<double>(tokens);
    semantic_weight[w] = sif ? static_cast<float>(a / (a + p)) : idf[w];
  }
  unknown_idf = static_cast<float>(Idf(1, n));
  unknown_semantic_weight =
      sif ? static_cast<float>(a / (a + 1.0 / static_cast<double>(tokens))) : unknown_idf;

  // The direction all texts share (SIF's first principal component, which
  // for uncentred averages lies along their mean): the training corpus'
  // expected weighted average, sum of count x weight x vector over the
  // words. fastText's end-of-line token never occurs in a text.
  common.assign(dim, 0.0);
  if (options.remove_common) {
    for (size_t w = 0; w < nwords; ++w) {
      if (dict->getWord(static_cast<int32_t>(w)) == fasttext::Dictionary::EOS) continue;
      const double weight = static_cast<double>(counts[w]) * semantic_weight[w];
      for (size_t j = 0; j < dim; ++j) common[j] += weight * word_vectors[w * dim + j];
    }
    double sq = 0;
    for (const double x : common) sq += x * x;
    const double inv = sq > 0 ? 1.0 / std::sqrt(sq) : 0.0;
    for (double& x : common) x *= inv;
  }

  HashingEncoder::Options hashing;
  hashing.dim = static_cast<int>(out_dim);
  FE_ASSIGN_OR_RETURN(fallback, HashingEncoder::Create(hashing));
  return Status::OK();
}

}  // namespace internal

namespace {

using internal::LearnedModel;

// Seed of the lexical part's feature hash.
constexpr uint64_t kLexicalSeed = 0x6c65786963616c31;  // "lexical1"
// Joins the two tokens of a pair feature; no token contains it (a control).
constexpr char kPairJoin = '\x1f';
// Starts the keys of character n-grams.
constexpr char kCharMark = '\x1e';

double Norm(const std::vector<double>& v) {
  double sq = 0;
  for (const double x : v) sq += x * x;
  return std::sqrt(sq);
}

// Makes the row of one text from its tokens (see the file comment).
class RowBuilder {
 public:
  explicit RowBuilder(const LearnedModel& m)
      : m_(m), semantic_(m.dim), lexical_(static_cast<size_t>(m.options.lexical_dim)) {}

  // Writes the unit row of `tokens` into `out` (m.out_dim floats). False
  // when it has no direction (only possible without a lexical part, for
  // tokens the model does not know).
  bool Build(const std::vector<std::string>& tokens, const std::vector<bool>& pairs,
             std::span<float> out) {
    ids_.resize(tokens.size());
    for (size_t i = 0; i < tokens.size(); ++i) ids_[i] = m_.dict->getId(tokens[i]);
    const bool has_semantic = Semantic(tokens);
    const bool has_lexical = !lexical_.empty() && Lexical(tokens, pairs);
    if (!has_semantic && !has_lexical) return false;
    double ws = has_semantic ? 1.0 : 0.0, wl = has_lexical ? 1.0 : 0.0;
    if (has_semantic && has_lexical) {
      wl = std::sqrt(m_.options.lexical_weight);
      ws = std::sqrt(1.0 - m_.options.lexical_weight);
    }
    for (size_t j = 0; j < m_.dim; ++j) out[j] = static_cast<float>(ws * semantic_[j]);
    for (size_t j = 0; j < lexical_.size(); ++j) {
      out[m_.dim + j] = static_cast<float>(wl * lexical_[j]);
    }
    return true;
  }

 private:
  // The unit weighted average of the tokens' vectors less its part along
  // the common direction, in semantic_. False if it has no direction.
  bool Semantic(const std::vector<std::string>& tokens) {
    std::fill(semantic_.begin(), semantic_.end(), 0.0);
    double weight = 0;
    for (size_t i = 0; i < tokens.size(); ++i) {
      const int32_t id = ids_[i];
      if (id >= 0) {
        const double w = m_.semantic_weight[static_cast<size_t>(id)];
        const float* v = &m_.word_vectors[static_cast<size_t>(id) * m_.dim];
        for (size_t j = 0; j < m_.dim; ++j) semantic_[j] += w * v[j];
        weight += w;
        continue;
      }
      // An unknown word: fastText's getWordVector (the mean of its n-grams'
      // rows; none for maxn = 0), with the weight of a word seen once.
      subwords_.clear();
      m_.dict->computeSubwords(fasttext::Dictionary::BOW + tokens[i] + fasttext::Dictionary::EOW,
                               subwords_);
      if (subwords_.empty()) continue;
      scratch_.assign(m_.dim, 0.0);
      for (const int32_t sub : subwords_) m_.AddRow(sub, 1.0, scratch_.data());
      const double w = m_.unknown_semantic_weight / static_cast<double>(subwords_.size());
      bool any = false;
      for (size_t j = 0; j < m_.dim; ++j) {
        semantic_[j] += w * scratch_[j];
        any = any || scratch_[j] != 0.0;
      }
      if (any) weight += m_.unknown_semantic_weight;
    }
    if (weight == 0.0) return false;
    if (m_.options.remove_common) {
      double dot = 0;
      for (size_t j = 0; j < m_.dim; ++j) dot += semantic_[j] * m_.common[j];
      scratch_ = semantic_;
      for (size_t j = 0; j < m_.dim; ++j) scratch_[j] -= dot * m_.common[j];
      // A text along the common direction alone keeps it rather than vanish.
      if (Norm(scratch_) > 1e-6 * Norm(semantic_)) semantic_.swap(scratch_);
    }
    return Normalize(&semantic_);
  }

  // The unit vector of the hashed, signed lexical features (see the file
  // comment) in lexical_. False if it has no direction.
  bool Lexical(const std::vector<std::string>& tokens, const std::vector<bool>& pairs) {
    std::fill(lexical_.begin(), lexical_.end(), 0.0);
    features_.clear();
    for (size_t i = 0; i < tokens.size(); ++i) {
      Feature& f = features_[tokens[i]];
      ++f.tf;
      f.weight = DampedIdf(TokenIdf(i));
    }
    const double pair_weight = m_.options.pair_weight;
    if (pair_weight > 0) {
      for (size_t i = 0; i + 1 < tokens.size(); ++i) {
        if (!pairs[i + 1]) continue;
        key_.assign(tokens[i]);
        key_ += kPairJoin;
        key_ += tokens[i + 1];
        Feature& f = features_[key_];
        ++f.tf;
        // A pair is about as rare as both its tokens: idf(a) + idf(b).
        f.weight = pair_weight * DampedIdf(TokenIdf(i) + TokenIdf(i + 1));
        f.pair = true;
      }
    }
    const uint64_t buckets = lexical_.size();
    auto add = [&](std::string_view key, double w) {
      const uint64_t h = Hash64(key, kLexicalSeed);
      lexical_[h % buckets] += (h >> 63) != 0 ? -w : w;
    };
    const double char_weight = m_.options.lexical_char_weight;
    for (const auto& [key, f] : features_) {
      const double w = (1.0 + std::log(static_cast<double>(f.tf))) * f.weight;
      add(key, w);
      if (char_weight > 0 && !f.pair) AddCharNgrams(key, char_weight * w, add);
    }
    return Normalize(&lexical_);
  }

  // Calls add(n-gram, weight) for the character n-grams (3 to 5 code
  // points, as the hashing encoder's) of `token` padded with "<" and ">",
  // but not the whole padded token; keys start with kCharMark, so they
  // differ from tokens.
  template <typename Add>
  void AddCharNgrams(const std::string& token, double weight, Add& add) {
    padded_.assign("<");
    padded_ += token;
    padded_ += '>';
    starts_.clear();
    for (size_t i = 0; i < padded_.size(); ++i) {
      if ((static_cast<unsigned char>(padded_[i]) & 0xC0) != 0x80) starts_.push_back(i);
    }
    const size_t n = starts_.size();
    starts_.push_back(padded_.size());
    for (size_t len = 3; len <= 5; ++len) {
      for (size_t b = 0; b + len <= n; ++b) {
        if (len == n) continue;  // the whole padded token
        key_.assign(1, kCharMark);
        key_.append(padded_, starts_[b], starts_[b + len] - starts_[b]);
        add(key_, weight);
      }
    }
  }

  // The lexical part weighs features by idf^(1/4): both sides of a cosine
  // carry it, and a feature sharing its bucket with others adds noise in
  // proportion to its weight, so the full idf lets a long text's rare
  // features drown the matches. Dev recall@10 on the man-page sets (English
  // / Chinese): idf^0 0.796 / 0.696, idf^(1/4) 0.801 / 0.699, idf^(1/2)
  // 0.799 / 0.684; idf itself lost 0.04-0.2 in earlier runs.
  static double DampedIdf(double idf) { return std::sqrt(std::sqrt(idf)); }

  double TokenIdf(size_t i) const {
    return ids_[i] >= 0 ? m_.idf[static_cast<size_t>(ids_[i])] : m_.unknown_idf;
  }

  static bool Normalize(std::vector<double>* v) {
    const double norm = Norm(*v);
    if (!(norm > 0) || !std::isfinite(norm)) return false;
    for (double& x : *v) x /= norm;
    return true;
  }

  struct Feature {
    uint32_t tf = 0;
    double weight = 0;  // per occurrence, before the (1 + ln tf) of all of them
    bool pair = false;
  };

  const LearnedModel& m_;
  std::vector<double> semantic_, lexical_, scratch_;
  std::vector<int32_t> ids_, subwords_;
  std::unordered_map<std::string, Feature> features_;
  std::string key_, padded_;
  std::vector<size_t> starts_;
};

// A temporary folder, removed with everything in it when this goes away.
class TempFolder {
 public:
  static Result<TempFolder> Make(const std::string& parent) {
    std::string base = parent;
    if (base.empty()) {
      const char* env = std::getenv("TMPDIR");
      base = env != nullptr && *env != '\0' ? env : "/tmp";
    }
    std::string path = base + "/flashembed-learned-XXXXXX";
    if (mkdtemp(path.data()) == nullptr) {
      return Status::IOError(
          fmt::format("cannot create a temporary folder in {}: {}", base, std::strerror(errno)));
    }
    return TempFolder(std::move(path));
  }
  TempFolder(TempFolder&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;
  TempFolder& operator=(TempFolder&&) = delete;
  ~TempFolder() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);  // best effort: nothing to report to
  }
  const std::string& path() const { return path_; }

 private:
  explicit TempFolder(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// What writing the corpus found.
struct CorpusStats {
  uint64_t texts = 0;       // texts with at least one token (one line each)
  uint64_t tokens = 0;      // tokens written
  uint64_t vocabulary = 0;  // distinct tokens occurring at least min_count times
  struct Counts {
    uint64_t count = 0;      // occurrences
    uint32_t df = 0;         // texts that have the token
    uint64_t last_text = 0;  // 1 + the last text that had it
  };
  std::unordered_map<std::string, Counts> counts;  // per distinct token
};

// Writes every text of `source` as one line of space-separated tokens.
Result<CorpusStats> WriteCorpus(const TextSource& source, const LearnedOptions& options,
                                const std::string& path, const LearnedProgressFn& progress) {
  File file(std::fopen(path.c_str(), "we"));
  if (!file)
    return Status::IOError(fmt::format("cannot create {}: {}", path, std::strerror(errno)));
  CorpusStats stats;
  uint64_t seen = 0;
  auto& counts = stats.counts;
  std::vector<int32_t> scratch;
  bool write_failed = false;
  const Status visited = source([&](std::string_view text) -> Status {
    const uint64_t index = seen++;
    uint64_t text_tokens = 0;
    const Status cut = CutTokens(text, &scratch, [&](const std::string& token, bool) {
      if (text_tokens++ > 0) std::fputc(' ', file.get());
      std::fwrite(token.data(), 1, token.size(), file.get());
      CorpusStats::Counts& c = counts[token];
      ++c.count;
      if (c.last_text != seen) {
        c.last_text = seen;
        ++c.df;
      }
    });
    if (!cut.ok()) return cut.WithContext(fmt::format("text {}", index));
    if (text_tokens > 0) {
      std::fputc('\n', file.get());
      ++stats.texts;
      stats.tokens += text_tokens;
    }
    if (std::ferror(file.get()) != 0) {
      write_failed = true;
      return Status::IOError(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
    }
    if (progress && seen % 256 == 0) {
      progress({LearnedProgress::Stage::kReading, 0.0, seen, stats.tokens});
    }
    return Status::OK();
  });
  FE_RETURN_IF_ERROR(visited);
  if (!write_failed && std::fclose(file.release()) != 0) {
    return Status::IOError(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  }
  for (const auto& [token, c] : counts) {
    if (c.count >= static_cast<uint64_t>(options.min_count)) ++stats.vocabulary;
  }
  if (progress) progress({LearnedProgress::Stage::kReading, 1.0, seen, stats.tokens});
  return stats;
}

// Runs fastText's training on `path`; every exception becomes a Status.
Status RunFastText(const fasttext::Args& args, const LearnedProgressFn& progress, uint64_t texts,
                   uint64_t tokens, fasttext::FastText* ft) {
  std::mutex mu;
  double reported = 0;
  // fastText calls back from its training threads, each now and then.
  auto callback = [&](float fraction, float, double, double, int64_t) {
    if (!progress) return;
    std::lock_guard<std::mutex> lock(mu);
    const double f = std::clamp(static_cast<double>(fraction), 0.0, 1.0);
    if (f < reported + 0.005) return;
    reported = f;
    progress({LearnedProgress::Stage::kTraining, f, texts, tokens});
  };
  try {
    ft->train(args, callback);
  } catch (const fasttext::DenseMatrix::EncounteredNaNError&) {
    return Status::Internal(
        "fastText training diverged (a vector became NaN); try a lower learning_rate");
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted(fmt::format(
        "out of memory training fastText ({} buckets x {} dims)", args.bucket, args.dim));
  } catch (const std::invalid_argument& e) {
    // fastText's input errors, e.g. "Empty vocabulary. Try a smaller -minCount value."
    return Status::InvalidArgument(fmt::format("not enough text to train: fastText: {}", e.what()));
  } catch (const std::exception& e) {
    return Status::Internal(fmt::format("fastText training failed: {}", e.what()));
  } catch (...) {
    return Status::Internal("fastText training failed with an unknown exception");
  }
  if (progress) progress({LearnedProgress::Stage::kTraining, 1.0, texts, tokens});
  return Status::OK();
}

}  // namespace

// ---------------------------------------------------------------------------
// Training
// ---------------------------------------------------------------------------

Result<std::unique_ptr<LearnedEncoder>> LearnedEncoder::Train(
    std::span<const std::string_view> texts, const LearnedOptions& options,
    const LearnedProgressFn& progress) {
  return Train(
      [texts](const std::function<Status(std::string_view)>& visit) {
        for (const std::string_view text : texts) FE_RETURN_IF_ERROR(visit(text));
        return Status::OK();
      },
      options, progress);
}

Result<std::unique_ptr<LearnedEncoder>> LearnedEncoder::Train(const TextSource& source,
                                                              const LearnedOptions& options,
                                                              const LearnedProgressFn& progress) {
  FE_RETURN_IF_ERROR(options.Validate());
  FE_ASSIGN_OR_RETURN(TempFolder folder, TempFolder::Make(options.temp_dir));
  const std::string corpus_path = folder.path() + "/corpus.txt";
  FE_ASSIGN_OR_RETURN(const CorpusStats stats, WriteCorpus(source, options, corpus_path, progress));
  if (stats.tokens < kMinTrainingTokens) {
    return Status::InvalidArgument(
        fmt::format("not enough text to train: {} tokens in {} texts, at least {} needed",
                    stats.tokens, stats.texts, kMinTrainingTokens));
  }
  if (stats.vocabulary < kMinVocabulary) {
    return Status::InvalidArgument(fmt::format(
        "not enough text to train: {} distinct words occur at least min_count = {} times, at "
        "least {} needed",
        stats.vocabulary, options.min_count, kMinVocabulary));
  }

  auto m = std::make_unique<LearnedModel>();
  m->options = options;
  m->options.epochs = ResolveEpochs(options.epochs, stats.tokens);
  m->options.threads = 0;
  m->options.temp_dir.clear();
  m->dim = static_cast<size_t>(options.dim);
  m->texts = stats.texts;

  fasttext::Args args;
  args.input = corpus_path;
  args.model = fasttext::model_name::sg;
  args.loss = fasttext::loss_name::ns;
  args.dim = options.dim;
  args.epoch = m->options.epochs;
  args.minCount = options.min_count;
  args.minn = options.char_ngram_min;
  args.maxn = options.char_ngram_max;
  args.bucket = options.buckets;
  args.ws = options.window;
  args.neg = options.negatives;
  args.wordNgrams = 1;
  args.lr = options.learning_rate;
  args.t = options.subsample;
  args.thread = ResolveThreads(options.threads);
  args.seed = options.seed;
  args.verbose = 0;

  {
    fasttext::FastText ft;
    FE_RETURN_IF_ERROR(RunFastText(args, progress, stats.texts, stats.tokens, &ft));
    try {
      const std::shared_ptr<const fasttext::Dictionary> dict = ft.getDictionary();
      const std::shared_ptr<const fasttext::DenseMatrix> input = ft.getInputMatrix();
      m->nwords = static_cast<size_t>(dict->nwords());
      m->tokens = static_cast<uint64_t>(dict->ntokens());
      std::ostringstream section;
      fasttext::Args saved = ft.getArgs();
      saved.save(section);
      dict->save(section);
      m->fasttext_section = std::move(section).str();

      const size_t dim = m->dim;
      const float* rows = input->data();
      m->word_rows.assign(rows, rows + m->nwords * dim);
      std::vector<bool> used(static_cast<size_t>(options.buckets), false);
      for (size_t w = 0; w < m->nwords; ++w) {
        for (const int32_t id : dict->getSubwords(static_cast<int32_t>(w))) {
          if (static_cast<size_t>(id) >= m->nwords)
            used[static_cast<size_t>(id) - m->nwords] = true;
        }
      }
      for (size_t b = 0; b < used.size(); ++b) {
        if (!used[b]) continue;
        m->bucket_ids.push_back(static_cast<uint32_t>(b));
        const float* row = rows + (m->nwords + b) * dim;
        m->bucket_rows.insert(m->bucket_rows.end(), row, row + dim);
      }
      m->df.resize(m->nwords);
      for (size_t w = 0; w < m->nwords; ++w) {
        const std::string& word = dict->getWord(static_cast<int32_t>(w));
        const auto it = stats.counts.find(word);
        // fastText's end-of-line token is in every text (line).
        m->df[w] = it != stats.counts.end() ? it->second.df : static_cast<uint32_t>(stats.texts);
      }
    } catch (const std::bad_alloc&) {
      return Status::ResourceExhausted("out of memory copying the trained fastText model");
    }
  }
  if (m->nwords < kMinVocabulary) {
    return Status::InvalidArgument(
        fmt::format("not enough text to train: fastText kept {} words, at least {} needed",
                    m->nwords, kMinVocabulary));
  }
  if (progress) progress({LearnedProgress::Stage::kFinishing, 0.0, stats.texts, 0});
  FE_RETURN_IF_ERROR(internal::LoadFastTextSection(m.get()));
  FE_RETURN_IF_ERROR(m->Prepare());
  if (progress) progress({LearnedProgress::Stage::kFinishing, 1.0, stats.texts, 0});
  auto encoder = std::unique_ptr<LearnedEncoder>(new LearnedEncoder(std::move(m)));
  encoder->model_->fingerprint = Hash64(encoder->Serialize());
  return encoder;
}

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

LearnedEncoder::LearnedEncoder(std::unique_ptr<internal::LearnedModel> model)
    : model_(std::move(model)) {}
LearnedEncoder::~LearnedEncoder() = default;

int LearnedEncoder::dim() const { return static_cast<int>(model_->out_dim); }

std::string LearnedEncoder::spec() const {
  return fmt::format("{}id={};dim={}", kSpecPrefix, Hex(model_->fingerprint), model_->out_dim);
}

uint64_t LearnedEncoder::fingerprint() const { return model_->fingerprint; }
const LearnedOptions& LearnedEncoder::options() const { return model_->options; }
size_t LearnedEncoder::vocabulary_size() const { return model_->nwords; }
uint64_t LearnedEncoder::training_texts() const { return model_->texts; }
uint64_t LearnedEncoder::training_tokens() const { return model_->tokens; }
size_t LearnedEncoder::max_tokens() const { return HashingEncoder::kWindowTokens; }

Result<std::vector<TokenSpan>> LearnedEncoder::TokenSpans(std::string_view text) const {
  return WordTokenSpans(text);
}

Result<std::vector<std::string>> LearnedEncoder::Tokens(std::string_view text) {
  std::vector<std::string> tokens;
  std::vector<int32_t> scratch;
  FE_RETURN_IF_ERROR(
      CutTokens(text, &scratch, [&](const std::string& token, bool) { tokens.push_back(token); }));
  return tokens;
}

Status LearnedEncoder::Encode(std::span<const std::string_view> texts, std::span<float> out) const {
  const LearnedModel& m = *model_;
  const size_t dim = m.out_dim;
  if (out.size() != texts.size() * dim) {
    return Status::InvalidArgument(
        fmt::format("output size mismatch: expected {} x {} = {} floats, got {}", texts.size(), dim,
                    texts.size() * dim, out.size()));
  }
  std::vector<int32_t> scratch;
  std::vector<std::string> tokens;
  std::vector<bool> pairs;
  RowBuilder builder(m);
  for (size_t i = 0; i < texts.size(); ++i) {
    tokens.clear();
    pairs.clear();
    Status status = CutTokens(texts[i], &scratch, [&](const std::string& token, bool pair) {
      tokens.push_back(token);
      pairs.push_back(pair);
    });
    if (status.ok() && tokens.empty()) {
      status = Status::InvalidArgument(
          "nothing to encode (only whitespace, control, unassigned or private-use characters)");
    }
    if (!status.ok()) return status.WithContext(fmt::format("text {}", i));
    const std::span<float> row = out.subspan(i * dim, dim);
    if (!builder.Build(tokens, pairs, row)) {
      // No direction (no lexical part, nothing the model knows): the
      // hashing encoder's vector still tells such texts apart.
      status = m.fallback->Encode(texts.subspan(i, 1), row);
      if (!status.ok()) return status.WithContext(fmt::format("text {}", i));
    }
  }
  return Status::OK();
}

}  // namespace flashembed::encoders
