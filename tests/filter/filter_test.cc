#include "filter/filter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/testing/test_util.h"

namespace flashembed::query {
namespace {

using json = nlohmann::json;

std::string TestData(const std::string& name) {
  return std::string(FLASHEMBED_SOURCE_DIR) + "/tests/filter/testdata/" + name;
}

struct Doc {
  json id;
  json metadata;

  FilterRow Row() const {
    FilterRow row;
    if (id.is_number_integer()) {
      row.id = id.get<int64_t>();
    } else {
      row.id = std::string_view(id.get_ref<const std::string&>());
    }
    row.metadata = &metadata;
    return row;
  }
};

const std::vector<Doc>& Docs() {
  static const std::vector<Doc>* docs = [] {
    auto* out = new std::vector<Doc>;
    std::ifstream in(TestData("filter_docs.jsonl"));
    EXPECT_TRUE(in.good()) << "cannot open filter_docs.jsonl";
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      json j = json::parse(line);
      out->push_back({j.at("id"), j.at("metadata")});
    }
    return out;
  }();
  return *docs;
}

// The ids (as JSON text) of the documents `filter` matches.
std::set<std::string> MatchingIds(const Filter& filter) {
  std::set<std::string> ids;
  for (const Doc& doc : Docs()) {
    if (filter.Matches(doc.Row())) ids.insert(doc.id.dump());
  }
  return ids;
}

// One block of filter_cases.txt (format at the top of that file).
struct Case {
  int line = 0;
  std::string expr;
  std::optional<json> params;
  std::optional<std::string> debug;
  std::optional<std::set<std::string>> ids;
  std::optional<std::pair<int, std::string>> error;  // column, substring
};

std::vector<Case> LoadCases() {
  std::ifstream in(TestData("filter_cases.txt"));
  EXPECT_TRUE(in.good()) << "cannot open filter_cases.txt";
  std::vector<Case> cases;
  std::optional<Case> current;
  std::set<std::string> keys;
  std::string line;
  int number = 0;
  auto finish = [&] {
    if (current) {
      EXPECT_TRUE(keys.count("expr")) << "case at line " << current->line << " has no expr";
      cases.push_back(std::move(*current));
    }
    current.reset();
    keys.clear();
  };
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) {
      finish();
      continue;
    }
    if (line[0] == '#') continue;
    const size_t colon = line.find(':');
    EXPECT_NE(colon, std::string::npos) << "line " << number << ": no key";
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    std::string value = line.size() > colon + 1 ? line.substr(colon + 2) : "";
    if (!current) {
      current.emplace();
      current->line = number;
    }
    if (key == "expr_json") key = "expr", value = json::parse(value).get<std::string>();
    EXPECT_TRUE(keys.insert(key).second) << "line " << number << ": key '" << key << "' twice";
    if (key == "expr") {
      current->expr = value;
    } else if (key == "params") {
      current->params = json::parse(value);
    } else if (key == "debug") {
      current->debug = value;
    } else if (key == "ids") {
      std::set<std::string> ids;
      for (const json& id : json::parse(value)) ids.insert(id.dump());
      current->ids = std::move(ids);
    } else if (key == "error") {
      const size_t space = value.find(' ');
      current->error = {std::stoi(value.substr(0, space)), value.substr(space + 1)};
    } else {
      ADD_FAILURE() << "line " << number << ": unknown key '" << key << "'";
    }
  }
  finish();
  return cases;
}

std::string Join(const std::set<std::string>& ids) {
  std::string out;
  for (const std::string& id : ids) out += (out.empty() ? "" : ", ") + id;
  return "[" + out + "]";
}

// Why Parse(DebugString()) may fail (Filter::DebugString): a folded
// `true`/`false` is not a filter on its own, and the canonical parentheses
// may nest deeper than the original.
bool ReparseMayFail(const Status& status) {
  return status.message().find("boolean expression") != std::string::npos ||
         status.message().find("nested too deeply") != std::string::npos;
}

