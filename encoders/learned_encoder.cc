#include "encoders/learned_encoder.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <mutex>
#include <new>
#include <sstream>
#include <streambuf>
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
#include "encoders/text_features.h"

namespace flashembed::encoders {
namespace {

constexpr std::string_view kSpecPrefix = "learned/v1;";
constexpr char kMagic[8] = {'F', 'E', 'L', 'R', 'N', 'D', '0', '1'};
// Texts are normalised in pieces of this many bytes (as the hashing
// encoder's default segment_bytes), which bounds scratch memory.
constexpr size_t kSegmentBytes = 64 * 1024;

// fastText's enum values as its Args::save writes them (args.h).
constexpr int32_t kLossNs = static_cast<int32_t>(fasttext::loss_name::ns);
constexpr int32_t kModelSg = static_cast<int32_t>(fasttext::model_name::sg);

std::string Hex(uint64_t v) { return fmt::format("{:016x}", v); }

// ---------------------------------------------------------------------------
// Tokens: the hashing encoder's units (text_features.h) as strings.
// ---------------------------------------------------------------------------

// The TextSegmenter sink: calls emit(const std::string&) for every word,
// character of a script without spaces (with its marks) and symbol; keeps
// punctuation, which Finish() emits only when there was nothing else.
template <typename Emit>
class TokenSink {
 public:
  explicit TokenSink(Emit* emit) : emit_(emit) {}

  void BeginWord() { token_.clear(); }
  void WordChar(uint32_t cp) { AppendUtf8(cp, &token_); }
  void EndWord() { EmitToken(); }
  void BeginUnit(uint32_t cp) {
    token_.clear();
    AppendUtf8(cp, &token_);
  }
  void UnitMark(uint32_t cp) { AppendUtf8(cp, &token_); }
  void EndUnit() { EmitToken(); }
  void EndRun() {}
  void Symbol(uint32_t cp) {
    token_.clear();
    AppendUtf8(cp, &token_);
    EmitToken();
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
      (*emit_)(token_);
    }
  }

 private:
  void EmitToken() {
    has_content_ = true;
    punct_.clear();
    (*emit_)(token_);
  }

  Emit* const emit_;
  std::string token_;
  std::u32string punct_;
  bool has_content_ = false;
};

// Calls emit(const std::string&) for every token of `text` (see
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
// Little-endian byte writing and reading
// ---------------------------------------------------------------------------

template <typename T>
void Put(std::string* out, T value) {
  out->append(reinterpret_cast<const char*>(&value), sizeof(value));
}

void PutFloats(std::string* out, const float* data, size_t n) {
  out->append(reinterpret_cast<const char*>(data), n * sizeof(float));
}

// Reads fixed-size values off a byte range; every read checks the length.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}

