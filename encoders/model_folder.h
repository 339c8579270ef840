// ModelFolder: what a local Hugging Face sentence-embedding model folder
// declares, read and checked before any weights are loaded.
//
// Reads (nothing is downloaded; the user points at a folder they have):
//   config.json                 BERT hyper-parameters (BertConfig below)
//   vocab.txt / tokenizer.json  the tokenizer (at least one must exist)
//   model.safetensors           the weights (checked to exist here; read by
//                               the encoder)
//   modules.json, 1_Pooling/config.json, sentence_bert_config.json,
//   2_Dense/config.json + model.safetensors
//                               sentence-transformers metadata, when present:
//                               pooling mode, max_seq_length, Dense and
//                               Normalize modules (in modules.json's order:
//                               Pooling, Dense..., Normalize)
//
// Every problem is InvalidArgument (or NotFound for a missing folder or
// required file) naming the file and the field.
#ifndef FLASHEMBED_ENCODERS_MODEL_FOLDER_H_
#define FLASHEMBED_ENCODERS_MODEL_FOLDER_H_

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace flashembed::encoders {

enum class Activation { kGelu, kGeluTanh, kRelu };
enum class Pooling { kMean, kCls, kMax };
// A sentence-transformers Dense module's activation_function.
enum class DenseActivation { kIdentity, kTanh, kRelu };

// The fields of a BERT or XLM-RoBERTa config.json the forward pass needs.
struct BertConfig {
  // "bert" or "xlm-roberta" (the same layers; XLM-R numbers positions from
  // pad_token_id + 1 and has one token type).
  std::string model_type = "bert";
  int vocab_size = 0;
  int hidden_size = 0;
  int num_hidden_layers = 0;
  int num_attention_heads = 0;
  int intermediate_size = 0;
  int max_position_embeddings = 0;
  int type_vocab_size = 2;        // optional in config.json
  double layer_norm_eps = 1e-12;  // optional in config.json
  Activation hidden_act = Activation::kGelu;
  // The position embedding of a sequence's first token: 0 for BERT,
  // pad_token_id + 1 for XLM-RoBERTa, whose positions count only the tokens
  // that are not pad_token_id (transformers'
  // create_position_ids_from_input_ids: a <pad> written in the text sits at
  // position pad_token_id and does not advance the others).
  int position_offset = 0;
  int pad_token_id = -1;  // XLM-RoBERTa only
};

// A sentence-transformers Dense module (sentence_transformers.models.Dense):
// y = activation(W x + b) on the pooled vector.
struct DenseModule {
  std::string weights_path;  // <module dir>/model.safetensors: linear.weight, linear.bias
  int in_features = 0;
  int out_features = 0;
  bool bias = true;
  DenseActivation activation = DenseActivation::kTanh;  // the module's default
};

struct ModelFolder {
  std::string dir;
  BertConfig config;
  std::string vocab_path;            // "" if absent
  std::string tokenizer_json_path;   // "" if absent
  std::string weights_path;          // model.safetensors
  Pooling pooling = Pooling::kMean;  // sentence-transformers' default
  std::vector<DenseModule> dense;    // applied after pooling, in order
  bool normalize = false;            // a sentence_transformers.models.Normalize module (last)
  // Tokens incl. specials; <= max_position_embeddings - position_offset.
  int max_seq_length = 0;
  // transformers' BertTokenizer settings from tokenizer_config.json; they
  // matter only when there is no tokenizer.json (whose own settings win).
  bool do_lower_case = true;
  std::optional<bool> strip_accents;  // unset: same as do_lower_case
  bool tokenize_chinese_chars = true;

  // Reads and checks the folder `dir`.
  static Result<ModelFolder> Read(const std::string& dir);
};

}  // namespace flashembed::encoders

#endif  // FLASHEMBED_ENCODERS_MODEL_FOLDER_H_
