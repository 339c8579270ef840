// TextModel (query/database.h): a built-in encoder without a database.
#include <string_view>

#include "encoders/encoder.h"
#include "query/database.h"

namespace flashembed {
namespace {

class TextModelImpl final : public TextModel {
 public:
  explicit TextModelImpl(std::unique_ptr<encoders::TextEncoder> encoder)
      : encoder_(std::move(encoder)) {}

  int dim() const override { return encoder_->dim(); }
  std::string spec() const override { return encoder_->spec(); }

  Result<std::vector<float>> Embed(const std::vector<std::string>& texts) const override {
    std::vector<std::string_view> views(texts.begin(), texts.end());
    std::vector<float> out(texts.size() * static_cast<size_t>(encoder_->dim()));
    FE_RETURN_IF_ERROR(encoder_->Encode(views, out));
    return out;
  }

  Result<Tokens> Tokenize(std::string_view text, size_t max_tokens) const override {
    FE_ASSIGN_OR_RETURN(auto t, encoder_->Tokenize(text, max_tokens));
    return Tokens{std::move(t.ids), std::move(t.tokens)};
  }

 private:
  std::unique_ptr<encoders::TextEncoder> encoder_;
};

}  // namespace

Result<std::unique_ptr<TextModel>> TextModel::Open(const std::string& encoder, int dim) {
  if (encoder.empty()) {
    return Status::InvalidArgument("no encoder given: use \"hash\" or \"model:DIR\"");
  }
  FE_ASSIGN_OR_RETURN(auto e, encoders::NewTextEncoder(encoder, dim));
  return std::unique_ptr<TextModel>(new TextModelImpl(std::move(e)));
}

}  // namespace flashembed