  template <typename T>
  bool Get(T* value) {
    if (bytes_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(value, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }

  bool GetFloats(size_t n, std::vector<float>* out) {
    if (n > (bytes_.size() - pos_) / sizeof(float)) return false;
    out->resize(n);
    std::memcpy(out->data(), bytes_.data() + pos_, n * sizeof(float));
    pos_ += n * sizeof(float);
    return true;
  }

  bool GetBytes(size_t n, std::string_view* out) {
    if (n > bytes_.size() - pos_) return false;
    *out = bytes_.substr(pos_, n);
    pos_ += n;
    return true;
  }

  // A NUL-terminated string (fastText's dictionary words).
  bool GetCString(std::string_view* out) {
    const size_t end = bytes_.find('\0', pos_);
    if (end == std::string_view::npos) return false;
    *out = bytes_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return true;
  }

  size_t left() const { return bytes_.size() - pos_; }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

// An istream over bytes in memory, for fastText's loaders (no copy).
class MemoryBuf : public std::streambuf {
 public:
  explicit MemoryBuf(std::string_view bytes) {
    char* p = const_cast<char*>(bytes.data());  // only ever read
    setg(p, p, p + bytes.size());
  }
  size_t consumed() const { return static_cast<size_t>(gptr() - eback()); }
};

Status Corrupt(const std::string& why) {
  return Status::Corruption("learned encoder model: " + why);
}

bool AllFinite(const std::vector<float>& v) {
  return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
}

// ---------------------------------------------------------------------------
// The fastText section: fastText 0.9.2's Args::save and Dictionary::save
// bytes (the parts of its .bin model file after magic and version). Checked
// field by field before fastText reads them, since fastText's loaders trust
// their input (a truncated dictionary makes Dictionary::load loop forever).
// ---------------------------------------------------------------------------

struct FastTextArgs {
  int32_t dim, ws, epoch, min_count, neg, word_ngrams, loss, model, bucket, minn, maxn,
      lr_update_rate;
  double t;
};

Status CheckFastTextSection(std::string_view bytes, const LearnedOptions& options, uint32_t dim,
                            uint32_t nwords, uint64_t tokens) {
  Reader r(bytes);
  FastTextArgs a{};
  if (!r.Get(&a.dim) || !r.Get(&a.ws) || !r.Get(&a.epoch) || !r.Get(&a.min_count) ||
      !r.Get(&a.neg) || !r.Get(&a.word_ngrams) || !r.Get(&a.loss) || !r.Get(&a.model) ||
      !r.Get(&a.bucket) || !r.Get(&a.minn) || !r.Get(&a.maxn) || !r.Get(&a.lr_update_rate) ||
      !r.Get(&a.t)) {
    return Corrupt("fastText arguments truncated");
  }
  if (a.dim != static_cast<int32_t>(dim) || a.ws != options.window || a.epoch != options.epochs ||
      a.min_count != options.min_count || a.neg != options.negatives || a.word_ngrams != 1 ||
      a.loss != kLossNs || a.model != kModelSg || a.bucket != options.buckets ||
      a.minn != options.char_ngram_min || a.maxn != options.char_ngram_max ||
      a.lr_update_rate < 1 || !(a.t == options.subsample)) {
    return Corrupt("fastText arguments differ from the model's options");
  }
  int32_t size = 0, words = 0, labels = 0;
  int64_t ntokens = 0, prune_size = 0;
  if (!r.Get(&size) || !r.Get(&words) || !r.Get(&labels) || !r.Get(&ntokens) ||
      !r.Get(&prune_size)) {
    return Corrupt("fastText dictionary truncated");
  }
  // An unpruned dictionary of words only (pruning comes with quantising,
  // labels with supervised models: neither is made here).
  if (size != words || words < 1 || static_cast<uint32_t>(words) != nwords || labels != 0 ||
      ntokens < 1 || static_cast<uint64_t>(ntokens) != tokens || prune_size != -1) {
    return Corrupt(fmt::format(
        "fastText dictionary sizes (size {}, words {}, labels {}, tokens {}, pruned {}) do not "
        "match the model ({} words, {} tokens)",
        size, words, labels, ntokens, prune_size, nwords, tokens));
  }
  for (int32_t i = 0; i < size; ++i) {
    std::string_view word;
    int64_t count = 0;
    int8_t type = 0;
    if (!r.GetCString(&word) || !r.Get(&count) || !r.Get(&type)) {
      return Corrupt(fmt::format("fastText dictionary truncated at word {} of {}", i, size));
    }
    if (word.empty() || count < 1 || type != 0) {
      return Corrupt(fmt::format("fastText dictionary word {} is malformed", i));
    }
  }
  if (r.left() != 0) return Corrupt("trailing bytes after the fastText dictionary");
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
  if (!(sif_a > 0 && sif_a <= 1)) {
    return Status::InvalidArgument(fmt::format("sif_a must be in (0, 1], got {}", sif_a));
  }
  FE_RETURN_IF_ERROR(check("threads", 0, 256, threads));
  return Status::OK();
}

// ---------------------------------------------------------------------------
// The model: fastText's dictionary (vocabulary, n-gram hashing) and the rows
// of its input matrix that any vocabulary word uses, plus what SIF needs.
// ---------------------------------------------------------------------------

namespace internal {

struct LearnedModel {
  LearnedOptions options;
  size_t dim = 0;
  uint64_t texts = 0;
  uint64_t tokens = 0;  // fastText's count, which includes one end-of-line per text

  std::string fasttext_section;  // Args::save + Dictionary::save bytes
  std::shared_ptr<fasttext::Args> args;
  std::unique_ptr<fasttext::Dictionary> dict;
  size_t nwords = 0;

  std::vector<float> word_rows;      // nwords x dim: input matrix rows 0..nwords-1
  std::vector<uint32_t> bucket_ids;  // n-gram buckets some word uses, ascending
  std::vector<float> bucket_rows;    // bucket_ids.size() x dim
  std::vector<int32_t> bucket_slot;  // bucket -> index into bucket_ids, or -1
  std::vector<float> sif;            // nwords: a / (a + p(w))
  std::vector<float> pc;             // dim: unit vector, or zeros (none removed)

  std::vector<float> word_vectors;           // nwords x dim: fastText's word vectors
  float unknown_weight = 1;                  // SIF weight of a word seen once
  std::unique_ptr<HashingEncoder> fallback;  // texts with no known token
  uint64_t fingerprint = 0;

  // Adds fastText's vector of the word or n-gram row `id` times `weight`.
  void AddRow(int32_t id, double weight, double* acc) const {
    const float* row = nullptr;
    if (static_cast<size_t>(id) < nwords) {
      row = &word_rows[static_cast<size_t>(id) * dim];
    } else {
      const int32_t slot = bucket_slot[static_cast<size_t>(id) - nwords];
      if (slot < 0) return;  // an n-gram no vocabulary word has: untrained, taken as zero
      row = &bucket_rows[static_cast<size_t>(slot) * dim];
    }
    for (size_t j = 0; j < dim; ++j) acc[j] += weight * row[j];
  }

  // Derives word_vectors, bucket_slot, unknown_weight and fallback from the
  // stored fields. Corruption when a word's n-gram row is missing.
  Status Prepare() {
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
    const double p_once = 1.0 / static_cast<double>(tokens);
    unknown_weight = static_cast<float>(options.sif_a / (options.sif_a + p_once));
    HashingEncoder::Options hashing;
    hashing.dim = static_cast<int>(dim);
    FE_ASSIGN_OR_RETURN(fallback, HashingEncoder::Create(hashing));
    return Status::OK();
  }
};

}  // namespace internal

namespace {

using internal::LearnedModel;

// Sums SIF-weighted token vectors of one text.
class SifAccumulator {
 public:
  explicit SifAccumulator(const LearnedModel& m) : m_(m), sum_(m.dim, 0.0) {}

  void Add(const std::string& token) {
    const int32_t id = m_.dict->getId(token);
    if (id >= 0) {
      const float w = m_.sif[static_cast<size_t>(id)];
      const float* v = &m_.word_vectors[static_cast<size_t>(id) * m_.dim];
      for (size_t j = 0; j < m_.dim; ++j) sum_[j] += static_cast<double>(w) * v[j];
      weight_ += w;
      return;
    }
    // An unknown word: fastText's getWordVector (the mean of its n-grams'
    // rows; none for maxn = 0), with the weight of a word seen once.
    ids_.clear();
    m_.dict->computeSubwords(fasttext::Dictionary::BOW + token + fasttext::Dictionary::EOW, ids_);
    if (ids_.empty()) return;
    scratch_.assign(m_.dim, 0.0);
    for (const int32_t id2 : ids_) m_.AddRow(id2, 1.0, scratch_.data());
    const double w = m_.unknown_weight / static_cast<double>(ids_.size());
    bool any = false;
    for (size_t j = 0; j < m_.dim; ++j) {
      sum_[j] += w * scratch_[j];
      any = any || scratch_[j] != 0.0;
    }
    if (any) weight_ += m_.unknown_weight;
  }

  // Writes the unit vector of the sum, less its part along `pc` (if
  // non-zero), into `out` (doubles). False if there is no direction.
  bool Finish(bool remove_pc, std::vector<double>* out) const {
    if (weight_ == 0.0) return false;
    *out = sum_;
    if (remove_pc) {
      double dot = 0;
      for (size_t j = 0; j < m_.dim; ++j) dot += (*out)[j] * m_.pc[j];
      std::vector<double> removed(*out);
      for (size_t j = 0; j < m_.dim; ++j) removed[j] -= dot * m_.pc[j];
      // A text along the component alone keeps it rather than vanish.
      if (Norm(removed) > 1e-6 * Norm(*out)) out->swap(removed);
    }
    const double norm = Norm(*out);
    if (!(norm > 0) || !std::isfinite(norm)) return false;
    for (double& x : *out) x /= norm;
    return true;
  }

 private:
  static double Norm(const std::vector<double>& v) {
    double sq = 0;
    for (const double x : v) sq += x * x;
    return std::sqrt(sq);
  }

  const LearnedModel& m_;
  std::vector<double> sum_;
  double weight_ = 0;
  std::vector<int32_t> ids_;
  std::vector<double> scratch_;
};

// The first principal component (uncentred, as SIF's SVD) of the unit
// vectors of `lines` (space-separated tokens), by power iteration over their
// dim x dim second-moment matrix. Zeros when no line has a vector.
std::vector<float> PrincipalComponent(const LearnedModel& m, std::FILE* lines, uint64_t total_lines,
                                      const LearnedProgressFn& progress) {
  const size_t dim = m.dim;
  std::vector<double> moment(dim * dim, 0.0), mean(dim, 0.0), v;
  std::string token;
  uint64_t done = 0;
  double reported = 0;
  char* line = nullptr;
  size_t capacity = 0;
  for (ssize_t n; (n = getline(&line, &capacity, lines)) > 0;) {
    const std::string_view text(line, static_cast<size_t>(n) - (line[n - 1] == '\n' ? 1 : 0));
    SifAccumulator acc(m);
    for (size_t pos = 0; pos < text.size();) {
      const size_t end = std::min(text.find(' ', pos), text.size());
      token.assign(text.substr(pos, end - pos));
      if (!token.empty()) acc.Add(token);
      pos = end + 1;
    }
    if (acc.Finish(/*remove_pc=*/false, &v)) {
      for (size_t i = 0; i < dim; ++i) {
        mean[i] += v[i];
        for (size_t j = i; j < dim; ++j) moment[i * dim + j] += v[i] * v[j];
      }
    }
    ++done;
    const double fraction = total_lines == 0 ? 1.0 : static_cast<double>(done) / total_lines;
    if (progress && fraction >= reported + 0.01) {
      reported = fraction;
      progress({LearnedProgress::Stage::kFinishing, std::min(fraction, 1.0), total_lines, 0});
    }
  }
  std::free(line);
  for (size_t i = 0; i < dim; ++i) {
    for (size_t j = 0; j < i; ++j) moment[i * dim + j] = moment[j * dim + i];
  }
  // Start from the mean direction, which the top component of uncentred
  // data lies close to; a fixed number of rounds keeps it deterministic.
  std::vector<double> x(mean), y(dim);
  auto normalize = [](std::vector<double>* u) {
    double sq = 0;
    for (const double e : *u) sq += e * e;
    if (!(sq > 0)) return false;
    const double inv = 1.0 / std::sqrt(sq);
    for (double& e : *u) e *= inv;
    return true;
  };
  if (!normalize(&x)) return std::vector<float>(dim, 0.0f);
  for (int round = 0; round < 100; ++round) {
    for (size_t i = 0; i < dim; ++i) {
      double s = 0;
      for (size_t j = 0; j < dim; ++j) s += moment[i * dim + j] * x[j];
      y[i] = s;
    }
    if (!normalize(&y)) return std::vector<float>(dim, 0.0f);
    x.swap(y);
  }
  std::vector<float> pc(dim);
  for (size_t j = 0; j < dim; ++j) pc[j] = static_cast<float>(x[j]);
  return pc;
}

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
};

// Writes every text of `source` as one line of space-separated tokens.
Result<CorpusStats> WriteCorpus(const TextSource& source, const LearnedOptions& options,
                                const std::string& path, const LearnedProgressFn& progress) {
  File file(std::fopen(path.c_str(), "we"));
  if (!file)
    return Status::IOError(fmt::format("cannot create {}: {}", path, std::strerror(errno)));
  CorpusStats stats;
  uint64_t seen = 0;
  std::unordered_map<std::string, uint64_t> counts;
  std::vector<int32_t> scratch;
  bool write_failed = false;
  const Status visited = source([&](std::string_view text) -> Status {
    const uint64_t index = seen++;
    uint64_t text_tokens = 0;
    const Status cut = CutTokens(text, &scratch, [&](const std::string& token) {
      if (text_tokens++ > 0) std::fputc(' ', file.get());
      std::fwrite(token.data(), 1, token.size(), file.get());
      ++counts[token];
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
  for (const auto& [token, count] : counts) {
    if (count >= static_cast<uint64_t>(options.min_count)) ++stats.vocabulary;
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

// Reads the fastText section into `m->args` and `m->dict` (after
// CheckFastTextSection).
Status LoadFastTextSection(LearnedModel* m) {
  try {
    MemoryBuf buf(m->fasttext_section);
    std::istream in(&buf);
    m->args = std::make_shared<fasttext::Args>();
    m->args->load(in);
    m->dict = std::make_unique<fasttext::Dictionary>(m->args, in);
    if (!in || buf.consumed() != m->fasttext_section.size()) {
      return Corrupt("fastText section did not read back whole");
    }
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("out of memory loading the learned encoder model");
  } catch (const std::exception& e) {
    return Corrupt(fmt::format("fastText cannot read its section: {}", e.what()));
  }
  if (static_cast<size_t>(m->dict->nwords()) != m->nwords) {
    return Corrupt("fastText dictionary size differs from the model's");
  }
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
      const std::vector<int64_t> counts = dict->getCounts(fasttext::entry_type::word);
      m->sif.resize(m->nwords);
      for (size_t w = 0; w < m->nwords; ++w) {
        const double p = static_cast<double>(counts[w]) / static_cast<double>(m->tokens);
        m->sif[w] = static_cast<float>(options.sif_a / (options.sif_a + p));
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
  FE_RETURN_IF_ERROR(LoadFastTextSection(m.get()));
  m->pc.assign(m->dim, 0.0f);
  FE_RETURN_IF_ERROR(m->Prepare());

  File lines(std::fopen(corpus_path.c_str(), "re"));
  if (!lines) {
    return Status::IOError(fmt::format("cannot read {}: {}", corpus_path, std::strerror(errno)));
  }
  m->pc = PrincipalComponent(*m, lines.get(), stats.texts, progress);
  if (std::ferror(lines.get()) != 0) {
    return Status::IOError(fmt::format("cannot read {}: {}", corpus_path, std::strerror(errno)));
  }
  auto encoder = std::unique_ptr<LearnedEncoder>(new LearnedEncoder(std::move(m)));
  encoder->model_->fingerprint = Hash64(encoder->Serialize());
  return encoder;
}

// ---------------------------------------------------------------------------
// Serialisation (encoders/FORMAT.md)
// ---------------------------------------------------------------------------

namespace {

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t dim;
  uint32_t vocabulary;
  uint32_t reserved;
  uint64_t payload_size;
  uint64_t payload_hash;
};
static_assert(sizeof(Header) == 40);

}  // namespace

std::string LearnedEncoder::Serialize() const {
  const LearnedModel& m = *model_;
  const LearnedOptions& o = m.options;
  std::string out(sizeof(Header), '\0');
  out.reserve(sizeof(Header) + m.fasttext_section.size() +
              (m.sif.size() + m.pc.size() + m.word_rows.size() + m.bucket_rows.size()) * 4 +
              m.bucket_ids.size() * 4 + 256);
  for (const int32_t v : {o.epochs, o.min_count, o.char_ngram_min, o.char_ngram_max, o.buckets,
                          o.window, o.negatives, o.seed}) {
    Put<int32_t>(&out, v);
  }
  Put<double>(&out, o.learning_rate);
  Put<double>(&out, o.subsample);
  Put<double>(&out, o.sif_a);
  Put<uint64_t>(&out, m.texts);
  Put<uint64_t>(&out, m.tokens);
  Put<uint64_t>(&out, m.fasttext_section.size());
  out += m.fasttext_section;
  PutFloats(&out, m.sif.data(), m.sif.size());
  PutFloats(&out, m.pc.data(), m.pc.size());
  PutFloats(&out, m.word_rows.data(), m.word_rows.size());
  Put<uint64_t>(&out, m.bucket_ids.size());
  for (const uint32_t b : m.bucket_ids) Put<uint32_t>(&out, b);
  PutFloats(&out, m.bucket_rows.data(), m.bucket_rows.size());

  Header h{};
  std::memcpy(h.magic, kMagic, sizeof(h.magic));
  h.version = kFormatVersion;
  h.dim = static_cast<uint32_t>(m.dim);
  h.vocabulary = static_cast<uint32_t>(m.nwords);
  h.payload_size = out.size() - sizeof(Header);
  h.payload_hash = Hash64(out.data() + sizeof(Header), h.payload_size);
  std::memcpy(out.data(), &h, sizeof(h));
  return out;
}

Result<std::unique_ptr<LearnedEncoder>> LearnedEncoder::Load(std::string_view bytes) {
  Header h{};
  if (bytes.size() < sizeof(Header)) {
    return Corrupt(
        fmt::format("truncated: {} bytes, the header alone has {}", bytes.size(), sizeof(Header)));
  }
  std::memcpy(&h, bytes.data(), sizeof(h));
  if (std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0) {
    return Corrupt("bad magic (not a learned encoder model)");
  }
  if (h.version != kFormatVersion) {
    return Status::NotSupported(fmt::format(
        "learned encoder model format version {} is not supported by this build (it knows {})",
        h.version, kFormatVersion));
  }
  const std::string_view payload = bytes.substr(sizeof(Header));
  FE_RETURN_IF_ERROR(CheckHash64("learned encoder model", payload, h.payload_size, h.payload_hash));
  if (h.dim < 8 || h.dim > 1024 || h.vocabulary < 1) {
    return Corrupt(fmt::format("dim {} or vocabulary {} out of range", h.dim, h.vocabulary));
  }

  auto m = std::make_unique<LearnedModel>();
  m->dim = h.dim;
  m->nwords = h.vocabulary;
  LearnedOptions& o = m->options;
  Reader r(payload);
  uint64_t section_size = 0;
  std::string_view section;
  if (!r.Get(&o.epochs) || !r.Get(&o.min_count) || !r.Get(&o.char_ngram_min) ||
      !r.Get(&o.char_ngram_max) || !r.Get(&o.buckets) || !r.Get(&o.window) ||
      !r.Get(&o.negatives) || !r.Get(&o.seed) || !r.Get(&o.learning_rate) || !r.Get(&o.subsample) ||
      !r.Get(&o.sif_a) || !r.Get(&m->texts) || !r.Get(&m->tokens) || !r.Get(&section_size) ||
      !r.GetBytes(section_size, &section)) {
    return Corrupt("options or fastText section truncated");
  }
  o.dim = static_cast<int>(h.dim);
  if (o.epochs < 1 || !o.Validate().ok() || m->tokens < 1) {
    return Corrupt("stored options out of range");
  }
  FE_RETURN_IF_ERROR(CheckFastTextSection(section, o, h.dim, h.vocabulary, m->tokens));
  m->fasttext_section = std::string(section);

  const size_t dim = m->dim;
  uint64_t used = 0;
  if (!r.GetFloats(m->nwords, &m->sif) || !r.GetFloats(dim, &m->pc) ||
      !r.GetFloats(m->nwords * dim, &m->word_rows) || !r.Get(&used) ||
      used > static_cast<uint64_t>(o.buckets)) {
    return Corrupt("vectors truncated");
  }
  m->bucket_ids.resize(used);
  for (uint64_t i = 0; i < used; ++i) {
    if (!r.Get(&m->bucket_ids[i]) || m->bucket_ids[i] >= static_cast<uint32_t>(o.buckets) ||
        (i > 0 && m->bucket_ids[i] <= m->bucket_ids[i - 1])) {
      return Corrupt("n-gram bucket list truncated or out of order");
    }
  }
  if (!r.GetFloats(used * dim, &m->bucket_rows)) return Corrupt("n-gram rows truncated");
  if (r.left() != 0) return Corrupt(fmt::format("{} trailing bytes", r.left()));
  if (!AllFinite(m->sif) || !AllFinite(m->pc) || !AllFinite(m->word_rows) ||
      !AllFinite(m->bucket_rows)) {
    return Corrupt("a stored number is not finite");
  }
  FE_RETURN_IF_ERROR(LoadFastTextSection(m.get()));
  FE_RETURN_IF_ERROR(m->Prepare());
  m->fingerprint = Hash64(bytes);
  return std::unique_ptr<LearnedEncoder>(new LearnedEncoder(std::move(m)));
}

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

LearnedEncoder::LearnedEncoder(std::unique_ptr<internal::LearnedModel> model)
    : model_(std::move(model)) {}
LearnedEncoder::~LearnedEncoder() = default;

int LearnedEncoder::dim() const { return static_cast<int>(model_->dim); }

std::string LearnedEncoder::spec() const {
  return fmt::format("{}id={};dim={}", kSpecPrefix, Hex(model_->fingerprint), model_->dim);
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
      CutTokens(text, &scratch, [&](const std::string& token) { tokens.push_back(token); }));
  return tokens;
}

Status LearnedEncoder::Encode(std::span<const std::string_view> texts, std::span<float> out) const {
  const LearnedModel& m = *model_;
  const size_t dim = m.dim;
  if (out.size() != texts.size() * dim) {
    return Status::InvalidArgument(
        fmt::format("output size mismatch: expected {} x {} = {} floats, got {}", texts.size(), dim,
                    texts.size() * dim, out.size()));
  }
  std::vector<int32_t> scratch;
  std::vector<double> v;
  for (size_t i = 0; i < texts.size(); ++i) {
    SifAccumulator acc(m);
    uint64_t tokens = 0;
    Status status = CutTokens(texts[i], &scratch, [&](const std::string& token) {
      ++tokens;
      acc.Add(token);
    });
    if (status.ok() && tokens == 0) {
      status = Status::InvalidArgument(
          "nothing to encode (only whitespace, control, unassigned or private-use characters)");
    }
    if (!status.ok()) return status.WithContext(fmt::format("text {}", i));
    const std::span<float> row = out.subspan(i * dim, dim);
    if (!acc.Finish(/*remove_pc=*/true, &v)) {
      // Nothing the model knows (say, only punctuation): the hashing
      // encoder's vector still tells such texts apart.
      status = m.fallback->Encode(texts.subspan(i, 1), row);
      if (!status.ok()) return status.WithContext(fmt::format("text {}", i));
      continue;
    }
    for (size_t j = 0; j < dim; ++j) row[j] = static_cast<float>(v[j]);
  }
  return Status::OK();
}

}  // namespace flashembed::encoders
