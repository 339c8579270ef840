// The native API's long documents (docs/API.md, "Long documents"):
// collections/{name}/long_documents — put (Collection::PutDocuments), get,
// delete and search (SearchDocuments). The plain records of a collection
// stay under collections/{name}/documents.
#include <utility>

#include <fmt/format.h>

#include "server/native_api.h"

namespace flashembed::server {

using namespace native_detail;  // NOLINT(build/namespaces): the shared request helpers

namespace {

const char* OutcomeName(PutDocumentResult::Outcome outcome) {
  switch (outcome) {
    case PutDocumentResult::Outcome::kAdded: return "added";
    case PutDocumentResult::Outcome::kReplaced: return "replaced";
    case PutDocumentResult::Outcome::kUnchanged: return "unchanged";
  }
  return "unknown";
}

// documents[i]'s string field `key`: nullopt when absent or null; 400 naming
// the document (`where`) and the field otherwise.
std::optional<std::string> DocumentString(const Json& doc, const char* key,
                                          const std::string& where) {
  auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) {
    BadRequest(where + ": \"" + key + "\" must be a string, got " + it->type_name());
  }
  return it->get<std::string>();
}

SourceDocument DocumentFromJson(const Json& d, size_t i) {
  std::string where = fmt::format("documents[{}]", i);
  if (!d.is_object()) BadRequest(where + " must be an object, got " + d.type_name());
  CheckKeys(d, {"id", "text", "source", "title", "metadata"}, where);
  SourceDocument doc;
  std::optional<std::string> id = DocumentString(d, "id", where);
  if (!id.has_value()) BadRequest(where + ": \"id\" is required (a string)");
  doc.id = std::move(*id);
  where += " (id " + Dump(Json(doc.id.substr(0, 200))) + ")";
  std::optional<std::string> text = DocumentString(d, "text", where);
  if (!text.has_value()) BadRequest(where + ": \"text\" is required (a string)");
  doc.text = std::move(*text);
  doc.source = DocumentString(d, "source", where).value_or("");
  doc.title = DocumentString(d, "title", where).value_or("");
  if (auto meta = d.find("metadata"); meta != d.end() && !meta->is_null()) {
    if (!meta->is_object()) {
      BadRequest(where + ": \"metadata\" must be an object, got " + meta->type_name());
    }
    doc.metadata = Dump(*meta);
  }
  return doc;
}

// The query string's with_vector=true|false (the only parameter).
bool WithVectorParam(const std::string& query) {
  bool with_vector = false;
  std::string_view rest = query;
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    const std::string key = PercentDecode(pair.substr(0, eq));
    const std::string value =
        eq == std::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1));
    if (key != "with_vector") {
      BadRequest("unknown query parameter \"" + key + "\"; expected with_vector");
    }
    if (value == "true") {
      with_vector = true;
    } else if (value == "false") {
      with_vector = false;
    } else {
      BadRequest("with_vector must be true or false, got \"" + value + "\"");
    }
  }
  return with_vector;
}

// A passage; neighbours (`neighbor`) carry no score. `with_neighbors`: the
// search asked for neighbours, so "before" and "after" are always present.
Json PassageToJson(const Passage& p, bool with_text, bool with_neighbors, bool neighbor) {
  Json out{{"chunk", p.ordinal}, {"begin", p.begin}, {"end", p.end}};
  if (!neighbor) out["score"] = FloatToJson(p.score);
  if (p.rerank_score) out["rerank_score"] = FloatToJson(*p.rerank_score);
  if (with_text) out["text"] = p.text;
  if (with_neighbors && !neighbor) {
    Json before = Json::array();
    Json after = Json::array();
    for (const Passage& n : p.before) before.push_back(PassageToJson(n, with_text, false, true));
    for (const Passage& n : p.after) after.push_back(PassageToJson(n, with_text, false, true));
    out["before"] = std::move(before);
    out["after"] = std::move(after);
  }
  return out;
}

}  // namespace

