// The corpus-trained encoder (LearnedEncoder) against the hashing encoder on
// a retrieval test set in the BEIR layout (tools/eval/: corpus.jsonl,
// queries.jsonl, qrels/<split>.tsv), vectors only, as `search --documents`
// ranks: every document is cut by the Chunker with default options (the
// chunks ingest stores), each chunk embedded, and documents ranked by their
// best chunk's cosine to the query (exact, brute force; equal scores by
// document id, as tools/eval/metrics.py).
//
//   learned_encoder_bench --data DIR [--split dev|test|dev,test]
//       [--model-in FILE] [--model-out FILE] [--train-chunks 0|1]
//       [--weighting sif|idf] [--<LearnedOptions field> N ...]
//
// The encoder is trained on the documents' texts (or, with --train-chunks 1,
// on their chunks) with LearnedOptions' defaults changed by the flags
// --dim --epochs --min-count --ngram-min --ngram-max --buckets --window
// --negatives --lr --subsample --threads --seed; --model-in reads a model
// Serialize() wrote (--model-out writes one) instead of training. The
// encoding fields (--weighting --sif-a --remove-common 0|1 --lexical-dim
// --lexical-weight --pair-weight --char-weight) apply to a read model too
// (LearnedEncoder::Reconfigured), so choosing them takes seconds. Prints
// one JSON line: training seconds and model size, then per split recall@10
// and MRR@10 of both encoders and their ratio (learned / hashing).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "encoders/chunker.h"
#include "encoders/hashing_encoder.h"
#include "encoders/learned_encoder.h"
#include "tools/bench/bench_util.h"

namespace fe = flashembed::encoders;
namespace bench = flashembed::bench;

namespace {

constexpr std::string_view kBench = "learned_encoder_bench";
constexpr size_t kTop = 10;

[[noreturn]] void Fail(std::string_view what) { bench::Fail(kBench, what); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return std::move(s).str();
}

// One JSON object per line; `take(object)` for each.
template <typename Take>
void ReadJsonLines(const std::string& path, Take take) {
  std::ifstream in(path);
  if (!in) Fail("cannot read " + path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object()) Fail("not a JSON object in " + path + ": " + line.substr(0, 80));
    take(j);
  }
}

struct Chunks {
  std::vector<std::string> texts;
  std::vector<uint32_t> doc;  // the document of each chunk
};

// Row-major rows of every text.
std::vector<float> EncodeAll(const fe::TextEncoder& encoder,
                             const std::vector<std::string>& texts) {
  const size_t dim = static_cast<size_t>(encoder.dim());
  std::vector<float> rows(texts.size() * dim);
  constexpr size_t kBatch = 256;
  for (size_t i = 0; i < texts.size(); i += kBatch) {
    const size_t n = std::min(kBatch, texts.size() - i);
    const std::vector<std::string_view> batch(texts.begin() + static_cast<long>(i),
                                              texts.begin() + static_cast<long>(i + n));
    const flashembed::Status status =
        encoder.Encode(batch, std::span(rows).subspan(i * dim, n * dim));
    if (!status.ok()) Fail("encode: " + status.ToString());
  }
  return rows;
}

struct Scores {
  double recall = 0;  // recall@10
  double mrr = 0;     // MRR@10
  size_t queries = 0;
};

// Ranks the documents for every query by their best chunk (see the file
// comment). `relevant[q]` holds query q's relevant documents.
Scores Evaluate(const fe::TextEncoder& encoder, const Chunks& chunks, size_t docs,
                const std::vector<std::string>& queries,
                const std::vector<std::vector<uint32_t>>& relevant,
                const std::vector<float>& chunk_rows) {
  const size_t dim = static_cast<size_t>(encoder.dim());
  const std::vector<float> query_rows = EncodeAll(encoder, queries);
  Scores out;
  constexpr size_t kBlock = 64;  // queries per pass over the chunk rows (cache)
  std::vector<float> best(kBlock * docs);
  std::vector<uint32_t> order(docs);
  for (size_t q0 = 0; q0 < queries.size(); q0 += kBlock) {
    const size_t nq = std::min(kBlock, queries.size() - q0);
    std::fill(best.begin(), best.end(), -2.0f);
    for (size_t c = 0; c < chunks.doc.size(); ++c) {
      const float* row = &chunk_rows[c * dim];
      const uint32_t d = chunks.doc[c];
      for (size_t q = 0; q < nq; ++q) {
        const float* query = &query_rows[(q0 + q) * dim];
        float dot = 0;
#pragma omp simd reduction(+ : dot)
        for (size_t j = 0; j < dim; ++j) dot += row[j] * query[j];
        float& b = best[q * docs + d];
        b = std::max(b, dot);
      }
    }
    for (size_t q = 0; q < nq; ++q) {
      const std::vector<uint32_t>& rel = relevant[q0 + q];
      if (rel.empty()) continue;
      const float* score = &best[q * docs];
      for (uint32_t d = 0; d < docs; ++d) order[d] = d;
      std::partial_sort(order.begin(), order.begin() + static_cast<long>(std::min(kTop, docs)),
                        order.end(), [&](uint32_t a, uint32_t b) {
                          return score[a] != score[b] ? score[a] > score[b] : a < b;
                        });
      size_t found = 0;
      double rr = 0;
      for (size_t r = 0; r < std::min(kTop, docs); ++r) {
        if (std::find(rel.begin(), rel.end(), order[r]) == rel.end()) continue;
        ++found;
        if (rr == 0) rr = 1.0 / static_cast<double>(r + 1);
      }
      out.recall += static_cast<double>(found) / static_cast<double>(rel.size());
      out.mrr += rr;
      ++out.queries;
    }
  }
  if (out.queries > 0) {
    out.recall /= static_cast<double>(out.queries);
    out.mrr /= static_cast<double>(out.queries);
  }
  return out;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, sep)) out.push_back(part);
  return out;
}

