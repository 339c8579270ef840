#include "server/openai_api.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <optional>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "base/base64.h"
#include "server/native_api.h"

namespace flashembed::server {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kPrefix = "/v1/";
constexpr std::string_view kModelPrefix = "model:";

// An error answer in OpenAI's shape, thrown inside this file only and caught
// in OpenAiApi::Handle.
struct OpenAiError {
  int status;
  std::string message;
  std::string param;
  std::string code;
};

[[noreturn]] void Invalid(std::string message, std::string param = "") {
  throw OpenAiError{400, std::move(message), std::move(param), ""};
}

int HttpStatusOf(StatusCode code) {
  switch (code) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotSupported: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kResourceExhausted: return 429;
    case StatusCode::kCancelled: return 503;
    default: return 500;
  }
}

[[noreturn]] void Fail(const Status& status, std::string param = "") {
  throw OpenAiError{HttpStatusOf(status.code()), status.message(), std::move(param), ""};
}

// A folder holding a Hugging Face model: what `flashembed embed --model`
// would try to load.
bool IsModelFolder(const fs::path& dir) {
  std::error_code ec;
  for (const char* file : {"config.json", "modules.json", "tokenizer.json"}) {
    if (fs::is_regular_file(dir / file, ec)) return true;
  }
  return false;
}

Json ModelObject(const std::string& id, const std::string& owned_by) {
  return Json{{"id", id}, {"object", "model"}, {"created", 0}, {"owned_by", owned_by}};
}

// `input` as texts or token sequences (exactly one of the two is filled).
struct Inputs {
  std::vector<std::string> texts;
  std::vector<std::vector<int32_t>> ids;
  size_t size() const { return texts.empty() ? ids.size() : texts.size(); }
};

std::vector<int32_t> TokenIds(const Json& array, const std::string& where) {
  std::vector<int32_t> ids;
  ids.reserve(array.size());
  for (size_t i = 0; i < array.size(); ++i) {
    const Json& v = array[i];
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX) {
      Invalid(fmt::format("{}[{}] must be a token id (an integer from 0), got {}", where, i,
                          Dump(v).substr(0, 40)),
              "input");
    }
    ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
  }
  if (ids.empty()) Invalid(where + " is an empty token sequence", "input");
  return ids;
}

Inputs ReadInputs(const Json& body) {
  auto it = body.find("input");
  if (it == body.end() || it->is_null()) Invalid("'input' is required", "input");
  const Json& input = *it;
  Inputs out;
  if (input.is_string()) {
    out.texts.push_back(input.get<std::string>());
    return out;
  }
  if (!input.is_array()) {
    Invalid(std::string("'input' must be a string, an array of strings or an array of token id "
                        "arrays, got ") +
                input.type_name(),
            "input");
  }
  if (input.empty()) Invalid("'input' is an empty array", "input");
  if (input.size() > OpenAiApi::kMaxInputs) {
    Invalid(fmt::format("'input' holds {} items; at most {} per request", input.size(),
                        OpenAiApi::kMaxInputs),
            "input");
  }
  if (input[0].is_number()) {
    out.ids.push_back(TokenIds(input, "input"));
    return out;
  }
  for (size_t i = 0; i < input.size(); ++i) {
    const Json& item = input[i];
    const std::string where = fmt::format("input[{}]", i);
    if (item.is_string() && out.ids.empty()) {
      out.texts.push_back(item.get<std::string>());
    } else if (item.is_array() && out.texts.empty()) {
      out.ids.push_back(TokenIds(item, where));
    } else {
      Invalid(where + " must be " +
                  (out.ids.empty() ? (out.texts.empty() ? "a string or an array of token ids"
                                                        : "a string, as the items before it")
                                   : "an array of token ids, as the items before it") +
                  ", got " + item.type_name(),
              "input");
    }
  }
  return out;
}

}  // namespace

HttpResponse OpenAiApi::Error(int http_status, std::string_view message, std::string_view param,
                              std::string_view code) {
  HttpResponse response;
  response.status = http_status;
  const char* type = http_status >= 500   ? "server_error"
                     : http_status == 401 ? "invalid_request_error"
                     : http_status == 429 ? "rate_limit_error"
                                          : "invalid_request_error";
  response.body = Dump(Json{{"error",
                             {{"message", message},
                              {"type", type},
                              {"param", param.empty() ? Json(nullptr) : Json(param)},
                              {"code", code.empty() ? Json(nullptr) : Json(code)}}}});
  return response;
}

