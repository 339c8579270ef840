// SafeTensorsFile: read-only access to a Hugging Face `.safetensors` file.
//
// Format (https://huggingface.co/docs/safetensors): an 8-byte little-endian
// header length N, then N bytes of JSON mapping tensor names to
// {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the
// byte after the header; an optional "__metadata__" entry maps strings to
// strings), then the tensor bytes, little-endian, row-major.
//
// The file is memory-mapped; tensors are converted to float32 on request
// (F32, F16 and BF16 can be read). Tensors of every other safetensors dtype
// (integers, BOOL, F64, 8-bit floats, ...) are accepted at Open and checked
// like the others, so a checkpoint that carries e.g. an I64 `position_ids`
// buffer the model never reads opens; reading such a tensor as float32 is
// refused, naming it. Every inconsistency (header length past the end,
// malformed JSON, offsets outside the data or not matching dtype x shape,
// overlapping tensors) is refused at Open with InvalidArgument naming the
// file and, where there is one, the tensor.
//
// Thread-safety: immutable after Open; all methods are const and safe to call
// concurrently.
#ifndef FLASHEMBED_ENCODERS_SAFETENSORS_H_
#define FLASHEMBED_ENCODERS_SAFETENSORS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace flashembed::encoders {

// kOther: any dtype that cannot be read as float32 (see TensorInfo::dtype_name).
enum class TensorDtype { kF32, kF16, kBF16, kOther };

struct TensorInfo {
  std::string name;
  TensorDtype dtype = TensorDtype::kF32;
  std::string dtype_name;      // as in the file: "F32", "I64", "BOOL", ...
  std::vector<int64_t> shape;  // empty for a scalar
  size_t begin = 0;            // byte offsets into the data section
  size_t end = 0;

  int64_t num_elements() const;
};

class SafeTensorsFile {
 public:
  // Maps and validates `path`. NotFound if it does not exist; IOError if it
  // cannot be read; InvalidArgument for a malformed or inconsistent file
  // (naming the tensor), including a dtype safetensors does not define.
  static Result<std::unique_ptr<SafeTensorsFile>> Open(const std::string& path);

  ~SafeTensorsFile();
  SafeTensorsFile(const SafeTensorsFile&) = delete;
  SafeTensorsFile& operator=(const SafeTensorsFile&) = delete;

  const std::string& path() const { return path_; }
  // Tensors by name.
  const std::map<std::string, TensorInfo, std::less<>>& tensors() const { return tensors_; }
  // The "__metadata__" entries.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // The tensor, or nullptr.
  const TensorInfo* Find(std::string_view name) const;

  // The tensor's values as float32. NotFound if there is no such tensor;
  // InvalidArgument, naming file, tensor and both shapes, if `expected_shape`
  // is non-empty and differs from the stored shape; InvalidArgument naming
  // the dtype if it is not F32, F16 or BF16.
  Result<std::vector<float>> ReadFloat32(std::string_view name,
                                         std::span<const int64_t> expected_shape = {}) const;
  // As ReadFloat32, and also F64 (rounded to float) and integers of at most
  // 32 bits (exact below 2^24): for tables stored that way on purpose, such as
  // model2vec's int8 embeddings.
  Result<std::vector<float>> ReadNumbersAsFloat32(
      std::string_view name, std::span<const int64_t> expected_shape = {}) const;
  // An integer tensor (I64, I32, U32, I16, U16, I8, U8) as int64.
  // InvalidArgument naming the dtype for any other.
  Result<std::vector<int64_t>> ReadIntegers(std::string_view name,
                                            std::span<const int64_t> expected_shape = {}) const;

 private:
  SafeTensorsFile() = default;

  // The tensor `name`, checked against `shape` (if non-empty); errors as
  // ReadFloat32's.
  Result<const TensorInfo*> FindShaped(std::string_view name, std::span<const int64_t> shape) const;

  std::string path_;
  const unsigned char* map_ = nullptr;
  size_t map_size_ = 0;
  size_t data_start_ = 0;  // offset of the data section in the file
  std::map<std::string, TensorInfo, std::less<>> tensors_;
  std::map<std::string, std::string> metadata_;
};

// IEEE half and bfloat16 to float, exactly.
float HalfToFloat(uint16_t h);
float BFloat16ToFloat(uint16_t b);

}  // namespace flashembed::encoders

#endif  // FLASHEMBED_ENCODERS_SAFETENSORS_H_
