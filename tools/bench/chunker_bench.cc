// Chunker throughput against tokenizer-only throughput on the same documents
// in the same run, for a real BERT WordPiece tokenizer and the hashing
// encoder. The chunker tokenizes once and then picks cuts, so the ratio
// chunk / tokenize shows what chunking adds (1.0 = nothing).
//
//   chunker_bench [--vocab DIR] [--text FILE] [--mb 4] [--repeat 3]
//
// DIR is a BERT tokenizer folder (vocab.txt, optional tokenizer.json);
// default tests/encoders/testdata/vocab/bert-base-uncased in the source
// tree. Without --text, the documents are generated (seeded): paragraphs of
// English sentences with some CJK, URLs and long words, cut into documents
// of about 20 KB. One thread. Prints one JSON line.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "encoders/chunker.h"
#include "encoders/hashing_encoder.h"
#include "encoders/transformer_encoder.h"
#include "encoders/wordpiece_tokenizer.h"
#include "tools/bench/bench_util.h"

namespace fe = flashembed::encoders;
namespace bench = flashembed::bench;

namespace {

#ifndef FLASHEMBED_SOURCE_DIR
#define FLASHEMBED_SOURCE_DIR "."
#endif

// The tokenizer half of a TransformerEncoder (no weights needed), through the
// same WordPieceTokenSpans.
class WordPieceSpans final : public fe::TextEncoder {
 public:
  explicit WordPieceSpans(std::unique_ptr<fe::WordPieceTokenizer> tokenizer)
      : tokenizer_(std::move(tokenizer)) {}
  int dim() const override { return 0; }
  std::string spec() const override { return "wordpiece"; }
  flashembed::Status Encode(std::span<const std::string_view>, std::span<float>) const override {
    return flashembed::Status::NotSupported("tokenizer only");
  }
  flashembed::Result<std::vector<fe::TokenSpan>> TokenSpans(std::string_view text) const override {
    return fe::WordPieceTokenSpans(*tokenizer_, "##", text);
  }
  size_t max_tokens() const override { return 512; }
  size_t special_tokens() const override { return 2; }
  const fe::WordPieceTokenizer& tokenizer() const { return *tokenizer_; }

