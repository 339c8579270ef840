// NumPy .npy files (format versions 1.0, 2.0 and 3.0) as Milvus bulk import
// reads them (transfer/FORMAT.md): one C-ordered array per field, N rows.
// https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
//
// Thread-safety: stateless functions.
#ifndef FLASHEMBED_TRANSFER_NPY_H_
#define FLASHEMBED_TRANSFER_NPY_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace flashembed::transfer {

struct NpyHeader {
  std::string descr;     // the dtype as written, e.g. "<f4", "<U12", "|b1"
  char kind = 0;         // 'f', 'i', 'u', 'b' (bool), 'U' (UTF-32), 'S' (bytes)
  size_t item_size = 0;  // bytes per element (4 * L for "<U{L}")
  bool swap = false;     // big-endian data ('>'): bytes must be swapped
  bool fortran_order = false;
  std::vector<uint64_t> shape;
  uint64_t data_offset = 0;  // where the data starts in the file

  uint64_t rows() const { return shape.empty() ? 1 : shape[0]; }
  // Elements per row: the product of shape[1:].
  uint64_t row_elements() const;
  uint64_t row_bytes() const { return item_size * row_elements(); }
  // "(100, 384)".
  std::string ShapeString() const;
};

// Parses the header at the start of `bytes` (which must hold it whole).
// Corruption naming what is wrong: magic, version, dictionary syntax, an
// unsupported dtype (structured, object, complex...).
Result<NpyHeader> ParseNpyHeader(std::string_view bytes);

// Reads and parses the header of the file `path`, and checks that the file
// holds exactly the data the header announces (Corruption "truncated"
// otherwise, with both sizes).
Result<NpyHeader> ReadNpyHeader(const std::string& path);

// A version 1.0 header for a C-ordered array, padded so the data starts at
// a multiple of 64 bytes.
std::string NpyHeaderBytes(std::string_view descr, std::span<const uint64_t> shape);

// Appends `text` (valid UTF-8 of at most `width` code points, as counted by
// base/utf8.h's Utf8Length) as `width` little-endian UTF-32 units,
// NUL-padded: one "<U{width}" element.
void AppendUtf32(std::string_view text, size_t width, std::string* out);

// One "<U{L}" element (4 * L bytes, little-endian) as UTF-8 without the
// NUL padding. InvalidArgument for a unit that is not a Unicode scalar value.
Result<std::string> Utf32ToUtf8(std::string_view element);

// Reverses the bytes of every `unit`-byte group of `data` (endianness).
void SwapBytes(char* data, size_t size, size_t unit);

}  // namespace flashembed::transfer

#endif  // FLASHEMBED_TRANSFER_NPY_H_
