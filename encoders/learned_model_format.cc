// The corpus-trained encoder's model bytes (encoders/FORMAT.md): writing,
// checking and reading them, and the fastText section inside.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <istream>
#include <limits>
#include <new>
#include <streambuf>
#include <string>
#include <utility>
#include <vector>

#include <fasttext/args.h>
#include <fasttext/dictionary.h>
#include <fasttext/fasttext.h>
#include <fmt/format.h>

#include "base/hash.h"
#include "encoders/learned_encoder.h"
#include "encoders/learned_model.h"

namespace flashembed::encoders {
namespace internal {

Status Corrupt(const std::string& why) {
  return Status::Corruption("learned encoder model: " + why);
}

}  // namespace internal

namespace {

using internal::Corrupt;
using internal::LearnedModel;

constexpr char kMagic[8] = {'F', 'E', 'L', 'R', 'N', 'D', '0', '1'};

// fastText's enum values as its Args::save writes them (args.h).
constexpr int32_t kLossNs = static_cast<int32_t>(fasttext::loss_name::ns);
constexpr int32_t kModelSg = static_cast<int32_t>(fasttext::model_name::sg);

// ---------------------------------------------------------------------------
// Little-endian byte writing and reading
// ---------------------------------------------------------------------------

template <typename T>
void Put(std::string* out, T value) {
  out->append(reinterpret_cast<const char*>(&value), sizeof(value));
}

void PutFloats(std::string* out, const float* data, size_t n) {
  if (n == 0) return;
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
    if (n == 0) return true;  // memcpy from an empty vector's null data() is undefined
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

}  // namespace

namespace internal {

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

}  // namespace internal

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

// The bytes of model `m` with options `o` (m.options, or other encoding
// fields for LearnedEncoder::Reconfigured).
std::string SerializeModel(const LearnedModel& m, const LearnedOptions& o) {
  std::string out(sizeof(Header), '\0');
  out.reserve(sizeof(Header) + m.fasttext_section.size() +
              (m.df.size() + m.word_rows.size() + m.bucket_rows.size()) * 4 +
              m.bucket_ids.size() * 4 + 256);
  for (const int32_t v : {o.epochs, o.min_count, o.char_ngram_min, o.char_ngram_max, o.buckets,
                          o.window, o.negatives, o.seed, static_cast<int32_t>(o.semantic_weighting),
                          static_cast<int32_t>(o.remove_common), o.lexical_dim}) {
    Put<int32_t>(&out, v);
  }
  for (const double v : {o.learning_rate, o.subsample, o.sif_a, o.lexical_weight, o.pair_weight,
                         o.lexical_char_weight}) {
    Put<double>(&out, v);
  }
  Put<uint64_t>(&out, m.texts);
  Put<uint64_t>(&out, m.tokens);
  Put<uint64_t>(&out, m.fasttext_section.size());
  out += m.fasttext_section;
  for (const uint32_t df : m.df) Put<uint32_t>(&out, df);
  PutFloats(&out, m.word_rows.data(), m.word_rows.size());
  Put<uint64_t>(&out, m.bucket_ids.size());
  for (const uint32_t b : m.bucket_ids) Put<uint32_t>(&out, b);
  PutFloats(&out, m.bucket_rows.data(), m.bucket_rows.size());

  Header h{};
  std::memcpy(h.magic, kMagic, sizeof(h.magic));
  h.version = LearnedEncoder::kFormatVersion;
  h.dim = static_cast<uint32_t>(m.dim);
  h.vocabulary = static_cast<uint32_t>(m.nwords);
  h.payload_size = out.size() - sizeof(Header);
  h.payload_hash = Hash64(out.data() + sizeof(Header), h.payload_size);
  std::memcpy(out.data(), &h, sizeof(h));
  return out;
}

}  // namespace

std::string LearnedEncoder::Serialize() const { return SerializeModel(*model_, model_->options); }

Result<std::unique_ptr<LearnedEncoder>> LearnedEncoder::Reconfigured(
    const LearnedOptions& options) const {
  LearnedOptions o = model_->options;
  o.semantic_weighting = options.semantic_weighting;
  o.sif_a = options.sif_a;
  o.remove_common = options.remove_common;
  o.lexical_dim = options.lexical_dim;
  o.lexical_weight = options.lexical_weight;
  o.pair_weight = options.pair_weight;
  o.lexical_char_weight = options.lexical_char_weight;
  FE_RETURN_IF_ERROR(o.Validate());
  return Load(SerializeModel(*model_, o));
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
  int32_t weighting = 0, remove_common = 0;
  if (!r.Get(&o.epochs) || !r.Get(&o.min_count) || !r.Get(&o.char_ngram_min) ||
      !r.Get(&o.char_ngram_max) || !r.Get(&o.buckets) || !r.Get(&o.window) ||
      !r.Get(&o.negatives) || !r.Get(&o.seed) || !r.Get(&weighting) || !r.Get(&remove_common) ||
      !r.Get(&o.lexical_dim) || !r.Get(&o.learning_rate) || !r.Get(&o.subsample) ||
      !r.Get(&o.sif_a) || !r.Get(&o.lexical_weight) || !r.Get(&o.pair_weight) ||
      !r.Get(&o.lexical_char_weight) || !r.Get(&m->texts) || !r.Get(&m->tokens) ||
      !r.Get(&section_size) || !r.GetBytes(section_size, &section)) {
    return Corrupt("options or fastText section truncated");
  }
  if ((remove_common != 0 && remove_common != 1) || m->texts < 1 ||
      m->texts > std::numeric_limits<uint32_t>::max()) {
    return Corrupt("stored options out of range");
  }
  o.semantic_weighting = static_cast<LearnedOptions::Weighting>(weighting);
  o.remove_common = remove_common == 1;
  o.dim = static_cast<int>(h.dim);
  if (o.epochs < 1 || !o.Validate().ok() || m->tokens < 1) {
    return Corrupt("stored options out of range");
  }
  FE_RETURN_IF_ERROR(CheckFastTextSection(section, o, h.dim, h.vocabulary, m->tokens));
  m->fasttext_section = std::string(section);

  const size_t dim = m->dim;
  uint64_t used = 0;
  m->df.resize(m->nwords);
  for (uint32_t& df : m->df) {
    if (!r.Get(&df)) return Corrupt("document frequencies truncated");
    if (df < 1 || df > m->texts) {
      return Corrupt(fmt::format("a document frequency {} is not in [1, {}]", df, m->texts));
    }
  }
  if (!r.GetFloats(m->nwords * dim, &m->word_rows) || !r.Get(&used) ||
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
  if (!AllFinite(m->word_rows) || !AllFinite(m->bucket_rows)) {
    return Corrupt("a stored number is not finite");
  }
  FE_RETURN_IF_ERROR(LoadFastTextSection(m.get()));
  FE_RETURN_IF_ERROR(m->Prepare());
  m->fingerprint = Hash64(bytes);
  return std::unique_ptr<LearnedEncoder>(new LearnedEncoder(std::move(m)));
}

}  // namespace flashembed::encoders