 private:
  std::unique_ptr<fe::WordPieceTokenizer> tokenizer_;
};

// Seeded documents of about 20 KB: paragraphs of sentences, a little CJK,
// URLs and long identifiers, as in manuals and web pages.
std::vector<std::string> MakeDocuments(size_t total_bytes) {
  static constexpr std::string_view kWords[] = {
      "the",         "database", "stores",  "vectors",       "and",        "documents",
      "in",          "one",      "folder",  "search",        "returns",    "passages",
      "with",        "their",    "offsets", "encoder",       "model",      "tokens",
      "chunk",       "window",   "overlap", "sentence",      "boundary",   "throughput",
      "latency",     "index",    "memory",  "configuration", "parameters", "installation",
      "performance", "quickly",  "reliable"};
  static constexpr std::string_view kCjk[] = {"机", "器", "学", "习", "数", "据", "库",
                                              "向", "量", "检", "索", "文", "档"};
  std::mt19937 rng(42);
  std::vector<std::string> docs;
  std::string doc;
  size_t total = 0;
  while (total < total_bytes) {
    const unsigned kind = rng() % 40;
    if (kind == 0) {
      for (int i = 0, n = 8 + static_cast<int>(rng() % 30); i < n; ++i) doc += kCjk[rng() % 13];
      doc += "。";
    } else if (kind == 1) {
      doc += "https://example.com/docs/v" + std::to_string(rng() % 9) + "/section-" +
             std::to_string(rng() % 1000) + "/index.html ";
    } else if (kind == 2) {
      doc += "\n\n";
    } else {
      for (int i = 0, n = 6 + static_cast<int>(rng() % 20); i < n; ++i) {
        std::string word(kWords[rng() % std::size(kWords)]);
        if (i == 0) word[0] = static_cast<char>(word[0] - 32);
        doc += word + (i + 1 < n ? " " : ". ");
      }
    }
    if (doc.size() >= 20000) {
      total += doc.size();
      docs.push_back(std::move(doc));
      doc.clear();
    }
  }
  return docs;
}

struct Timing {
  double seconds = 1e30;
  size_t tokens = 0;
  size_t chunks = 0;
};

// Best of `repeat` runs of fn over every document.
template <typename Fn>
Timing Best(int repeat, const std::vector<std::string>& docs, Fn&& fn) {
  Timing best;
  for (int r = 0; r < repeat; ++r) {
    Timing t;
    const auto start = bench::Clock::now();
    for (const std::string& doc : docs) fn(doc, &t);
    t.seconds = bench::SecondsSince(start);
    if (t.seconds < best.seconds) best = t;
  }
  return best;
}

[[noreturn]] void Fail(const std::string& what) {
  std::cerr << "chunker_bench: " << what << "\n";
  std::exit(1);
}

std::string Result(const char* encoder, const fe::Chunker& chunker, size_t bytes,
                   const Timing& tokenize, const Timing& chunk) {
  const double mb = static_cast<double>(bytes) / 1e6;
  char buf[512];
  std::snprintf(buf, sizeof(buf),
                "{\"encoder\":\"%s\",\"chunk_tokens\":%zu,\"overlap_tokens\":%zu,\"tokens\":%zu,"
                "\"chunks\":%zu,\"chunk_tokens_total\":%zu,\"tokenize_mb_s\":%.2f,"
                "\"tokenize_tokens_s\":%.0f,\"chunk_mb_s\":%.2f,\"chunk_tokens_s\":%.0f,"
                "\"ratio\":%.3f}",
                encoder, chunker.chunk_tokens(), chunker.overlap_tokens(), tokenize.tokens,
                chunk.chunks, chunk.tokens, mb / tokenize.seconds,
                static_cast<double>(tokenize.tokens) / tokenize.seconds, mb / chunk.seconds,
                static_cast<double>(tokenize.tokens) / chunk.seconds,
                tokenize.seconds / chunk.seconds);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  std::string vocab_dir = FLASHEMBED_SOURCE_DIR "/tests/encoders/testdata/vocab/bert-base-uncased";
  std::string text_path;
  double mb = 4;
  int repeat = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) Fail(a + " needs a value");
    if (a == "--vocab") {
      vocab_dir = argv[++i];
    } else if (a == "--text") {
      text_path = argv[++i];
    } else if (a == "--mb") {
      mb = std::stod(argv[++i]);
    } else if (a == "--repeat") {
      repeat = std::max(1, std::stoi(argv[++i]));
    } else {
      Fail("unknown flag " + a);
    }
  }

  std::vector<std::string> docs;
  if (text_path.empty()) {
    docs = MakeDocuments(static_cast<size_t>(mb * 1e6));
  } else {
    std::ifstream in(text_path, std::ios::binary);
    if (!in) Fail(text_path + ": cannot be read");
    std::ostringstream bytes;
    bytes << in.rdbuf();
    docs.push_back(bytes.str());
  }
  size_t bytes = 0;
  for (const std::string& d : docs) bytes += d.size();

  const std::string json = vocab_dir + "/tokenizer.json";
  auto tokenizer = fe::WordPieceTokenizer::FromFiles(
      vocab_dir + "/vocab.txt", std::filesystem::exists(json) ? json : std::string());
  if (!tokenizer.ok()) Fail(tokenizer.status().ToString());
  const WordPieceSpans wordpiece(std::move(tokenizer).value());
  auto hashing = fe::HashingEncoder::Create(fe::HashingEncoder::Options());
  if (!hashing.ok()) Fail(hashing.status().ToString());

  std::vector<std::string> results;
  for (const fe::TextEncoder* encoder :
       {static_cast<const fe::TextEncoder*>(&wordpiece),
        static_cast<const fe::TextEncoder*>(hashing.value().get())}) {
    auto chunker = fe::Chunker::Create(*encoder, fe::ChunkOptions());
    if (!chunker.ok()) Fail(chunker.status().ToString());
    // Tokenizer only: WordPiece's own Encode for BERT (what an encoder
    // without a chunker runs), TokenSpans for the hashing encoder.
    const Timing tokenize = Best(repeat, docs, [&](const std::string& doc, Timing* t) {
      if (encoder == &wordpiece) {
        auto enc = wordpiece.tokenizer().Encode(doc, 0);
        if (!enc.ok()) Fail(enc.status().ToString());
        t->tokens += enc->ids.size() - 2;
      } else {
        auto spans = encoder->TokenSpans(doc);
        if (!spans.ok()) Fail(spans.status().ToString());
        t->tokens += spans->size();
      }
    });
    const Timing chunk = Best(repeat, docs, [&](const std::string& doc, Timing* t) {
      auto chunks = chunker->Split(doc);
      if (!chunks.ok()) Fail(chunks.status().ToString());
      t->chunks += chunks->size();
      for (const fe::Chunk& c : *chunks) t->tokens += c.token_count;
    });
    results.push_back(Result(encoder == &wordpiece ? "wordpiece-bert-base-uncased" : "hash",
                             chunker.value(), bytes, tokenize, chunk));
  }

  std::printf(
      "{\"bench\":\"chunker\",\"bytes\":%zu,\"documents\":%zu,\"results\":[%s,%s],"
      "\"commit\":\"%s\",\"build_type\":\"%s\",\"cpu\":\"%s\",\"threads\":1}\n",
      bytes, docs.size(), results[0].c_str(), results[1].c_str(), bench::Commit(),
      bench::BuildType(), bench::CpuName().c_str());
  return 0;
}
