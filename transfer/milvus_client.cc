#include "transfer/milvus_client.h"

#include <cctype>
#include <chrono>
#include <thread>

#include <fmt/format.h>

namespace flashembed::transfer {
namespace {

constexpr int kDefaultPort = 19530;

bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// A raw JSON scanner: positions only, no values built.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  void SkipSpace() {
    while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
  }
  bool Eat(char c) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ == text_.size();
  }

  // The extent of the value at pos_ (strings, nesting), advancing past it.
  Result<std::string_view> Value() {
    SkipSpace();
    const size_t from = pos_;
    int depth = 0;
    bool in_string = false;
    for (; pos_ < text_.size(); ++pos_) {
      const char c = text_[pos_];
      if (in_string) {
        if (c == '\\') {
          ++pos_;
        } else if (c == '"') {
          in_string = false;
          if (depth == 0) {
            ++pos_;
            return text_.substr(from, pos_ - from);
          }
        }
      } else if (c == '"') {
        in_string = true;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (depth == 0) break;  // the end of the enclosing container
        if (--depth == 0) {
          ++pos_;
          return text_.substr(from, pos_ - from);
        }
      } else if (depth == 0 && (c == ',' || IsSpace(c))) {
        break;
      }
    }
    if (in_string || depth != 0 || pos_ == from) {
      return Status::InvalidArgument(fmt::format("malformed JSON at byte {}", from));
    }
    return text_.substr(from, pos_ - from);
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

std::string Clip(std::string_view text, size_t n = 300) {
  std::string out(text.substr(0, n));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  if (text.size() > n) out += "...";
  return out;
}

bool Transient(int http_status) {
  return http_status == 408 || http_status == 429 || http_status >= 500;
}

}  // namespace

Result<std::vector<std::string_view>> RawArrayElements(std::string_view text) {
  Scanner s(text);
  if (!s.Eat('[')) return Status::InvalidArgument("expected a JSON array");
  std::vector<std::string_view> out;
  if (!s.Eat(']')) {
    while (true) {
      FE_ASSIGN_OR_RETURN(std::string_view v, s.Value());
      out.push_back(v);
      if (s.Eat(',')) continue;
      if (s.Eat(']')) break;
      return Status::InvalidArgument("malformed JSON array: expected ',' or ']'");
    }
  }
  if (!s.AtEnd()) return Status::InvalidArgument("text after the JSON array");
  return out;
}

Result<std::vector<std::pair<std::string, std::string_view>>> RawObjectMembers(
    std::string_view text) {
  Scanner s(text);
  if (!s.Eat('{')) return Status::InvalidArgument("expected a JSON object");
  std::vector<std::pair<std::string, std::string_view>> out;
  if (!s.Eat('}')) {
    while (true) {
      FE_ASSIGN_OR_RETURN(std::string_view raw_key, s.Value());
      const Json key = Json::parse(raw_key, nullptr, false);
      if (!key.is_string()) return Status::InvalidArgument("malformed JSON object key");
      if (!s.Eat(':')) return Status::InvalidArgument("malformed JSON object: expected ':'");
      FE_ASSIGN_OR_RETURN(std::string_view v, s.Value());
      out.emplace_back(key.get<std::string>(), v);
      if (s.Eat(',')) continue;
      if (s.Eat('}')) break;
      return Status::InvalidArgument("malformed JSON object: expected ',' or '}'");
    }
  }
  if (!s.AtEnd()) return Status::InvalidArgument("text after the JSON object");
  return out;
}

std::string FilterStringLiteral(std::string_view value) {
  std::string out = "\"";
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\u{:04x}", u);
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

Status RemoteOptions::Validate() const {
  if (url.empty()) return Status::InvalidArgument("no Milvus URL given");
  if (timeout_ms < 1 || timeout_ms > 86400000) {
    return Status::InvalidArgument(
        fmt::format("the timeout must be 1 .. 86400000 ms, got {}", timeout_ms));
  }
  if (retries < 0 || retries > 100) {
    return Status::InvalidArgument(fmt::format("retries must be 0 .. 100, got {}", retries));
  }
  for (const char c : token) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Status::InvalidArgument("the token holds a control character");
    }
  }
  for (const char c : db_name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') {
      return Status::InvalidArgument("the database name must be letters, digits and '_'");
    }
  }
  return HttpClient::Open(url, kDefaultPort, timeout_ms).status();  // parses; no connection
}

MilvusClient::MilvusClient(std::unique_ptr<HttpClient> http, const RemoteOptions& options)
    : http_(std::move(http)),
      url_(options.url),
      db_name_(options.db_name),
      retries_(options.retries) {
  if (!options.token.empty()) headers_.emplace_back("Authorization", "Bearer " + options.token);
  // Int64 values as JSON numbers (the default of Milvus's own config, which
  // a server may have changed).
  headers_.emplace_back("Accept-Type-Allow-Int64", "true");
  if (!db_name_.empty()) headers_.emplace_back("DB-Name", db_name_);
}

