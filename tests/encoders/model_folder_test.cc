#include "encoders/model_folder.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/testing/test_util.h"

namespace flashembed::encoders {
namespace {

using testing::TempDir;

constexpr const char* kConfig = R"({
  "architectures": ["BertModel"], "model_type": "bert", "vocab_size": 30522,
  "hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12,
  "intermediate_size": 1536, "max_position_embeddings": 512, "type_vocab_size": 2,
  "layer_norm_eps": 1e-12, "hidden_act": "gelu"})";

void WriteFile(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// A folder shaped like sentence-transformers/all-MiniLM-L6-v2 (no weights
// content needed to read the metadata).
std::string MiniLmFolder(const TempDir& dir) {
  std::string m = dir.Sub("minilm");
  WriteFile(m + "/config.json", kConfig);
  WriteFile(m + "/vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n");
  WriteFile(m + "/model.safetensors", "");
  WriteFile(m + "/modules.json", R"([
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])");
  WriteFile(m + "/1_Pooling/config.json",
            R"({"word_embedding_dimension": 384, "pooling_mode_cls_token": false,
                "pooling_mode_mean_tokens": true, "pooling_mode_max_tokens": false})");
  WriteFile(m + "/sentence_bert_config.json", R"({"max_seq_length": 256, "do_lower_case": false})");
  return m;
}

TEST(ModelFolder, ReadsConfigAndSentenceTransformersMetadata) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(ModelFolder m, ModelFolder::Read(MiniLmFolder(dir)));
  EXPECT_EQ(m.config.vocab_size, 30522);
  EXPECT_EQ(m.config.hidden_size, 384);
  EXPECT_EQ(m.config.num_hidden_layers, 6);
  EXPECT_EQ(m.config.num_attention_heads, 12);
  EXPECT_EQ(m.config.intermediate_size, 1536);
  EXPECT_EQ(m.config.max_position_embeddings, 512);
  EXPECT_EQ(m.config.hidden_act, Activation::kGelu);
  EXPECT_DOUBLE_EQ(m.config.layer_norm_eps, 1e-12);
  EXPECT_EQ(m.pooling, Pooling::kMean);
  EXPECT_TRUE(m.normalize);
  EXPECT_EQ(m.max_seq_length, 256);
  EXPECT_FALSE(m.vocab_path.empty());
  EXPECT_TRUE(m.tokenizer_json_path.empty());
}

TEST(ModelFolder, PlainBertFolderUsesDefaults) {
  TempDir dir;
  std::string m = dir.Sub("bge");
  WriteFile(m + "/config.json", R"({"vocab_size": 100, "hidden_size": 8, "num_hidden_layers": 1,
      "num_attention_heads": 2, "intermediate_size": 16, "max_position_embeddings": 32,
      "hidden_act": "gelu_new"})");
  WriteFile(m + "/tokenizer.json", "{}");
  WriteFile(m + "/model.safetensors", "");
  WriteFile(m + "/1_Pooling/config.json", R"({"pooling_mode_cls_token": true})");
  ASSERT_OK_AND_ASSIGN(ModelFolder f, ModelFolder::Read(m));
  EXPECT_EQ(f.pooling, Pooling::kCls);
  EXPECT_FALSE(f.normalize);
  EXPECT_EQ(f.max_seq_length, 32);
  EXPECT_EQ(f.config.type_vocab_size, 2);
  EXPECT_EQ(f.config.hidden_act, Activation::kGeluTanh);
}

TEST(ModelFolder, RefusesIncompleteOrInconsistentFolders) {
  TempDir dir;
  EXPECT_TRUE(ModelFolder::Read(dir.Sub("nothing")).status().IsNotFound());

  struct Case {
    const char* name;
    std::string file;  // relative path to overwrite, or remove when text is empty
    std::string text;
    const char* message;
  };
  std::vector<Case> cases = {
      {"no config", "config.json", "", "config.json: no such file"},
      {"bad json", "config.json", "{", "config.json: not valid JSON"},
      {"config array", "config.json", "[]", "config.json: must be a JSON object"},
      {"missing field", "config.json", R"({"vocab_size": 10})", "missing \"hidden_size\""},
      {"heads", "config.json",
       R"({"vocab_size": 10, "hidden_size": 10, "num_hidden_layers": 1, "num_attention_heads": 3,
           "intermediate_size": 4, "max_position_embeddings": 8})",
       "not a multiple of num_attention_heads 3"},
      {"activation", "config.json",
       R"({"vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
           "intermediate_size": 4, "max_position_embeddings": 8, "hidden_act": "swish"})",
       "hidden_act swish is not supported"},
      {"model type", "config.json", R"({"model_type": "roberta"})", "model_type \"roberta\""},
      {"negative", "config.json",
       R"({"vocab_size": -1, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
           "intermediate_size": 4, "max_position_embeddings": 8})",
       "\"vocab_size\" must be an integer"},
      {"no weights", "model.safetensors", "", "model.safetensors: no such file"},
      {"no vocab", "vocab.txt", "", "neither vocab.txt nor tokenizer.json"},
      {"two poolings", "1_Pooling/config.json",
       R"({"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": true})",
       "more than one pooling mode"},
      {"weighted pooling", "1_Pooling/config.json", R"({"pooling_mode_weightedmean_tokens": true})",
       "pooling_mode_weightedmean_tokens is not supported"},
      {"seq too long", "sentence_bert_config.json", R"({"max_seq_length": 1024})",
       "\"max_seq_length\" must be an integer in 2..512"},
      {"modules", "modules.json", R"({"not": "an array"})", "modules.json: must be a JSON array"},
  };
  for (const auto& c : cases) {
    TempDir case_dir;
    std::string m = MiniLmFolder(case_dir);
    if (c.text.empty()) {
      std::filesystem::remove(m + "/" + c.file);
    } else {
      WriteFile(m + "/" + c.file, c.text);
    }
    auto got = ModelFolder::Read(m);
    ASSERT_FALSE(got.ok()) << c.name;
    EXPECT_NE(got.status().message().find(c.message), std::string::npos)
        << c.name << ": " << got.status();
  }
}

}  // namespace
}  // namespace flashembed::encoders
