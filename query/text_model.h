// NewTextModel: the TextModel (query/database.h) over an encoder, for
// TextModel::Open and Collection::Model. Internal to query/.
#ifndef FLASHEMBED_QUERY_TEXT_MODEL_H_
#define FLASHEMBED_QUERY_TEXT_MODEL_H_

#include <memory>

#include "encoders/encoder.h"
#include "query/database.h"

namespace flashembed {

// REQUIRES: encoder != nullptr.
std::unique_ptr<TextModel> NewTextModel(std::shared_ptr<const encoders::TextEncoder> encoder);

}  // namespace flashembed

#endif  // FLASHEMBED_QUERY_TEXT_MODEL_H_
