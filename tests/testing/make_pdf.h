// MakePdf: writes a small, valid PDF with a text layer, for tests that need
// PDF input without fixture files.
//
//   std::string pdf = flashembed::testing::MakePdf({{"Page one", "second
//   line"},
//                                                   {"Page two"}}, "A title");
//
// Every page is US Letter with its lines in 12 pt Helvetica (WinAnsi
// encoding), one line under the other (Tj, then T* for the next). Lines must
// be printable ASCII; '(', ')' and '\' are escaped. A page with no lines has
// an empty content stream, so a PDF whose pages are all empty has no text
// layer (as a scanned PDF). `title`, when not empty, goes into the /Info
// dictionary. The cross-reference table carries exact byte offsets, so
// readers need no repair.
#ifndef FLASHEMBED_TESTS_TESTING_MAKE_PDF_H_
#define FLASHEMBED_TESTS_TESTING_MAKE_PDF_H_

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace flashembed::testing {

// A PDF literal string: "(...)" with the delimiters escaped.
inline std::string PdfString(const std::string& text) {
  std::string out = "(";
  for (char c : text) {
    if (c == '(' || c == ')' || c == '\\') out += '\\';
    out += c;
  }
  out += ')';
  return out;
}

inline std::string MakePdf(const std::vector<std::vector<std::string>>& pages,
                           const std::string& title = "") {
  // Object numbers: 1 catalog, 2 page tree, 3 font, then a page and its
  // content stream per page, then /Info.
  const size_t n = pages.size();
  const size_t info_object = 4 + 2 * n;
  const size_t objects = title.empty() ? info_object - 1 : info_object;
  std::vector<size_t> offsets(objects + 1, 0);
  std::string pdf = "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n";
  auto object = [&](size_t number, const std::string& body) {
    offsets[number] = pdf.size();
    pdf += std::to_string(number) + " 0 obj\n" + body + "\nendobj\n";
  };

  object(1, "<< /Type /Catalog /Pages 2 0 R >>");
  std::string kids;
  for (size_t i = 0; i < n; ++i) kids += std::to_string(4 + 2 * i) + " 0 R ";
  object(2, "<< /Type /Pages /Kids [" + kids + "] /Count " + std::to_string(n) + " >>");
  object(3,
         "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding "
         "/WinAnsiEncoding >>");
  for (size_t i = 0; i < n; ++i) {
    const size_t page = 4 + 2 * i;
    object(page,
           "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
           "/Resources << /Font << "
           "/F1 3 0 R >> >> /Contents " +
               std::to_string(page + 1) + " 0 R >>");
    std::string content;
    if (!pages[i].empty()) {
      content = "BT\n/F1 12 Tf\n72 720 Td\n16 TL\n";
      for (size_t l = 0; l < pages[i].size(); ++l) {
        if (l > 0) content += "T*\n";
        content += PdfString(pages[i][l]) + " Tj\n";
      }
      content += "ET\n";
    }
    object(page + 1, "<< /Length " + std::to_string(content.size()) + " >>\nstream\n" + content +
                         "endstream");
  }
  if (!title.empty()) object(info_object, "<< /Title " + PdfString(title) + " >>");

  const size_t xref = pdf.size();
  pdf += "xref\n0 " + std::to_string(objects + 1) + "\n";
  pdf += "0000000000 65535 f \n";  // each entry is exactly 20 bytes
  for (size_t i = 1; i <= objects; ++i) {
    char entry[32];
    std::snprintf(entry, sizeof(entry), "%010zu 00000 n \n", offsets[i]);
    pdf += entry;
  }
  pdf += "trailer\n<< /Size " + std::to_string(objects + 1) + " /Root 1 0 R";
  if (!title.empty()) pdf += " /Info " + std::to_string(info_object) + " 0 R";
  pdf += " >>\nstartxref\n" + std::to_string(xref) + "\n%%EOF\n";
  return pdf;
}

// Writes MakePdf(pages, title) to `path`; false if the file cannot be written.
inline bool WritePdf(const std::string& path, const std::vector<std::vector<std::string>>& pages,
                     const std::string& title = "") {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  const std::string pdf = MakePdf(pages, title);
  out.write(pdf.data(), static_cast<std::streamsize>(pdf.size()));
  return static_cast<bool>(out);
}

}  // namespace flashembed::testing

#endif  // FLASHEMBED_TESTS_TESTING_MAKE_PDF_H_