// Parse(DebugString()) gives the same DebugString, but see ReparseMayFail.
void ExpectRoundTrip(const Filter& filter) {
  const std::string canonical = filter.DebugString();
  auto again = Filter::Parse(canonical);
  if (!again.ok()) {
    EXPECT_TRUE(ReparseMayFail(again.status()))
        << "canonical form does not parse: " << canonical << "\n"
        << again.status();
    return;
  }
  EXPECT_EQ(again->DebugString(), canonical);
}

TEST(FilterCases, DataFile) {
  const std::vector<Case> cases = LoadCases();
  ASSERT_GE(cases.size(), 150u);
  int checked_ids = 0;
  int checked_errors = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE("filter_cases.txt:" + std::to_string(c.line) + ": " + c.expr);
    const json* params = c.params ? &*c.params : nullptr;
    auto filter = Filter::Parse(c.expr, params);
    if (c.error) {
      ++checked_errors;
      ASSERT_FALSE(filter.ok()) << "parsed as " << filter->DebugString();
      EXPECT_TRUE(filter.status().IsInvalidArgument()) << filter.status();
      const std::string& msg = filter.status().message();
      EXPECT_NE(msg.find(c.error->second), std::string::npos) << msg;
      if (c.error->first > 0) {
        EXPECT_NE(msg.find("column " + std::to_string(c.error->first) + ":"), std::string::npos)
            << msg;
      }
      continue;
    }
    ASSERT_TRUE(filter.ok()) << filter.status();
    if (c.debug) {
      EXPECT_EQ(filter->DebugString(), *c.debug);
    }
    if (c.ids) {
      ++checked_ids;
      EXPECT_EQ(Join(MatchingIds(*filter)), Join(*c.ids));
    }
    ExpectRoundTrip(*filter);
  }
  std::cout << "[ filter ] " << cases.size() << " cases: " << checked_ids << " with ids, "
            << checked_errors << " errors\n";
}

// ------------------------------------------------------------ unit tests

TEST(Filter, EmptyMatchesAll) {
  Filter all;
  EXPECT_TRUE(all.matches_all());
  EXPECT_TRUE(all.Matches({}));
  ASSERT_OK_AND_ASSIGN(Filter parsed, Filter::Parse(" \n"));
  EXPECT_TRUE(parsed.matches_all());
  EXPECT_EQ(parsed.DebugString(), "");
  ASSERT_OK_AND_ASSIGN(Filter some, Filter::Parse("a == 1"));
  EXPECT_FALSE(some.matches_all());
}

TEST(Filter, NullMetadataIsAnEmptyObject) {
  ASSERT_OK_AND_ASSIGN(Filter missing, Filter::Parse("a is null and id == 3"));
  EXPECT_TRUE(missing.Matches({.id = int64_t{3}, .metadata = nullptr}));
  ASSERT_OK_AND_ASSIGN(Filter present, Filter::Parse("a == 1"));
  EXPECT_FALSE(present.Matches({.id = int64_t{3}, .metadata = nullptr}));
  const json not_object = json::array({1, 2});
  EXPECT_FALSE(present.Matches({.id = int64_t{3}, .metadata = &not_object}));
  ASSERT_OK_AND_ASSIGN(Filter whole, Filter::Parse("$meta == 1"));
  EXPECT_FALSE(whole.Matches({.id = int64_t{3}, .metadata = nullptr}));
}

TEST(Filter, CopiesShareTheTree) {
  ASSERT_OK_AND_ASSIGN(Filter a, Filter::Parse("x in [1, 2]"));
  Filter b = a;
  Filter c = std::move(a);
  const json meta = {{"x", 2}};
  EXPECT_TRUE(b.Matches({.metadata = &meta}));
  EXPECT_TRUE(c.Matches({.metadata = &meta}));
  EXPECT_EQ(b.DebugString(), c.DebugString());
}

