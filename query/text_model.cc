// TextModel (query/database.h): a built-in encoder without a database, or a
// collection's encoder (Collection::Model).
#include "query/text_model.h"

#include <string_view>

#include <fmt/format.h>

#include "encoders/encoder.h"
#include "encoders/image.h"
#include "query/database.h"
#include "query/image_input.h"

namespace flashembed {
namespace {

class TextModelImpl final : public TextModel {
 public:
  explicit TextModelImpl(std::shared_ptr<const encoders::TextEncoder> encoder)
      : encoder_(std::move(encoder)) {}

  int dim() const override { return encoder_->dim(); }
  std::string spec() const override { return encoder_->spec(); }

  Result<std::vector<float>> Embed(const std::vector<std::string>& texts) const override {
    std::vector<std::string_view> views(texts.begin(), texts.end());
    std::vector<float> out(texts.size() * static_cast<size_t>(encoder_->dim()));
    FE_RETURN_IF_ERROR(encoder_->Encode(views, out));
    return out;
  }

  Result<std::vector<float>> EmbedTokenIds(
      const std::vector<std::vector<int32_t>>& ids) const override {
    std::vector<float> out(ids.size() * static_cast<size_t>(encoder_->dim()));
    FE_RETURN_IF_ERROR(encoder_->EncodeTokenIds(ids, out));
    return out;
  }

  Result<size_t> CountTokens(std::string_view text) const override {
    auto tokens = encoder_->Tokenize(text, encoder_->max_tokens());
    if (tokens.ok()) return tokens->ids.size();
    if (tokens.status().code() != StatusCode::kNotSupported) return tokens.status();
    // No vocabulary (hash, learned): the words it reads, all of them.
    FE_ASSIGN_OR_RETURN(auto spans, encoder_->TokenSpans(text));
    return spans.size();
  }

  Result<Tokens> Tokenize(std::string_view text, size_t max_tokens) const override {
    FE_ASSIGN_OR_RETURN(auto t, encoder_->Tokenize(text, max_tokens));
    return Tokens{std::move(t.ids), std::move(t.tokens), {}};
  }

  Result<Tokens> TokenizePair(std::string_view first, std::string_view second,
                              size_t max_tokens) const override {
    FE_ASSIGN_OR_RETURN(auto t, encoder_->TokenizePair(first, second, max_tokens));
    return Tokens{std::move(t.ids), std::move(t.tokens), std::move(t.type_ids)};
  }

  bool embeds_images() const override { return encoder_->embeds_images(); }

  Result<std::vector<float>> EmbedImages(std::span<const ImageInput> images) const override {
    if (!encoder_->embeds_images()) {
      return Status::NotSupported("encoder " + encoder_->spec() +
                                  " embeds texts only; images need a CLIP model folder");
    }
    std::vector<encoders::Image> decoded;
    decoded.reserve(images.size());
    for (size_t i = 0; i < images.size(); ++i) {
      auto d = query::DecodeImageInput(images[i]);
      if (!d.ok()) {
        if (!images[i].source.empty()) return d.status();
        std::string message = d.status().message();  // "image: <problem>"
        if (message.rfind("image: ", 0) == 0) message.erase(0, 7);
        return Status(d.status().code(), fmt::format("image {}: {}", i, message));
      }
      decoded.push_back(std::move(d->image));
    }
    std::vector<float> out(images.size() * static_cast<size_t>(encoder_->dim()));
    FE_RETURN_IF_ERROR(encoder_->EncodeImages(decoded, out));
    return out;
  }

 private:
  std::shared_ptr<const encoders::TextEncoder> encoder_;
};

}  // namespace

std::unique_ptr<TextModel> NewTextModel(std::shared_ptr<const encoders::TextEncoder> encoder) {
  return std::make_unique<TextModelImpl>(std::move(encoder));
}

Result<std::vector<float>> TextModel::EmbedTokenIds(
    const std::vector<std::vector<int32_t>>&) const {
  return Status::NotSupported("this model takes texts only, not token ids");
}

Result<size_t> TextModel::CountTokens(std::string_view) const {
  return Status::NotSupported("this model does not count tokens");
}

Result<TextModel::Tokens> TextModel::TokenizePair(std::string_view, std::string_view,
                                                  size_t) const {
  return Status::NotSupported("this model has no pair template");
}

Result<std::unique_ptr<TextModel>> TextModel::Open(const std::string& encoder, int dim) {
  if (encoder.empty()) {
    return Status::InvalidArgument("no encoder given: use \"hash\" or \"model:DIR\"");
  }
  FE_ASSIGN_OR_RETURN(auto e, encoders::NewTextEncoder(encoder, dim));
  return NewTextModel(std::move(e));
}

}  // namespace flashembed
