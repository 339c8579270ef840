#include "encoders/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace flashembed::encoders {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; this reader assumes a little-endian machine");

// Larger headers are refused, as the reference implementation does (100 MB).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

// Every dtype of the safetensors format (its Rust crate's `Dtype`) with its
// size in bits; the readable ones map to their TensorDtype.
struct DtypeEntry {
  std::string_view name;
  int bits;
  TensorDtype dtype;
};
constexpr DtypeEntry kDtypes[] = {
    {"F32", 32, TensorDtype::kF32},      {"F16", 16, TensorDtype::kF16},
    {"BF16", 16, TensorDtype::kBF16},    {"F64", 64, TensorDtype::kOther},
    {"I64", 64, TensorDtype::kOther},    {"U64", 64, TensorDtype::kOther},
    {"I32", 32, TensorDtype::kOther},    {"U32", 32, TensorDtype::kOther},
    {"I16", 16, TensorDtype::kOther},    {"U16", 16, TensorDtype::kOther},
    {"I8", 8, TensorDtype::kOther},      {"U8", 8, TensorDtype::kOther},
    {"BOOL", 8, TensorDtype::kOther},    {"F8_E4M3", 8, TensorDtype::kOther},
    {"F8_E5M2", 8, TensorDtype::kOther}, {"F8_E8M0", 8, TensorDtype::kOther},
    {"F6_E2M3", 6, TensorDtype::kOther}, {"F6_E3M2", 6, TensorDtype::kOther},
    {"F4", 4, TensorDtype::kOther},
};

const DtypeEntry* FindDtype(std::string_view name) {
  for (const DtypeEntry& e : kDtypes) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

}  // namespace

