// OpenAiApi: OpenAI-compatible embeddings under /v1/ (docs/API.md), so
// clients written for OpenAI (the `openai` SDKs, LangChain, LlamaIndex) embed
// with flashembed's encoders by pointing their base URL at the server.
//
//   POST /v1/embeddings      {"model", "input", "encoding_format", "dimensions", "user"}
//   GET  /v1/models          the models a client may name
//   GET  /v1/models/{id}     one of them
//
// `model` is resolved in this order:
//   1. "hash": the built-in hashing encoder (`dimensions` sets its width);
//   2. the name of a collection with an encoder: that encoder, as the
//      collection embeds texts (a "learned" one too; no prefixes added);
//   3. a model folder: "model:DIR" or an absolute DIR, or a name relative to
//      a folder allowed with `flashembed serve --allow-model` (the first
//      allowed folder holding it). Folders outside the allowed ones are
//      refused (403) as ModelPolicy refuses them for collections.
// Folder models are loaded once and kept (the most recently used
// kModelCacheSize of them).
//
// `input` is a string, an array of strings, an array of token ids (one
// sequence of the model's own vocabulary ids, without special tokens) or an
// array of such arrays; at most kMaxInputs items, embedded in one batch.
// `encoding_format` "float" (default) or "base64" (little-endian float32).
// `dimensions`: a width below the model's for transformer folders
// (Matryoshka truncation) and any width for "hash"; for a collection only
// its own width. `usage.prompt_tokens` counts the tokens the model read
// (TextModel::CountTokens), or the ids given.
//
// Errors are OpenAI's shape, {"error":{"message","type","param","code"}},
// with HTTP 400 (invalid_request_error), 403, 404 (code model_not_found),
// 500 (server_error).
//
// Thread-safety: Handle() may run on many threads at once.
#ifndef FLASHEMBED_SERVER_OPENAI_API_H_
#define FLASHEMBED_SERVER_OPENAI_API_H_

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "query/database.h"
#include "server/http_message.h"
#include "server/json_util.h"
#include "server/model_policy.h"

namespace flashembed::server {

class OpenAiApi {
 public:
  static constexpr size_t kMaxInputs = 2048;
  static constexpr size_t kModelCacheSize = 8;

  // `models` is not owned and must outlive this object.
  OpenAiApi(Database* db, const ModelPolicy* models) : db_(db), models_(models) {}

  // REQUIRES: request.path starts with "/v1/" or is "/v1".
  HttpResponse Handle(const HttpRequest& request);

  // OpenAI's error body with `http_status`; `param` and `code` may be ""
  // (null in the body).
  static HttpResponse Error(int http_status, std::string_view message, std::string_view param = "",
                            std::string_view code = "");

 private:
  Json Embeddings(const Json& body);
  Json ListModels();
  Json RetrieveModel(const std::string& id);
  // The model `name` names, at `dimensions` (0: its own width).
  std::shared_ptr<const TextModel> Resolve(const std::string& name, int dimensions);
  // A folder model from the cache, or loaded into it.
  std::shared_ptr<const TextModel> FolderModel(const std::string& encoder, int dimensions);

  Database* db_;
  const ModelPolicy* models_;
  std::mutex cache_mu_;
  // Most recently used first: ("model:DIR;dim=N" or "hash;dim=N", model).
  std::list<std::pair<std::string, std::shared_ptr<const TextModel>>> cache_;
};

}  // namespace flashembed::server

#endif  // FLASHEMBED_SERVER_OPENAI_API_H_