HttpResponse OpenAiApi::Handle(const HttpRequest& request) {
  HttpResponse response;
  const std::string_view rest =
      std::string_view(request.path).substr(std::min(request.path.size(), kPrefix.size()));
  const std::string& m = request.method;
  try {
    Json out;
    if (rest == "embeddings" && m == "POST") {
      response.route = "/v1/embeddings";
      std::string error;
      std::optional<Json> body = ParseJsonBody(request.body, &error);
      if (!body) Invalid("the body is not valid JSON: " + error);
      if (!body->is_object()) Invalid("the body must be a JSON object");
      out = Embeddings(*body);
    } else if (rest == "models" && m == "GET") {
      response.route = "/v1/models";
      out = ListModels();
    } else if (rest.substr(0, 7) == "models/" && rest.size() > 7 && m == "GET") {
      response.route = "/v1/models/{model}";
      // Folder ids hold slashes: the id is the whole rest, percent-decoded.
      out = RetrieveModel(native_detail::PercentDecode(rest.substr(7)));
    } else {
      HttpResponse r = Error(404, "no route " + m + " " + request.path +
                                      " (this server offers POST /v1/embeddings, GET /v1/models)");
      r.route = "/v1/unknown";
      return r;
    }
    response.body = Dump(out);
  } catch (const OpenAiError& e) {
    std::string route = response.route;
    response = Error(e.status, e.message, e.param, e.code);
    response.route = route;
  } catch (const std::exception& e) {
    std::string route = response.route;
    response = Error(500, std::string("internal error: ") + e.what());
    response.route = route;
  }
  return response;
}

Json OpenAiApi::Embeddings(const Json& body) {
  for (auto it = body.begin(); it != body.end(); ++it) {
    static constexpr std::string_view kKnown[] = {"model", "input", "encoding_format", "dimensions",
                                                  "user"};
    if (std::find(std::begin(kKnown), std::end(kKnown), it.key()) == std::end(kKnown)) {
      Invalid("unrecognized request argument supplied: " + it.key() +
                  " (known: model, input, encoding_format, dimensions, user)",
              it.key());
    }
  }
  auto model_it = body.find("model");
  if (model_it == body.end() || !model_it->is_string() || model_it->get<std::string>().empty()) {
    Invalid("'model' must be a non-empty string: \"hash\", a collection's name or a model folder",
            "model");
  }
  const std::string name = model_it->get<std::string>();
  std::string format = "float";
  if (auto f = body.find("encoding_format"); f != body.end() && !f->is_null()) {
    if (!f->is_string() || (*f != "float" && *f != "base64")) {
      Invalid("'encoding_format' must be \"float\" or \"base64\", got " + Dump(*f),
              "encoding_format");
    }
    format = f->get<std::string>();
  }
  int dimensions = 0;
  if (auto d = body.find("dimensions"); d != body.end() && !d->is_null()) {
    if (!d->is_number_integer() || d->get<int64_t>() < 1 || d->get<int64_t>() > 65536) {
      Invalid("'dimensions' must be an integer from 1 to 65536, got " + Dump(*d), "dimensions");
    }
    dimensions = static_cast<int>(d->get<int64_t>());
  }
  if (auto u = body.find("user"); u != body.end() && !u->is_null() && !u->is_string()) {
    Invalid("'user' must be a string", "user");
  }
  const Inputs inputs = ReadInputs(body);
  const std::shared_ptr<const TextModel> resolved = Resolve(name, dimensions);
  const TextModel& model = *resolved;

  Result<std::vector<float>> vectors =
      inputs.texts.empty() ? model.EmbedTokenIds(inputs.ids) : model.Embed(inputs.texts);
  if (!vectors.ok()) Fail(vectors.status(), "input");
  size_t tokens = 0;
  if (inputs.texts.empty()) {
    for (const auto& seq : inputs.ids) tokens += seq.size();
  } else {
    for (const std::string& text : inputs.texts) {
      Result<size_t> n = model.CountTokens(text);
      if (!n.ok()) Fail(n.status(), "input");
      tokens += *n;
    }
  }

  const auto dim = static_cast<size_t>(model.dim());
  Json data = Json::array();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const float* row = vectors->data() + i * dim;
    Json embedding;
    if (format == "base64") {
      std::string bytes(dim * sizeof(float), '\0');
      // Little-endian float32, as OpenAI sends them (this server runs on
      // little-endian x86-64 and ARM64 only).
      std::memcpy(bytes.data(), row, bytes.size());
      embedding = Base64Encode(bytes);
    } else {
      embedding = Json::array();
      for (size_t k = 0; k < dim; ++k) embedding.push_back(FloatToJson(row[k]));
    }
    data.push_back(
        Json{{"object", "embedding"}, {"index", i}, {"embedding", std::move(embedding)}});
  }
  return Json{{"object", "list"},
              {"data", std::move(data)},
              {"model", name},
              {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}};
}