int64_t TensorInfo::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ff;
  uint32_t bits;
  if (exponent == 0x1f) {  // inf or NaN
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {  // normal
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {  // zero
    bits = sign;
  } else {  // subnormal: renormalise
    int shift = 0;
    while ((mantissa & 0x400) == 0) {
      mantissa <<= 1;
      ++shift;
    }
    mantissa &= 0x3ff;
    bits = sign | (static_cast<uint32_t>(113 - shift) << 23) | (mantissa << 13);
  }
  return std::bit_cast<float>(bits);
}

float BFloat16ToFloat(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

SafeTensorsFile::~SafeTensorsFile() {
  if (map_ != nullptr) munmap(const_cast<unsigned char*>(map_), map_size_);
}

Result<std::unique_ptr<SafeTensorsFile>> SafeTensorsFile::Open(const std::string& path) {
  std::unique_ptr<SafeTensorsFile> file(new SafeTensorsFile());
  file->path_ = path;
  auto bad = [&](const std::string& what) { return Status::InvalidArgument(path + ": " + what); };

  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return Status::NotFound(path + ": no such file");
    return Status::IOError(path + ": " + std::strerror(err));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return Status::IOError(path + ": not a readable regular file");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size < 8) {
    close(fd);
    return bad(fmt::format("file is {} bytes, too short for a safetensors header", size));
  }
  void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return Status::IOError(path + ": mmap failed: " + std::strerror(errno));
  file->map_ = static_cast<const unsigned char*>(map);
  file->map_size_ = size;

  uint64_t header_len = 0;
  std::memcpy(&header_len, file->map_, 8);
  if (header_len > kMaxHeaderBytes || header_len > size - 8) {
    return bad(fmt::format("header length {} exceeds the file ({} bytes)", header_len, size));
  }
  file->data_start_ = 8 + header_len;
  const size_t data_size = size - file->data_start_;
  std::string_view header(reinterpret_cast<const char*>(file->map_ + 8), header_len);
  nlohmann::json j = nlohmann::json::parse(header, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return bad("header is not a JSON object");

  std::vector<std::pair<size_t, size_t>> ranges;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& t = it.value();
    if (name == "__metadata__") {
      if (!t.is_object()) return bad("__metadata__ is not an object");
      for (auto m = t.begin(); m != t.end(); ++m) {
        if (!m.value().is_string())
          return bad("__metadata__ value \"" + m.key() + "\" is not a string");
        file->metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto bad_tensor = [&](const std::string& what) {
      return bad("tensor \"" + name + "\": " + what);
    };
    if (!t.is_object() || !t.contains("dtype") || !t.contains("shape") ||
        !t.contains("data_offsets")) {
      return bad_tensor("needs dtype, shape and data_offsets");
    }
    TensorInfo info;
    info.name = name;
    const nlohmann::json& dtype = t["dtype"];
    if (!dtype.is_string()) return bad_tensor("dtype is not a string");
    const std::string d = dtype.get<std::string>();
    const DtypeEntry* entry = FindDtype(d);
    if (entry == nullptr) return bad_tensor("dtype " + d + " is not a safetensors dtype");
    info.dtype = entry->dtype;
    info.dtype_name = d;
    const nlohmann::json& shape = t["shape"];
    if (!shape.is_array()) return bad_tensor("shape is not an array");
    int64_t elements = 1;
    for (const auto& dim : shape) {
      if (!dim.is_number_unsigned())
        return bad_tensor("shape holds a non-integer or negative size");
      const uint64_t v = dim.get<uint64_t>();
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max() /
                                    std::max<int64_t>(elements, 1))) {
        return bad_tensor("shape is too large");
      }
      info.shape.push_back(static_cast<int64_t>(v));
      elements *= static_cast<int64_t>(v);
    }
    const nlohmann::json& offsets = t["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned()) {
      return bad_tensor("data_offsets must be two non-negative integers");
    }
    const uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
    if (begin > end || end > data_size) {
      return bad_tensor(fmt::format("data_offsets [{}, {}) fall outside the {}-byte data section",
                                    begin, end, data_size));
    }
    // Sub-byte dtypes pack their elements, padded to whole bytes. A shape
    // needing more than the data section is refused before the product
    // elements x bits could overflow.
    const uint64_t bits = static_cast<uint64_t>(entry->bits);
    if (static_cast<uint64_t>(elements) > static_cast<uint64_t>(data_size) * 8 / bits) {
      return bad_tensor(fmt::format(
          "shape x {} needs more bytes than the {}-byte data section holds", d, data_size));
    }
    const uint64_t want = (static_cast<uint64_t>(elements) * bits + 7) / 8;
    if (end - begin != want) {
      return bad_tensor(
          fmt::format("holds {} bytes but {} x shape needs {}", end - begin, d, want));
    }
    info.begin = begin;
    info.end = end;
    ranges.emplace_back(begin, end);
    file->tensors_.emplace(name, std::move(info));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].second)
      return bad("two tensors overlap in the data section");
  }
  return file;
}

