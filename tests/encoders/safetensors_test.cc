#include "encoders/safetensors.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>

#include "tests/testing/test_util.h"

namespace flashembed::encoders {
namespace {

using testing::TempDir;

// Writes a safetensors file from a header JSON text and a data section.
std::string Write(const TempDir& dir, const std::string& name, const std::string& header,
                  const std::string& data) {
  std::string path = dir.Sub(name);
  std::ofstream out(path, std::ios::binary);
  uint64_t n = header.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << header << data;
  return path;
}

template <typename T>
std::string Bytes(std::initializer_list<T> values) {
  std::string out(values.size() * sizeof(T), '\0');
  std::memcpy(out.data(), std::data(values), out.size());
  return out;
}

TEST(SafeTensors, ReadsF32F16AndBF16Tensors) {
  TempDir dir;
  std::string data = Bytes<float>({1.5f, -2.0f, 3.25f, 0.0f, 8.0f, -0.5f}) +  // [0, 24)
                     Bytes<uint16_t>({0x3C00, 0xC000, 0x3800, 0x0001}) +      // [24, 32)
                     Bytes<uint16_t>({0x3F80, 0xC040});                       // [32, 36)
  std::string header =
      R"({"__metadata__":{"format":"pt"},)"
      R"("embeddings.word_embeddings.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
      R"("half":{"dtype":"F16","shape":[4],"data_offsets":[24,32]},)"
      R"("brain":{"dtype":"BF16","shape":[2],"data_offsets":[32,36]}})";
  ASSERT_OK_AND_ASSIGN(auto file, SafeTensorsFile::Open(Write(dir, "m.safetensors", header, data)));
  EXPECT_EQ(file->tensors().size(), 3u);
  EXPECT_EQ(file->metadata().at("format"), "pt");
  const TensorInfo* info = file->Find("embeddings.word_embeddings.weight");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->shape, (std::vector<int64_t>{2, 3}));
  std::vector<int64_t> shape = {2, 3};
  ASSERT_OK_AND_ASSIGN(auto f32, file->ReadFloat32("embeddings.word_embeddings.weight", shape));
  EXPECT_EQ(f32, (std::vector<float>{1.5f, -2.0f, 3.25f, 0.0f, 8.0f, -0.5f}));
  ASSERT_OK_AND_ASSIGN(auto f16, file->ReadFloat32("half"));
  EXPECT_EQ(f16, (std::vector<float>{1.0f, -2.0f, 0.5f, std::ldexp(1.0f, -24)}));
  ASSERT_OK_AND_ASSIGN(auto bf16, file->ReadFloat32("brain"));
  EXPECT_EQ(bf16, (std::vector<float>{1.0f, -3.0f}));

  std::vector<int64_t> wrong = {3, 2};
  auto mismatch = file->ReadFloat32("embeddings.word_embeddings.weight", wrong);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find("has shape [2, 3], expected [3, 2]"),
            std::string::npos)
      << mismatch.status();
  EXPECT_TRUE(file->ReadFloat32("bert.pooler.dense.weight").status().IsNotFound());
}

// Checkpoints carry tensors the model never reads in other dtypes (an I64
// `embeddings.position_ids` buffer, BOOL masks, U8 tables): every safetensors
// dtype opens and is size-checked; reading one as float32 is refused, naming
// the tensor and its dtype.
TEST(SafeTensors, OpensEveryDtypeAndReadsOnlyFloatsAsFloat32) {
  TempDir dir;
  std::string data = Bytes<float>({1.0f, 2.0f}) +    // w F32 [0, 8)
                     Bytes<int64_t>({0, 1, 2, 3}) +  // position_ids I64 [8, 40)
                     Bytes<int32_t>({7, -7}) +       // I32 [40, 48)
                     Bytes<uint16_t>({1, 2, 3}) +    // U16 [48, 54)
                     Bytes<uint8_t>({1, 0, 1}) +     // BOOL [54, 57)
                     Bytes<int8_t>({-1}) +           // I8 [57, 58)
                     Bytes<uint8_t>({0x38, 0x40}) +  // F8_E4M3 [58, 60)
                     Bytes<uint8_t>({0x12, 0x34}) +  // F4 x 3, packed [60, 62)
                     Bytes<double>({0.5});           // F64 [62, 70)
  std::string header =
      R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("embeddings.position_ids":{"dtype":"I64","shape":[1,4],"data_offsets":[8,40]},)"
      R"("i32":{"dtype":"I32","shape":[2],"data_offsets":[40,48]},)"
      R"("u16":{"dtype":"U16","shape":[3],"data_offsets":[48,54]},)"
      R"("mask":{"dtype":"BOOL","shape":[3],"data_offsets":[54,57]},)"
      R"("i8":{"dtype":"I8","shape":[1,1],"data_offsets":[57,58]},)"
      R"("f8":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[58,60]},)"
      R"("f4":{"dtype":"F4","shape":[3],"data_offsets":[60,62]},)"
      R"("f64":{"dtype":"F64","shape":[],"data_offsets":[62,70]}})";
  ASSERT_OK_AND_ASSIGN(auto file, SafeTensorsFile::Open(Write(dir, "m.safetensors", header, data)));
  EXPECT_EQ(file->tensors().size(), 9u);
  ASSERT_OK_AND_ASSIGN(auto w, file->ReadFloat32("w"));
  EXPECT_EQ(w, (std::vector<float>{1.0f, 2.0f}));
  const TensorInfo* ids = file->Find("embeddings.position_ids");
  ASSERT_NE(ids, nullptr);
  EXPECT_EQ(ids->dtype, TensorDtype::kOther);
  EXPECT_EQ(ids->dtype_name, "I64");
  EXPECT_EQ(ids->shape, (std::vector<int64_t>{1, 4}));
  for (const char* name :
       {"embeddings.position_ids", "i32", "u16", "mask", "i8", "f8", "f4", "f64"}) {
    auto read = file->ReadFloat32(name);
    ASSERT_FALSE(read.ok()) << name;
    EXPECT_TRUE(read.status().IsInvalidArgument()) << read.status();
    EXPECT_NE(read.status().message().find(std::string("tensor \"") + name + "\" has dtype " +
                                           file->Find(name)->dtype_name),
              std::string::npos)
        << read.status();
  }
}

