// libFuzzer target for the filter expression parser (filter/filter.h).
//
// Build (clang only; a separate build folder, only this target is needed):
//   CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DFLASHEMBED_FUZZ=ON \
//       -DFLASHEMBED_NATIVE=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
//   ninja -C build-fuzz filter_fuzz
// Run for a minute, seeded with the grammar cases as a corpus and dictionary:
//   mkdir -p /tmp/filter-corpus
//   grep -h '^expr: ' tests/filter/testdata/filter_cases.txt | sed 's/^expr: //' |
//       split -l 1 - /tmp/filter-corpus/case-
//   ./build-fuzz/tests/filter/filter_fuzz -max_total_time=60 -max_len=512 /tmp/filter-corpus
// A crash, sanitizer report or abort() below leaves a crash-* file to replay:
//   ./build-fuzz/tests/filter/filter_fuzz crash-<hash>
//
// Per input: Parse must return OK or InvalidArgument with a "filter: column"
// message that is valid UTF-8; an accepted filter must evaluate on a few
// documents, and its DebugString must parse back to itself and match the same
// documents (unless it holds a folded true/false, which is not a filter alone,
// or its added parentheses nest too deeply; see Filter::DebugString).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "filter/filter.h"

namespace {

using flashembed::query::Filter;
using flashembed::query::FilterRow;
using json = nlohmann::json;

struct Fixture {
  json params;
  std::vector<json> metadata;
  std::vector<FilterRow> rows;

  Fixture() {
    params = json::parse(R"({"p": 1, "s": "x", "l": [1, "a", 2.5], "b": true, "f": 0.5})");
    for (const char* text : {
             R"({"a": 1, "b": 2.5, "s": "abc", "tags": ["ai", "db"], "flag": true,
                 "meta": {"lang": "en", "n": [1, [2, 3], {"c": null}]}})",
             R"({"a": "1", "s": "", "tags": [], "flag": null, "x": 9223372036854775807,
                 "u": 18446744073709551615, "d": -1e300})",
             R"({})",
         }) {
      metadata.push_back(json::parse(text));
    }
    rows.push_back({int64_t{1}, &metadata[0]});
    rows.push_back({std::string_view("doc"), &metadata[1]});
    rows.push_back({int64_t{-7}, &metadata[2]});
    rows.push_back({int64_t{0}, nullptr});
  }
};

[[noreturn]] void Fail(const std::string& what, std::string_view input) {
  std::fprintf(
      stderr, "filter_fuzz: %s\ninput: %s\n", what.c_str(),
      json(std::string(input)).dump(-1, ' ', true, json::error_handler_t::replace).c_str());
  std::abort();
}

std::vector<bool> MatchAll(const Filter& filter, const Fixture& fixture) {
  std::vector<bool> out;
  for (const FilterRow& row : fixture.rows) out.push_back(filter.Matches(row));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Fixture* fixture = new Fixture();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto filter = Filter::Parse(input, &fixture->params);
  if (!filter.ok()) {
    if (!filter.status().IsInvalidArgument())
      Fail("not InvalidArgument: " + filter.status().ToString(), input);
    const std::string& msg = filter.status().message();
    if (msg.rfind("filter: column ", 0) != 0) Fail("message without a column: " + msg, input);
    try {
      (void)json(msg).dump();
    } catch (const json::exception&) {
      Fail("message is not valid UTF-8", input);
    }
    return 0;
  }
  const std::vector<bool> matches = MatchAll(*filter, *fixture);
  (void)filter->SimpleConjuncts();
  const std::string canonical = filter->DebugString();
  auto again = Filter::Parse(canonical);
  if (!again.ok()) {
    const std::string& why = again.status().message();
    if (why.find("boolean expression") == std::string::npos &&
        why.find("nested too deeply") == std::string::npos) {
      Fail("canonical form does not parse: " + canonical + ": " + again.status().ToString(), input);
    }
    return 0;
  }
  if (again->DebugString() != canonical) {
    Fail("canonical form is not stable: " + canonical + " -> " + again->DebugString(), input);
  }
  if (MatchAll(*again, *fixture) != matches)
    Fail("canonical form matches differently: " + canonical, input);
  return 0;
}
