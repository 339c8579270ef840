#include "server/json_util.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "base/json_depth.h"
#include "base/number.h"

namespace flashembed::server {

namespace {

// Request bodies nest at most this deep (query/database.h's
// kMaxMetadataDepth then limits the metadata inside them).
constexpr size_t kMaxBodyDepth = 256;

// A SAX pass that knows where in the document it is, for error messages
// that name the field: "documents[0].vector[0]". Iterative like nlohmann's
// parser, so any depth is safe; it builds nothing. Used only once a body
// was found bad, so good requests are parsed once.
class PathTracker : public nlohmann::json_sax<Json> {
 public:
  bool null() override { return Value(); }
  bool boolean(bool) override { return Value(); }
  bool number_integer(number_integer_t) override { return Value(); }
  bool number_unsigned(number_unsigned_t) override { return Value(); }
  bool number_float(number_float_t, const string_t&) override { return Value(); }
  bool string(string_t&) override { return Value(); }
  bool binary(binary_t&) override { return Value(); }
  bool start_object(std::size_t) override { return Open(false); }
  bool key(string_t& key) override {
    frames_.back().key = key;
    return true;
  }
  bool end_object() override { return Close(); }
  bool start_array(std::size_t) override { return Open(true); }
  bool end_array() override { return Close(); }
  bool parse_error(std::size_t, const std::string& last_token,
                   const nlohmann::detail::exception& ex) override {
    // nlohmann reports a number beyond double's range (1e999) as
    // out_of_range 406, not as a parse error.
    if (ex.id == 406) {
      error_ = "number " + last_token + " is out of range" + At();
    } else {
      error_ = ex.what();
    }
    return false;
  }

  // Why the pass stopped ("" if it did not).
  const std::string& error() const { return error_; }

 private:
  struct Frame {
    bool array = false;
    size_t index = 0;  // arrays: elements before the current one
    std::string key;   // objects: the current key
  };

  bool Value() {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
    return true;
  }
  bool Open(bool array) {
    if (frames_.size() >= kMaxBodyDepth) {
      error_ = "JSON nested deeper than " + std::to_string(kMaxBodyDepth) + " levels" + At();
      return false;
    }
    frames_.push_back({.array = array});
    return true;
  }
  bool Close() {
    frames_.pop_back();
    return Value();
  }
  // " at documents[0].vector[1]"; "" at the top level. Long paths are cut.
  std::string At() const {
    constexpr size_t kShown = 12;
    std::string path;
    for (size_t i = 0; i < frames_.size() && i < kShown; ++i) {
      const Frame& f = frames_[i];
      if (f.array) {
        path += "[" + std::to_string(f.index) + "]";
        continue;
      }
      const bool plain = !f.key.empty() && std::all_of(f.key.begin(), f.key.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
      });
      if (plain) {
        path += (path.empty() ? "" : ".") + f.key;
      } else {
        path += "[" + Dump(Json(f.key)) + "]";
      }
    }
    if (frames_.size() > kShown) path += "...";
    return path.empty() ? "" : " at " + path;
  }

  std::vector<Frame> frames_;
  std::string error_;
};

}  // namespace

std::optional<Json> ParseJsonBody(std::string_view body, std::string* error) {
  // nlohmann copies and serialises recursively, one stack frame per level:
  // count the depth first (outside strings) so "[[[[..." cannot overflow
  // the stack, and build nothing from a body that is too deep.
  if (JsonDepth(body, kMaxBodyDepth) <= kMaxBodyDepth) {
    Json value = Json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!value.is_discarded()) return value;
  }
  // Bad: a second, non-throwing pass says why and where.
  PathTracker tracker;
  (void)Json::sax_parse(body, &tracker);
  *error = tracker.error().empty() ? "malformed JSON" : tracker.error();
  return std::nullopt;
}

std::string Dump(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Json FloatToJson(float value) { return JsonFloat(value); }

}  // namespace flashembed::server