// Every one of the 65536 half-precision values converts exactly as the
// compiler's own _Float16 does.
TEST(SafeTensors, HalfConversionIsExactForEveryValue) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    _Float16 ref = std::bit_cast<_Float16>(static_cast<uint16_t>(h));
    float want = static_cast<float>(ref);
    float got = HalfToFloat(static_cast<uint16_t>(h));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << std::hex << h;
    } else {
      EXPECT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want)) << std::hex << h;
    }
  }
}

TEST(SafeTensors, RefusesBrokenFilesNamingTheProblem) {
  TempDir dir;
  struct Case {
    const char* name;
    std::string header;
    std::string data;
    const char* message;
  };
  const std::string four = Bytes<float>({1, 2, 3, 4});
  std::vector<Case> cases = {
      {"not json", "{nope", four, "not a JSON object"},
      {"array", "[1,2]", four, "not a JSON object"},
      {"no offsets", R"({"w":{"dtype":"F32","shape":[4]}})", four, "tensor \"w\": needs dtype"},
      {"unknown dtype", R"({"w":{"dtype":"Q4_K","shape":[2],"data_offsets":[0,16]}})", four,
       "dtype Q4_K is not a safetensors dtype"},
      {"int wrong size", R"({"w":{"dtype":"I64","shape":[1],"data_offsets":[0,16]}})", four,
       "holds 16 bytes but I64 x shape needs 8"},
      {"int too large", R"({"w":{"dtype":"I64","shape":[3],"data_offsets":[0,16]}})", four,
       "shape x I64 needs more bytes than the 16-byte data section holds"},
      {"packed wrong size", R"({"w":{"dtype":"F4","shape":[5],"data_offsets":[0,16]}})", four,
       "holds 16 bytes but F4 x shape needs 3"},
      {"shape past data",
       R"({"w":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,16]}})", four,
       "needs more bytes than the 16-byte data section holds"},
      {"past end", R"({"w":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}})", four,
       "fall outside the 16-byte data section"},
      {"wrong size", R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", four,
       "holds 16 bytes but F32 x shape needs 12"},
      {"negative dim", R"({"w":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})", four,
       "non-integer or negative"},
      {"overlap",
       R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
       four, "overlap"},
  };
  for (const auto& c : cases) {
    std::string path = Write(dir, std::string(c.name) + ".safetensors", c.header, c.data);
    auto file = SafeTensorsFile::Open(path);
    ASSERT_FALSE(file.ok()) << c.name;
    EXPECT_TRUE(file.status().IsInvalidArgument()) << c.name << ": " << file.status();
    EXPECT_NE(file.status().message().find(c.message), std::string::npos)
        << c.name << ": " << file.status();
    EXPECT_NE(file.status().message().find(path), std::string::npos) << "names the file";
  }

  // Header length beyond the file, and a file too short for any header.
  std::string path = dir.Sub("huge.safetensors");
  {
    std::ofstream out(path, std::ios::binary);
    uint64_t n = 1 << 20;
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << "{}";
  }
  EXPECT_NE(SafeTensorsFile::Open(path).status().message().find("exceeds the file"),
            std::string::npos);
  {
    std::ofstream out(dir.Sub("tiny.safetensors"), std::ios::binary);
    out << "abc";
  }
  EXPECT_TRUE(SafeTensorsFile::Open(dir.Sub("tiny.safetensors")).status().IsInvalidArgument());
  EXPECT_TRUE(SafeTensorsFile::Open(dir.Sub("missing.safetensors")).status().IsNotFound());
  EXPECT_EQ(SafeTensorsFile::Open(dir.path()).status().code(), StatusCode::kIOError);
}

}  // namespace
}  // namespace flashembed::encoders