Json NativeApi::PutLongDocuments(const std::string& name, const Json& body) {
  CheckKeys(body, {"documents", "chunk_tokens", "overlap_tokens"}, "a long-document put request");
  const Json* docs_json = Get(body, "documents", Json::value_t::array, "an array");
  if (docs_json == nullptr || docs_json->empty()) {
    BadRequest("\"documents\" must be a non-empty array");
  }
  ChunkingOptions chunking;
  chunking.chunk_tokens = static_cast<size_t>(GetInt(body, "chunk_tokens", 0, 0, 1 << 20));
  if (Get(body, "overlap_tokens", Json::value_t::number_float, "an integer") != nullptr) {
    chunking.overlap_tokens = static_cast<size_t>(GetInt(body, "overlap_tokens", 0, 0, 1 << 20));
  }
  std::vector<SourceDocument> docs;
  docs.reserve(docs_json->size());
  for (size_t i = 0; i < docs_json->size(); ++i) {
    docs.push_back(DocumentFromJson((*docs_json)[i], i));
  }
  // Held from before the collection is opened (see CollectionLocks).
  CollectionLocks::Guard guard = locks_->Shared(name);
  std::shared_ptr<Collection> collection = Open(name);
  Result<std::vector<PutDocumentResult>> results =
      collection->PutDocuments(WriteOptions{}, chunking, docs);
  if (!results.ok()) Fail(results.status());
  Json list = Json::array();
  uint64_t encoded = 0;
  for (size_t i = 0; i < results->size(); ++i) {
    const PutDocumentResult& r = (*results)[i];
    encoded += r.chunks_encoded;
    list.push_back({{"id", docs[i].id},
                    {"outcome", OutcomeName(r.outcome)},
                    {"chunks", r.chunks},
                    {"chunks_encoded", r.chunks_encoded},
                    {"tokens", r.tokens}});
  }
  metrics_->AddTextsEmbedded(encoded);
  return {{"documents", std::move(list)}};
}

Json NativeApi::GetLongDocument(const std::string& name, const std::string& id,
                                const std::string& query) {
  const bool with_vector = WithVectorParam(query);
  Result<DocumentInfo> info = Open(name)->GetDocument(id, with_vector);
  if (!info.ok()) Fail(info.status());
  Json chunks = Json::array();
  for (const ChunkInfo& c : info->chunks) {
    chunks.push_back(
        {{"chunk", c.ordinal}, {"begin", c.begin}, {"end", c.end}, {"tokens", c.tokens}});
  }
  Json out{{"id", info->id},
           {"source", info->source},
           {"title", info->title},
           {"metadata", MetadataToJson(info->metadata)},
           {"content_hash", info->content_hash},
           {"bytes", info->bytes},
           {"tokens", info->tokens},
           {"chunk_tokens", info->chunk_tokens},
           {"overlap_tokens", info->overlap_tokens},
           {"updated_unix_ms", info->updated_unix_ms},
           {"chunks", std::move(chunks)}};
  if (with_vector) out["vector"] = VectorToJson(info->vector);
  return out;
}

Json NativeApi::DeleteLongDocuments(const std::string& name, const Json& body) {
  CheckKeys(body, {"ids"}, "a long-document delete request");
  const Json* ids_json = Get(body, "ids", Json::value_t::array, "an array");
  if (ids_json == nullptr) BadRequest("\"ids\" is required (an array of document ids)");
  std::vector<std::string> ids;
  ids.reserve(ids_json->size());
  for (size_t i = 0; i < ids_json->size(); ++i) {
    const Json& id = (*ids_json)[i];
    if (!id.is_string() || id.get_ref<const std::string&>().empty()) {
      BadRequest(fmt::format("ids[{}]: a document id is a non-empty string, got {}", i, Dump(id)));
    }
    ids.push_back(id.get<std::string>());
  }
  return DeleteLongDocuments(name, std::move(ids));
}