double Round4(double x) { return std::round(x * 1e4) / 1e4; }

}  // namespace

int main(int argc, char** argv) {
  std::string data, split = "dev", model_in, model_out, weighting;
  std::vector<char*> numeric = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) bench::Fail(kBench, "missing value for " + a, 2);
      return argv[++i];
    };
    if (a == "--data") {
      data = value();
    } else if (a == "--split") {
      split = value();
    } else if (a == "--model-in") {
      model_in = value();
    } else if (a == "--model-out") {
      model_out = value();
    } else if (a == "--weighting") {
      weighting = value();
    } else {
      numeric.push_back(argv[i]);
      if (i + 1 < argc) numeric.push_back(argv[++i]);
    }
  }
  if (data.empty()) bench::Fail(kBench, "--data DIR is required", 2);

  fe::LearnedOptions options;
  bool train_chunks = false;
  bench::ParseNumberFlags(static_cast<int>(numeric.size()), numeric.data(), kBench,
                          /*allow_zero=*/true, [&](std::string_view name, double v) {
                            const int n = static_cast<int>(v);
                            if (name == "--dim")
                              options.dim = n;
                            else if (name == "--epochs")
                              options.epochs = n;
                            else if (name == "--min-count")
                              options.min_count = n;
                            else if (name == "--ngram-min")
                              options.char_ngram_min = n;
                            else if (name == "--ngram-max")
                              options.char_ngram_max = n;
                            else if (name == "--buckets")
                              options.buckets = n;
                            else if (name == "--window")
                              options.window = n;
                            else if (name == "--negatives")
                              options.negatives = n;
                            else if (name == "--lr")
                              options.learning_rate = v;
                            else if (name == "--subsample")
                              options.subsample = v;
                            else if (name == "--threads")
                              options.threads = n;
                            else if (name == "--seed")
                              options.seed = n;
                            else if (name == "--sif-a")
                              options.sif_a = v;
                            else if (name == "--remove-common")
                              options.remove_common = n != 0;
                            else if (name == "--lexical-dim")
                              options.lexical_dim = n;
                            else if (name == "--lexical-weight")
                              options.lexical_weight = v;
                            else if (name == "--pair-weight")
                              options.pair_weight = v;
                            else if (name == "--char-weight")
                              options.lexical_char_weight = v;
                            else if (name == "--train-chunks")
                              train_chunks = n != 0;
                            else
                              return false;
                            return true;
                          });
  if (weighting == "idf") {
    options.semantic_weighting = fe::LearnedOptions::Weighting::kIdf;
  } else if (!weighting.empty() && weighting != "sif") {
    bench::Fail(kBench, "--weighting must be sif or idf", 2);
  }
  if (const flashembed::Status s = options.Validate(); !s.ok()) {
    bench::Fail(kBench, s.ToString(), 2);
  }

  // The set.
  std::vector<std::string> doc_ids, doc_texts;
  std::unordered_map<std::string, uint32_t> doc_index;
  ReadJsonLines(data + "/corpus.jsonl", [&](const nlohmann::json& j) {
    doc_index.emplace(j.at("_id").get<std::string>(), static_cast<uint32_t>(doc_ids.size()));
    doc_ids.push_back(j.at("_id").get<std::string>());
    doc_texts.push_back(j.value("text", ""));
  });
  std::unordered_map<std::string, std::string> query_text;
  ReadJsonLines(data + "/queries.jsonl", [&](const nlohmann::json& j) {
    query_text.emplace(j.at("_id").get<std::string>(), j.at("text").get<std::string>());
  });

  // Chunks as ingest cuts them (the hashing and the learned encoder share
  // their token units and window, so one cut serves both).
  const auto hashing = fe::HashingEncoder::Create({}).value();
  auto chunker = fe::Chunker::Create(*hashing, fe::ChunkOptions());
  if (!chunker.ok()) Fail(chunker.status().ToString());
  Chunks chunks;
  for (size_t d = 0; d < doc_texts.size(); ++d) {
    auto cut = chunker->Split(doc_texts[d]);
    if (!cut.ok()) Fail(doc_ids[d] + ": " + cut.status().ToString());
    for (fe::Chunk& c : *cut) {
      chunks.texts.push_back(std::move(c.text));
      chunks.doc.push_back(static_cast<uint32_t>(d));
    }
  }

  // The learned encoder: trained, or read and reconfigured.
  std::unique_ptr<fe::LearnedEncoder> learned;
  double train_seconds = 0;
  const auto start = bench::Clock::now();
  if (!model_in.empty()) {
    auto loaded = fe::LearnedEncoder::Load(ReadFile(model_in));
    if (!loaded.ok()) Fail(model_in + ": " + loaded.status().ToString());
    auto reconfigured = (*loaded)->Reconfigured(options);
    if (!reconfigured.ok()) Fail(reconfigured.status().ToString());
    learned = std::move(reconfigured).value();
  } else {
    const std::vector<std::string>& train = train_chunks ? chunks.texts : doc_texts;
    const std::vector<std::string_view> views(train.begin(), train.end());
    auto trained = fe::LearnedEncoder::Train(views, options);
    if (!trained.ok()) Fail("train: " + trained.status().ToString());
    learned = std::move(trained).value();
    train_seconds = bench::SecondsSince(start);
  }
  const std::string bytes = learned->Serialize();
  if (!model_out.empty()) {
    std::ofstream out(model_out, std::ios::binary);
    out << bytes;
    if (!out) Fail("cannot write " + model_out);
  }

  nlohmann::ordered_json out;
  out["bench"] = kBench;
  bench::AddRunInfo(out);
  out["data"] = data;
  out["documents"] = doc_ids.size();
  out["chunks"] = chunks.texts.size();
  out["hashing_spec"] = hashing->spec();
  out["learned_spec"] = learned->spec();
  const fe::LearnedOptions& o = learned->options();
  out["options"] = {
      {"dim", o.dim},
      {"epochs", o.epochs},
      {"min_count", o.min_count},
      {"ngrams", std::to_string(o.char_ngram_min) + "-" + std::to_string(o.char_ngram_max)},
      {"buckets", o.buckets},
      {"window", o.window},
      {"negatives", o.negatives},
      {"lr", o.learning_rate},
      {"subsample", o.subsample},
      {"weighting", o.semantic_weighting == fe::LearnedOptions::Weighting::kIdf ? "idf" : "sif"},
      {"sif_a", o.sif_a},
      {"remove_common", o.remove_common},
      {"lexical_dim", o.lexical_dim},
      {"lexical_weight", o.lexical_weight},
      {"pair_weight", o.pair_weight},
      {"char_weight", o.lexical_char_weight},
      {"train_chunks", train_chunks}};
  out["model_in"] = model_in;
  out["train_seconds"] = Round4(train_seconds);
  out["threads"] = options.threads;
  out["model_bytes"] = bytes.size();
  out["vocabulary"] = learned->vocabulary_size();
  out["training_tokens"] = learned->training_tokens();

  const auto embed_start = bench::Clock::now();
  const std::vector<float> hashing_rows = EncodeAll(*hashing, chunks.texts);
  const double hashing_seconds = bench::SecondsSince(embed_start);
  const auto learned_start = bench::Clock::now();
  const std::vector<float> learned_rows = EncodeAll(*learned, chunks.texts);
  out["embed_seconds"] = {{"hashing", Round4(hashing_seconds)},
                          {"learned", Round4(bench::SecondsSince(learned_start))}};

  for (const std::string& name : Split(split, ',')) {
    std::map<std::string, std::vector<uint32_t>> by_query;
    std::ifstream qrels(data + "/qrels/" + name + ".tsv");
    if (!qrels) Fail("cannot read " + data + "/qrels/" + name + ".tsv");
    std::string line;
    while (std::getline(qrels, line)) {
      const std::vector<std::string> f = Split(line, '\t');
      if (f.size() < 3 || f[0] == "query-id" || std::atof(f[2].c_str()) <= 0) continue;
      const auto d = doc_index.find(f[1]);
      auto& rel = by_query[f[0]];
      if (d != doc_index.end()) rel.push_back(d->second);
    }
    std::vector<std::string> queries;
    std::vector<std::vector<uint32_t>> relevant;
    for (auto& [id, rel] : by_query) {
      const auto q = query_text.find(id);
      if (q == query_text.end()) Fail("qrels name unknown query " + id);
      queries.push_back(q->second);
      relevant.push_back(std::move(rel));
    }
    const Scores h = Evaluate(*hashing, chunks, doc_ids.size(), queries, relevant, hashing_rows);
    const Scores l = Evaluate(*learned, chunks, doc_ids.size(), queries, relevant, learned_rows);
    out[name] = {{"queries", h.queries},
                 {"hashing", {{"recall@10", Round4(h.recall)}, {"mrr@10", Round4(h.mrr)}}},
                 {"learned", {{"recall@10", Round4(l.recall)}, {"mrr@10", Round4(l.mrr)}}},
                 {"recall_ratio", Round4(h.recall > 0 ? l.recall / h.recall : 0)}};
  }
  out["max_rss_mb"] = Round4(bench::MaxRssMb());
  bench::PrintJsonLine(out.dump());
  return 0;
}