const TensorInfo* SafeTensorsFile::Find(std::string_view name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

Result<const TensorInfo*> SafeTensorsFile::FindShaped(std::string_view name,
                                                      std::span<const int64_t> shape) const {
  const TensorInfo* info = Find(name);
  if (info == nullptr) {
    return Status::NotFound(path_ + ": no tensor \"" + std::string(name) + "\"");
  }
  auto shape_text = [](std::span<const int64_t> s) {
    return fmt::format("[{}]", fmt::join(s, ", "));
  };
  if (!shape.empty() &&
      !std::equal(shape.begin(), shape.end(), info->shape.begin(), info->shape.end())) {
    return Status::InvalidArgument(path_ + ": tensor \"" + info->name + "\" has shape " +
                                   shape_text(info->shape) + ", expected " + shape_text(shape));
  }
  return info;
}

namespace {

// Reads element i of a tensor of the integer or float dtype `dtype` at src.
template <typename T>
T Element(const unsigned char* src, size_t i) {
  T v;
  std::memcpy(&v, src + i * sizeof(T), sizeof(T));
  return v;
}

}  // namespace

Result<std::vector<float>> SafeTensorsFile::ReadNumbersAsFloat32(
    std::string_view name, std::span<const int64_t> expected_shape) const {
  FE_ASSIGN_OR_RETURN(const TensorInfo* info, FindShaped(name, expected_shape));
  if (info->dtype != TensorDtype::kOther) return ReadFloat32(name, expected_shape);
  const unsigned char* src = map_ + data_start_ + info->begin;
  const size_t n = static_cast<size_t>(info->num_elements());
  std::vector<float> out(n);
  const std::string& d = info->dtype_name;
  for (size_t i = 0; i < n; ++i) {
    if (d == "F64") {
      out[i] = static_cast<float>(Element<double>(src, i));
    } else if (d == "I8") {
      out[i] = Element<int8_t>(src, i);
    } else if (d == "U8") {
      out[i] = Element<uint8_t>(src, i);
    } else if (d == "I16") {
      out[i] = Element<int16_t>(src, i);
    } else if (d == "I32") {
      out[i] = static_cast<float>(Element<int32_t>(src, i));
    } else {
      return Status::InvalidArgument(path_ + ": tensor \"" + info->name + "\" has dtype " + d +
                                     "; expected a float (F64, F32, F16, BF16) or an integer of "
                                     "at most 32 bits");
    }
  }
  return out;
}

Result<std::vector<int64_t>> SafeTensorsFile::ReadIntegers(
    std::string_view name, std::span<const int64_t> expected_shape) const {
  FE_ASSIGN_OR_RETURN(const TensorInfo* info, FindShaped(name, expected_shape));
  const unsigned char* src = map_ + data_start_ + info->begin;
  const size_t n = static_cast<size_t>(info->num_elements());
  std::vector<int64_t> out(n);
  const std::string& d = info->dtype_name;
  for (size_t i = 0; i < n; ++i) {
    if (d == "I64") {
      out[i] = Element<int64_t>(src, i);
    } else if (d == "I32") {
      out[i] = Element<int32_t>(src, i);
    } else if (d == "U32") {
      out[i] = Element<uint32_t>(src, i);
    } else if (d == "I16") {
      out[i] = Element<int16_t>(src, i);
    } else if (d == "U16") {
      out[i] = Element<uint16_t>(src, i);
    } else if (d == "I8") {
      out[i] = Element<int8_t>(src, i);
    } else if (d == "U8") {
      out[i] = Element<uint8_t>(src, i);
    } else {
      return Status::InvalidArgument(path_ + ": tensor \"" + info->name + "\" has dtype " + d +
                                     "; expected integers (I64, I32, U32, I16, U16, I8, U8)");
    }
  }
  return out;
}

Result<std::vector<float>> SafeTensorsFile::ReadFloat32(
    std::string_view name, std::span<const int64_t> expected_shape) const {
  FE_ASSIGN_OR_RETURN(const TensorInfo* info, FindShaped(name, expected_shape));
  if (info->dtype == TensorDtype::kOther) {
    return Status::InvalidArgument(
        path_ + ": tensor \"" + info->name + "\" has dtype " + info->dtype_name +
        "; the model reads it as weights, which must be F32, F16 or BF16");
  }
  const unsigned char* src = map_ + data_start_ + info->begin;
  const size_t n = static_cast<size_t>(info->num_elements());
  std::vector<float> out(n);
  switch (info->dtype) {
    case TensorDtype::kF32: std::memcpy(out.data(), src, n * sizeof(float)); break;
    case TensorDtype::kF16:
    case TensorDtype::kBF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, src + 2 * i, 2);
        out[i] = info->dtype == TensorDtype::kF16 ? HalfToFloat(v) : BFloat16ToFloat(v);
      }
      break;
    case TensorDtype::kOther: break;  // refused above
  }
  return out;
}

}  // namespace flashembed::encoders