Json NativeApi::DeleteLongDocuments(const std::string& name, std::vector<std::string> ids) {
  CollectionLocks::Guard guard = locks_->Shared(name);
  std::shared_ptr<Collection> collection = Open(name);
  Result<size_t> deleted = collection->DeleteDocuments(WriteOptions{}, ids);
  if (!deleted.ok()) Fail(deleted.status());
  return {{"deleted", *deleted}};
}

Json NativeApi::SearchLongDocuments(const std::string& name, const Json& body) {
  CheckKeys(
      body,
      {"text",    "vector",    "k",      "filter", "filter_params", "passages",  "neighbors",
       "pooled",  "ef_search", "nprobe", "mode",   "min_score",     "max_score", "with_text",
       "ranking", "keywords",  "fusion", "rrf_k",  "text_weight",   "reranker",  "rerank_depth"},
      "a long-document search request");
  const std::string text = GetString(body, "text");
  std::vector<float> vector;
  if (auto v = body.find("vector"); v != body.end() && !v->is_null()) {
    vector = VectorFromJson(*v, "vector");
  }
  DocumentSearchOptions options;
  GetRanking(body, /*allow_auto=*/true, &options.search);
  GetReranker(body, *models_, &options.search);
  if (options.search.ranking == Ranking::kText) {
    if (!vector.empty()) {
      BadRequest("ranking \"text\" uses no \"vector\"; give \"text\" or \"keywords\"");
    }
  } else if (text.empty() == vector.empty()) {
    BadRequest("give exactly one of \"text\" and \"vector\"");
  }
  options.search.k = static_cast<size_t>(GetInt(body, "k", 10, 1, 16384));
  options.search.filter = GetString(body, "filter");
  if (const Json* p = Get(body, "filter_params", Json::value_t::object, "an object")) {
    options.search.filter_params = Dump(*p);
  }
  options.search.ef_search = static_cast<size_t>(GetInt(body, "ef_search", 0, 0, 10000));
  options.search.nprobe = static_cast<size_t>(GetInt(body, "nprobe", 0, 0, 65536));
  options.search.mode = GetMode(body);
  options.search.min_score = GetFloat(body, "min_score");
  options.search.max_score = GetFloat(body, "max_score");
  options.search.with_text = GetBool(body, "with_text", true);
  options.passages = static_cast<size_t>(GetInt(body, "passages", 1, 1, 64));
  options.neighbors = static_cast<size_t>(GetInt(body, "neighbors", 0, 0, 8));
  options.pooled = GetBool(body, "pooled", false);
  const Query query = vector.empty() ? Query::Text(text) : Query::Vector(std::move(vector));
  Result<std::vector<DocumentHit>> hits = Open(name)->SearchDocuments(options, query);
  if (!hits.ok()) Fail(hits.status());
  if (!text.empty() && options.search.ranking != Ranking::kText) metrics_->AddTextsEmbedded(1);
  Json list = Json::array();
  for (const DocumentHit& hit : *hits) {
    Json passages = Json::array();
    for (const Passage& p : hit.passages) {
      passages.push_back(
          PassageToJson(p, options.search.with_text, options.neighbors > 0, /*neighbor=*/false));
    }
    Json h{{"id", hit.id}, {"score", FloatToJson(hit.score)}};
    if (hit.vector_score.has_value()) h["vector_score"] = FloatToJson(*hit.vector_score);
    if (hit.text_score.has_value()) h["text_score"] = FloatToJson(*hit.text_score);
    if (hit.rerank_score.has_value()) h["rerank_score"] = FloatToJson(*hit.rerank_score);
    h["source"] = hit.source;
    h["title"] = hit.title;
    h["metadata"] = MetadataToJson(hit.metadata);
    h["passages"] = std::move(passages);
    list.push_back(std::move(h));
  }
  return {{"documents", std::move(list)}};
}

}  // namespace flashembed::server