std::shared_ptr<const TextModel> OpenAiApi::Resolve(const std::string& name, int dimensions) {
  if (name == "hash") return FolderModel("hash", dimensions);
  if (name.substr(0, kModelPrefix.size()) != kModelPrefix && name.find('/') == std::string::npos) {
    Result<std::shared_ptr<Collection>> collection = db_->GetCollection(name);
    if (collection.ok()) {
      Result<std::shared_ptr<const TextModel>> model = (*collection)->Model();
      if (!model.ok()) Fail(model.status(), "model");
      if (dimensions != 0 && dimensions != (*model)->dim()) {
        Invalid(fmt::format("collection '{}' embeds into {} dimensions, not {}; name its model "
                            "folder to truncate",
                            name, (*model)->dim(), dimensions),
                "dimensions");
      }
      return std::move(model).value();
    }
    // Not a collection (or not a collection name, like "bge-small-en-v1.5"):
    // maybe a folder.
    if (collection.status().code() != StatusCode::kNotFound &&
        collection.status().code() != StatusCode::kInvalidArgument) {
      Fail(collection.status(), "model");
    }
  }
  // A folder: "model:DIR", an absolute DIR, or a name inside an allowed folder.
  std::string dir =
      name.substr(0, kModelPrefix.size()) == kModelPrefix ? name.substr(kModelPrefix.size()) : name;
  if (!dir.empty() && dir[0] != '/') {
    std::string found;
    for (const std::string& allowed : models_->dirs()) {
      std::error_code ec;
      if (fs::is_directory(fs::path(allowed) / dir, ec)) {
        found = (fs::path(allowed) / dir).string();
        break;
      }
    }
    if (found.empty()) {
      throw OpenAiError{404,
                        "The model '" + name +
                            "' does not exist: it is not \"hash\", a collection with an encoder, "
                            "or a folder inside one allowed with --allow-model (GET /v1/models "
                            "lists them)",
                        "model", "model_not_found"};
    }
    dir = found;
  }
  const std::string encoder = "model:" + dir;
  if (const std::string refusal = models_->Refusal(encoder); !refusal.empty()) {
    throw OpenAiError{403, refusal, "model", "model_not_allowed"};
  }
  return FolderModel(encoder, dimensions);
}

std::shared_ptr<const TextModel> OpenAiApi::FolderModel(const std::string& encoder,
                                                        int dimensions) {
  const std::string key = fmt::format("{};dim={}", encoder, dimensions);
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    for (auto it = cache_.begin(); it != cache_.end(); ++it) {
      if (it->first == key) {
        cache_.splice(cache_.begin(), cache_, it);
        return cache_.front().second;
      }
    }
  }
  // Loaded outside the lock: a folder can take seconds. Two requests may
  // load the same one at once; the second to finish wins the cache slot.
  Result<std::unique_ptr<TextModel>> opened = TextModel::Open(encoder, dimensions);
  if (!opened.ok()) {
    if (opened.status().code() == StatusCode::kNotFound) {
      throw OpenAiError{404, opened.status().message(), "model", "model_not_found"};
    }
    Fail(opened.status(), dimensions != 0 ? "dimensions" : "model");
  }
  std::shared_ptr<const TextModel> model(std::move(opened).value());
  std::lock_guard<std::mutex> lock(cache_mu_);
  std::erase_if(cache_, [&](const auto& entry) { return entry.first == key; });
  cache_.emplace_front(key, model);
  if (cache_.size() > kModelCacheSize) cache_.pop_back();
  return model;
}

Json OpenAiApi::ListModels() {
  Json data = Json::array();
  data.push_back(ModelObject("hash", "flashembed"));
  Result<std::vector<CollectionInfo>> collections = db_->ListCollections();
  if (!collections.ok()) Fail(collections.status());
  for (const CollectionInfo& info : *collections) {
    if (!info.encoder_spec.empty()) data.push_back(ModelObject(info.name, "collection"));
  }
  for (const std::string& allowed : models_->dirs()) {
    if (IsModelFolder(allowed)) data.push_back(ModelObject(allowed, "folder"));
    std::error_code ec;
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(allowed, ec)) {
      std::error_code entry_ec;
      if (entry.is_directory(entry_ec) && IsModelFolder(entry.path())) {
        names.push_back(entry.path().filename().string());
      }
    }
    std::sort(names.begin(), names.end());
    for (const std::string& n : names) data.push_back(ModelObject(n, "folder"));
  }
  return Json{{"object", "list"}, {"data", std::move(data)}};
}

Json OpenAiApi::RetrieveModel(const std::string& id) {
  Json list = ListModels();
  for (const Json& model : list["data"]) {
    if (model["id"] == id) return model;
  }
  throw OpenAiError{404, "The model '" + id + "' does not exist (GET /v1/models lists them)",
                    "model", "model_not_found"};
}

}  // namespace flashembed::server