Result<std::unique_ptr<MilvusClient>> MilvusClient::Open(const RemoteOptions& options) {
  FE_RETURN_IF_ERROR(options.Validate());
  FE_ASSIGN_OR_RETURN(std::unique_ptr<HttpClient> http,
                      HttpClient::Open(options.url, kDefaultPort, options.timeout_ms));
  return std::unique_ptr<MilvusClient>(new MilvusClient(std::move(http), options));
}

OrderedJson MilvusClient::Body(const std::string& collection) const {
  OrderedJson body = {{"collectionName", collection}};
  if (!db_name_.empty()) body["dbName"] = db_name_;
  return body;
}

Result<MilvusReply> MilvusClient::Call(std::string_view route, const std::string& body,
                                       std::string_view retry_route) {
  Status last;
  int sent = 0;         // attempts of this call
  bool resent = false;  // the one immediate resend after a stale connection
  bool skip_pause = false;
  for (int attempt = 0; attempt <= retries_; ++attempt) {
    if (attempt > 0 && !skip_pause) {
      // Pauses of 0.5 s, 1 s, 2 s, ..., cut short by a cancel.
      const auto pause = std::chrono::milliseconds(500) * (1 << std::min(attempt - 1, 5));
      const auto until = std::chrono::steady_clock::now() + pause;
      while (std::chrono::steady_clock::now() < until) {
        if (cancelled()) return Status::Cancelled(last.message() + " (stopped before retrying)");
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    skip_pause = false;
    const std::string_view r = sent > 0 && !retry_route.empty() ? retry_route : route;
    const std::string path = "/v2/vectordb/" + std::string(r);
    ++sent;
    ++requests_;
    Result<HttpReply> reply = http_->Post(path, body, headers_);
    if (!reply.ok()) {
      last = reply.status();
      if (http_->stale_failure() && !resent) {
        // A kept-alive connection the server had closed: send it again at
        // once, on a new connection, without counting a retry.
        resent = true;
        skip_pause = true;
        --attempt;
      }
      continue;
    }
    const std::string where = "Milvus at " + url_ + ": " + std::string(r);
    if (reply->status == 401 || reply->status == 403) {
      return Status::InvalidArgument(fmt::format("{}: HTTP {} (the token was refused): {}", where,
                                                 reply->status, Clip(reply->body)));
    }
    if (Transient(reply->status)) {
      last =
          Status::IOError(fmt::format("{}: HTTP {}: {}", where, reply->status, Clip(reply->body)));
      continue;
    }
    if (reply->status != 200) {
      return Status::IOError(fmt::format("{}: HTTP {} (is this a Milvus REST v2 endpoint?): {}",
                                         where, reply->status, Clip(reply->body)));
    }
    Result<std::vector<std::pair<std::string, std::string_view>>> members =
        RawObjectMembers(reply->body);
    if (!members.ok()) {
      return Status::IOError(where + ": the answer is not a Milvus reply (" +
                             members.status().message() + "): " + Clip(reply->body));
    }
    std::optional<int64_t> code;
    std::string message;
    std::string_view data;
    for (const auto& [key, value] : *members) {
      if (key == "code") {
        const Json c = Json::parse(value, nullptr, false);
        if (c.is_number_integer()) code = c.get<int64_t>();
      } else if (key == "message") {
        const Json m = Json::parse(value, nullptr, false);
        if (m.is_string()) message = m.get<std::string>();
      } else if (key == "data") {
        data = value;
      }
    }
    if (!code.has_value()) {
      return Status::IOError(where + ": the answer has no \"code\": " + Clip(reply->body));
    }
    if (*code == 1807) {  // rate limited
      last = Status::IOError(where + ": Milvus code 1807: " + message);
      continue;
    }
    if (*code != 0) {
      const std::string text = fmt::format("{}: Milvus code {}: {}", where, *code, message);
      if (*code == 100) return Status::NotFound(text);
      if (*code == 1800) return Status::InvalidArgument(text + " (check the token)");
      return Status::Internal(text);
    }
    MilvusReply out;
    out.data_offset = data.empty() ? 0 : static_cast<size_t>(data.data() - reply->body.data());
    out.data_size = data.size();
    out.body = std::move(reply->body);
    return out;
  }
  return Status::IOError(last.message() +
                         (retries_ > 0 ? fmt::format(" (after {} retries)", retries_) : ""));
}

Result<Json> MilvusClient::CallJson(std::string_view route, const OrderedJson& body) {
  FE_ASSIGN_OR_RETURN(MilvusReply reply, Call(route, body.dump()));
  if (reply.data().empty()) return Json();
  Json data = Json::parse(reply.data(), nullptr, false);
  if (data.is_discarded()) {
    return Status::IOError("Milvus at " + url_ + ": " + std::string(route) +
                           ": \"data\" is not JSON: " + Clip(reply.data()));
  }
  return data;
}

}  // namespace flashembed::transfer