TEST(Filter, ErrorNamesColumnAndSnippet) {
  auto r = Filter::Parse("age > 1 and color = \"red\"");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "filter: column 19: '=' is not an operator: compare with '==', near '= \"red\"'");
  auto end = Filter::Parse("age >");
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(end.status().message(),
            "filter: column 6: expected a value, a field, a function or '(', found the end of "
            "the filter");
}

TEST(Filter, MessagesAreValidUtf8) {
  // Invalid UTF-8 and control bytes in the input are escaped in messages, so
  // the message can travel in JSON.
  for (std::string expr : {std::string("a == \xff\xfe"), std::string("\x01 == 1"),
                           std::string("a == 1 \xe4\xb8"), std::string("\"\xc3\x28\" + ")}) {
    auto r = Filter::Parse(expr);
    ASSERT_FALSE(r.ok()) << expr;
    EXPECT_NO_THROW(json(r.status().message()).dump()) << r.status().message();
  }
}

TEST(Filter, LongChainsStayFlat) {
  std::string expr = "x == 0";
  for (int i = 1; i < 20000; ++i) expr += " or x == " + std::to_string(i);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_OK_AND_ASSIGN(Filter filter, Filter::Parse(expr));
  const json meta = {{"x", 19999}};
  EXPECT_TRUE(filter.Matches({.metadata = &meta}));
  const json other = {{"x", 20000}};
  EXPECT_FALSE(filter.Matches({.metadata = &other}));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));

  std::string list = "id in [";
  for (int i = 0; i < 100000; ++i) list += std::to_string(i * 3) + ",";
  list += "\"s\"]";
  ASSERT_OK_AND_ASSIGN(Filter in, Filter::Parse(list));
  EXPECT_TRUE(in.Matches({.id = int64_t{299997}}));
  EXPECT_FALSE(in.Matches({.id = int64_t{299998}}));
  EXPECT_TRUE(in.Matches({.id = std::string_view("s")}));
}

TEST(Filter, DeepNestingIsRefused) {
  const std::string deep_parens = std::string(10000, '(') + "a == 1" + std::string(10000, ')');
  const std::string shallow_parens = std::string(100, '(') + "a == 1" + std::string(100, ')');
  std::string nots;
  for (int i = 0; i < 10000; ++i) nots += "not ";
  std::string exists;
  for (int i = 0; i < 10000; ++i) exists += "exists ";
  const std::vector<std::string> too_deep = {
      deep_parens,
      nots + "(a == 1)",
      std::string(10000, '!') + "(a == 1)",
      "a == " + std::string(10000, '-') + "1",
      "a in " + std::string(10000, '['),
      "a in " + std::string(10000, '[') + std::string(10000, ']'),
      exists + "a",
      "array_contains(a, " + std::string(10000, '(') + "1" + std::string(10000, ')') + ")",
      std::string(10000, '('),
  };
  for (const std::string& expr : too_deep) {
    auto r = Filter::Parse(expr);
    ASSERT_FALSE(r.ok()) << expr.substr(0, 40);
    EXPECT_NE(r.status().message().find("expression nested too deeply"), std::string::npos)
        << r.status();
  }
  ASSERT_OK_AND_ASSIGN(Filter ok, Filter::Parse(shallow_parens));
  EXPECT_EQ(ok.DebugString(), "(a == 1)");

  // 100 prefix operators fit; their canonical form, with a pair of
  // parentheses per operator, nests deeper than the limit (found by the fuzzer).
  ASSERT_OK_AND_ASSIGN(Filter prefixed, Filter::Parse(std::string(100, '!') + "(a == 1)"));
  auto again = Filter::Parse(prefixed.DebugString());
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("nested too deeply"), std::string::npos);

  json params = json::array();
  for (int i = 0; i < 1000; ++i) params = json::array({params});
  const json holder = {{"p", params}};
  auto r = Filter::Parse("a in {p}", &holder);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nested too deeply"), std::string::npos) << r.status();
}

TEST(Filter, MatchesFromManyThreads) {
  ASSERT_OK_AND_ASSIGN(Filter filter,
                       Filter::Parse("18 <= age < 65 and title like \"%i%\" or id in [3, \"7\"]"));
  const std::set<std::string> expected = MatchingIds(filter);
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        if (MatchingIds(filter) != expected) ++mismatches;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(Filter, SimpleConjuncts) {
  ASSERT_OK_AND_ASSIGN(
      Filter filter,
      Filter::Parse("id in [1, \"a\"] and 18 <= age < 65 and meta[\"lang\"] == \"en\" and "
                    "score > 0.5 and 10 >= views and (x == 1 or y == 2) and tags[0] == \"a\" and "
                    "z != 3 and w in [[1]] and v not in [1] and flag == true and u in []"));
  const auto conjuncts = filter.SimpleConjuncts();
  ASSERT_EQ(conjuncts.size(), 6u);

  EXPECT_TRUE(conjuncts[0].field.is_id);
  EXPECT_EQ(conjuncts[0].kind, FilterConjunct::Kind::kIn);
  EXPECT_EQ(conjuncts[0].values, (std::vector<FilterScalar>{int64_t{1}, std::string("a")}));

  EXPECT_EQ(conjuncts[1].field.keys, std::vector<std::string>{"age"});
  EXPECT_EQ(conjuncts[1].kind, FilterConjunct::Kind::kRange);
  EXPECT_EQ(conjuncts[1].lower, FilterScalar(int64_t{18}));
  EXPECT_TRUE(conjuncts[1].lower_inclusive);
  EXPECT_EQ(conjuncts[1].upper, FilterScalar(int64_t{65}));
  EXPECT_FALSE(conjuncts[1].upper_inclusive);

  EXPECT_EQ(conjuncts[2].field.keys, (std::vector<std::string>{"meta", "lang"}));
  EXPECT_EQ(conjuncts[2].kind, FilterConjunct::Kind::kEquals);
  EXPECT_EQ(conjuncts[2].values, std::vector<FilterScalar>{std::string("en")});

  EXPECT_EQ(conjuncts[3].kind, FilterConjunct::Kind::kRange);
  EXPECT_EQ(conjuncts[3].lower, FilterScalar(0.5));
  EXPECT_FALSE(conjuncts[3].lower_inclusive);
  EXPECT_FALSE(conjuncts[3].upper.has_value());

  EXPECT_EQ(conjuncts[4].field.keys, std::vector<std::string>{"views"});
  EXPECT_EQ(conjuncts[4].upper, FilterScalar(int64_t{10}));
  EXPECT_TRUE(conjuncts[4].upper_inclusive);
  EXPECT_FALSE(conjuncts[4].lower.has_value());

  EXPECT_EQ(conjuncts[5].field.keys, std::vector<std::string>{"flag"});
  EXPECT_EQ(conjuncts[5].values, std::vector<FilterScalar>{true});

  ASSERT_OK_AND_ASSIGN(Filter single, Filter::Parse("a == 1"));
  EXPECT_EQ(single.SimpleConjuncts().size(), 1u);
  ASSERT_OK_AND_ASSIGN(Filter either, Filter::Parse("a == 1 or b == 1"));
  EXPECT_TRUE(either.SimpleConjuncts().empty());
  EXPECT_TRUE(Filter().SimpleConjuncts().empty());
}

// ---------------------------------------------------------- robustness

// Token soup and mutations of the valid cases: Parse must return OK or
// InvalidArgument (never crash or hang), errors must carry a column, and
// whatever parses must evaluate on every document and print a canonical form
// that parses back.
class FilterRobustness {
 public:
  FilterRobustness() {
    params_ = {{"p", 1}, {"s", "x"}, {"l", {1, "a", 2.5}}, {"b", true}, {"n", nullptr}};
  }

  void Check(const std::string& expr) {
    auto r = Filter::Parse(expr, &params_);
    ++total_;
    if (!r.ok()) {
      ASSERT_TRUE(r.status().IsInvalidArgument()) << Printable(expr) << ": " << r.status();
      const std::string& msg = r.status().message();
      ASSERT_EQ(msg.rfind("filter: column ", 0), 0u) << Printable(expr) << ": " << msg;
      ASSERT_NO_THROW(json(msg).dump()) << Printable(expr);
      return;
    }
    ++accepted_;
    for (const Doc& doc : Docs()) (void)r->Matches(doc.Row());
    (void)r->Matches({});
    (void)r->SimpleConjuncts();
    const std::string canonical = r->DebugString();
    auto again = Filter::Parse(canonical);
    if (again.ok()) {
      ASSERT_EQ(again->DebugString(), canonical) << Printable(expr);
      ASSERT_EQ(MatchingIds(*again), MatchingIds(*r)) << Printable(expr) << " vs " << canonical;
    } else {
      ASSERT_TRUE(ReparseMayFail(again.status()))
          << Printable(expr) << " -> " << canonical << ": " << again.status();
    }
  }

  int total() const { return total_; }
  int accepted() const { return accepted_; }

 private:
  static std::string Printable(const std::string& expr) {
    return json(expr).dump(-1, ' ', true, json::error_handler_t::replace);
  }

  json params_;
  int total_ = 0;
  int accepted_ = 0;
};

TEST(FilterRobustness, TokenSoup) {
  static const std::vector<std::string> kTokens = {
      "a",
      "b",
      "tags",
      "id",
      "$meta",
      "$meta[\"a\"]",
      "x[\"k\"]",
      "tags[0]",
      "nested[\"a\"][\"b\"][1]",
      "age",
      "title",
      "flag",
      "null",
      "And",
      "and",
      "AND",
      "&&",
      "or",
      "OR",
      "||",
      "not",
      "NOT",
      "!",
      "in",
      "IN",
      "not in",
      "like",
      "LIKE",
      "exists",
      "EXISTS",
      "is null",
      "is not null",
      "IS NULL",
      "is  null",
      "==",
      "!=",
      "<",
      "<=",
      ">",
      ">=",
      "=",
      "+",
      "-",
      "*",
      "/",
      "%",
      "**",
      "<<",
      ">>",
      "&",
      "|",
      "^",
      "~",
      "(",
      ")",
      "(",
      ")",
      "[",
      "]",
      "[]",
      ",",
      "{p}",
      "{l}",
      "{s}",
      "{b}",
      "{n}",
      "{zz}",
      "{",
      "}",
      "0",
      "1",
      "-1",
      "42",
      "0x1F",
      "017",
      "0b11",
      "08",
      "1.5",
      ".5",
      "1e3",
      "1e999",
      "9223372036854775808",
      "18446744073709551616",
      "0x1.8p1",
      "\"s\"",
      "'s'",
      "\"a%\"",
      "\"%\\\\%\"",
      "\"\\u00e9\"",
      "\"\\q\"",
      "\"unterminated",
      "u8\"x\"",
      "true",
      "False",
      "array_contains",
      "array_contains_all",
      "array_contains_any",
      "json_contains",
      "array_length",
      "text_match",
      "phrase_match",
      "empty",
      "starts_with",
      "foo",
      "\"北京\"",
      "名",
      "\xff",
      "\t",
      "\n",
  };
  std::mt19937_64 rng(20250101);
  FilterRobustness checker;
  for (int i = 0; i < 10000; ++i) {
    const int n = 1 + static_cast<int>(rng() % 12);
    std::string expr;
    for (int k = 0; k < n; ++k) {
      if (k > 0 && rng() % 4 != 0) expr += ' ';
      expr += kTokens[rng() % kTokens.size()];
    }
    ASSERT_NO_FATAL_FAILURE(checker.Check(expr));
  }
  std::cout << "[ filter ] token soup: " << checker.total() << " expressions, "
            << checker.accepted() << " accepted\n";
  EXPECT_GT(checker.accepted(), 10);
}

// Random, mostly valid expressions over the fields of filter_docs.jsonl, with
// and without parentheses, so that every operator and precedence level meets
// every other one.
class ExpressionGenerator {
 public:
  explicit ExpressionGenerator(uint64_t seed) : rng_(seed) {}

  std::string Predicate(int depth) {
    const int choice = static_cast<int>(rng_() % (depth > 0 ? 19 : 14));
    switch (choice) {
      case 0: return Path() + " " + Cmp() + " " + Const();
      case 1: return Const() + " " + Cmp() + " " + Path();
      case 2: return Path() + " " + Cmp() + " " + Path();
      case 3: return Number() + Pick({" < ", " <= "}) + Path() + Pick({" < ", " <= "}) + Number();
      case 4: return Number() + Pick({" > ", " >= "}) + Path() + Pick({" > ", " >= "}) + Number();
      case 5: return Path() + Pick({" in ", " not in ", " IN ", " NOT IN "}) + List();
      case 6: return Path() + Pick({" like ", " LIKE "}) + Pattern();
      case 7: return Path() + Pick({" is null", " is not null", " IS NULL", " IS NOT NULL"});
      case 8: return Pick({"exists ", "EXISTS "}) + Path();
      case 9:
        return Path() + Pick({" % ", " + ", " - ", " * ", " / "}) + std::to_string(1 + rng_() % 7) +
               " " + Cmp() + " " + Number();
      case 10: return Pick({"array_contains(", "json_contains("}) + Path() + ", " + Const() + ")";
      case 11:
        return Pick({"array_contains_all(", "array_contains_any(", "json_contains_any("}) + Path() +
               ", " + List() + ")";
      case 12: return "array_length(" + Path() + ") " + Cmp() + " " + std::to_string(rng_() % 4);
      case 13:
        return rng_() % 2 ? "empty(" + Path() + ")"
                          : "starts_with(" + Path() + ", " + Pick({"\"M\"", "\"\"", "\"a\""}) + ")";
      case 14:
      case 15: {
        const std::string op = Pick({" and ", " or ", " && ", " || ", " AND ", " OR "});
        const std::string text = Predicate(depth - 1) + op + Predicate(depth - 1);
        return rng_() % 2 ? "(" + text + ")" : text;
      }
      case 16: return Pick({"not (", "!(", "NOT ("}) + Predicate(depth - 1) + ")";
      case 17: return "not " + Path() + Pick({" like \"%a%\"", " is null"});
      default: return "(" + Predicate(depth - 1) + ")";
    }
  }

 private:
  std::string Pick(std::initializer_list<const char*> options) {
    return *(options.begin() + rng_() % options.size());
  }
  std::string Path() {
    return Pick({"age",
                 "title",
                 "tags",
                 "tags[0]",
                 "meta[\"lang\"]",
                 "id",
                 "$meta[\"a\"]",
                 "a",
                 "b",
                 "s1",
                 "score",
                 "views",
                 "nested[\"a\"][\"b\"][1][0]",
                 "mixed",
                 "flag",
                 "color",
                 "price",
                 "zzz",
                 "city",
                 "meta[\"author\"][\"name\"]",
                 "arr"});
  }
  std::string Cmp() { return Pick({"==", "!=", "<", "<=", ">", ">="}); }
  std::string Number() {
    switch (rng_() % 5) {
      case 0: return std::to_string(static_cast<int>(rng_() % 120) - 10);
      case 1: return std::to_string(rng_() % 100) + "." + std::to_string(rng_() % 10);
      case 2: return "-" + std::to_string(rng_() % 20);
      case 3: return Pick({"0x10", "017", "0b11", "1e2", "2 ** 3", "7 / 2", "5 % 3", "1 + 2 * 3"});
      default: return Pick({"9223372036854775807", "18446744073709551615", "1e300", "0.5"});
    }
  }
  std::string Const() {
    switch (rng_() % 4) {
      case 0:
      case 1: return Number();
      case 2:
        return Pick({"\"red\"", "\"ai\"", "'Milvus guide'", "\"\"", "\"北京\"", "\"30\"", "u8\"x\"",
                     "\"\\u00e9\"", "\"50% off\""});
      default: return rng_() % 3 == 0 ? List() : Pick({"true", "false", "True", "FALSE"});
    }
  }
  std::string List() {
    std::string out = "[";
    const int n = static_cast<int>(rng_() % 4);
    for (int i = 0; i < n; ++i) out += (i > 0 ? ", " : "") + Const();
    return out + (n > 0 && rng_() % 4 == 0 ? ",]" : "]");
  }
  std::string Pattern() {
    return Pick({"\"M%\"", "\"%a%\"", "\"%db\"", "\"_i%\"", "\"%\"", "\"\"", "\"a\\\\%\"",
                 "\"Zv_c\"", "\"%i%o%\"", "\"中文__\""});
  }

  std::mt19937_64 rng_;
};

TEST(FilterRobustness, GeneratedExpressions) {
  ExpressionGenerator generator(42);
  FilterRobustness checker;
  for (int i = 0; i < 10000; ++i) {
    ASSERT_NO_FATAL_FAILURE(checker.Check(generator.Predicate(3)));
  }
  std::cout << "[ filter ] generated: " << checker.total() << " expressions, " << checker.accepted()
            << " accepted\n";
  EXPECT_GT(checker.accepted(), 5000);
}

TEST(FilterRobustness, MutatedCases) {
  std::vector<std::string> seeds;
  for (const Case& c : LoadCases()) {
    if (!c.error && !c.params) seeds.push_back(c.expr);
  }
  ExpressionGenerator generator(43);
  for (int i = 0; i < 500; ++i) seeds.push_back(generator.Predicate(2));
  ASSERT_FALSE(seeds.empty());
  static const char kCharList[] =
      "abcxyz_01289.eEpP$[](){}\"'\\%_,+-*/%<>=!&|^~ \t\n\x00\xc3\xa9\xe4\xb8\xad\xff";
  static const std::string kChars(kCharList, sizeof(kCharList) - 1);  // keeps the NUL
  std::mt19937_64 rng(7);
  FilterRobustness checker;
  for (int i = 0; i < 10000; ++i) {
    std::string expr = seeds[rng() % seeds.size()];
    const int mutations = 1 + static_cast<int>(rng() % 4);
    for (int m = 0; m < mutations; ++m) {
      const size_t pos = expr.empty() ? 0 : rng() % (expr.size() + 1);
      switch (rng() % 5) {
        case 0:  // insert a character
          expr.insert(pos, 1, kChars[rng() % kChars.size()]);
          break;
        case 1:  // delete one
          if (pos < expr.size()) expr.erase(pos, 1);
          break;
        case 2: {  // duplicate a piece
          const size_t len = 1 + rng() % 8;
          expr.insert(pos, expr.substr(pos, len));
          break;
        }
        case 3:  // truncate
          expr.resize(pos);
          break;
        default: {  // splice in a piece of another seed
          const std::string& other = seeds[rng() % seeds.size()];
          const size_t from = other.empty() ? 0 : rng() % other.size();
          expr.insert(pos, other.substr(from, 1 + rng() % 10));
          break;
        }
      }
    }
    ASSERT_NO_FATAL_FAILURE(checker.Check(expr));
  }
  std::cout << "[ filter ] mutations: " << checker.total() << " expressions, " << checker.accepted()
            << " accepted\n";
  EXPECT_GT(checker.accepted(), 500);
}

}  // namespace
}  // namespace flashembed::query
