// milvus/request_json.h: Go's encoding/json rules as Milvus applies them to
// request bodies, and the exact refusals the server answers with.
#include "milvus/request_json.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace flashembed::milvus {
namespace {

TEST(FindKey, ExactMatchFirstThenAnyCase) {
  const Json body = {{"autoID", true}, {"autoid", false}, {"Limit", 3}};
  ASSERT_NE(FindKey(body, "autoid"), nullptr);
  EXPECT_EQ(*FindKey(body, "autoid"), false);
  EXPECT_EQ(*FindKey(body, "autoID"), true);
  ASSERT_NE(FindKey(body, "LIMIT"), nullptr);
  EXPECT_EQ(*FindKey(body, "LIMIT"), 3);
  EXPECT_EQ(FindKey(body, "offset"), nullptr);
  EXPECT_EQ(FindKey(Json::array({1}), "limit"), nullptr);
  EXPECT_EQ(FindKey(Json("limit"), "limit"), nullptr);
}

TEST(EqualsIgnoreCase, AsciiOnly) {
  EXPECT_TRUE(EqualsIgnoreCase("Bearer", "bEARER"));
  EXPECT_FALSE(EqualsIgnoreCase("Bearer", "Bearer "));
  EXPECT_FALSE(EqualsIgnoreCase("\xC3\x89", "\xC3\xA9"));  // É / é: not ASCII
}

TEST(JsonToInt64, IntegersWithinInt64) {
  EXPECT_EQ(JsonToInt64(Json(7)), 7);
  EXPECT_EQ(JsonToInt64(Json(-7)), -7);
  EXPECT_EQ(JsonToInt64(Json(3.0)), 3);
  EXPECT_EQ(JsonToInt64(Json(3.5)), std::nullopt);
  EXPECT_EQ(JsonToInt64(Json(uint64_t{1} << 63)), std::nullopt);
  EXPECT_EQ(JsonToInt64(Json(1e19)), std::nullopt);
  EXPECT_EQ(JsonToInt64(Json("3")), std::nullopt);
}

TEST(RequestReaders, TypedValuesAndFallbacks) {
  const Json body = {{"Name", "x"}, {"flag", true}, {"limit", 10}, {"none", nullptr}};
  EXPECT_EQ(OptString(body, "name").value(), "x");
  EXPECT_EQ(OptString(body, "none", "fallback").value(), "fallback");
  EXPECT_EQ(OptString(body, "absent", "fallback").value(), "fallback");
  EXPECT_TRUE(OptBool(body, "flag", false).value());
  EXPECT_TRUE(OptBool(body, "absent", true).value());
  EXPECT_EQ(OptInt(body, "limit", 100).value(), 10);
  EXPECT_EQ(OptInt(body, "absent", 100).value(), 100);
  EXPECT_EQ(ReqString(body, "name", "Req", "Name").value(), "x");
}

TEST(RequestReaders, WrongTypesAre1801AsGoWordsThem) {
  const Json body = {{"name", 5}, {"flag", "yes"}, {"limit", 3.0}, {"offset", "10"}};
  Expected<std::string> s = OptString(body, "name");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, 1801);
  EXPECT_EQ(s.error().message,
            "can only accept json format request, error: json: cannot unmarshal number into Go "
            "struct field .name of type string");
  Expected<bool> b = OptBool(body, "flag", false);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message,
            "can only accept json format request, error: json: cannot unmarshal string into Go "
            "struct field .flag of type bool");
  // Go refuses 3.0 for an int field; the value is shown, not its type.
  Expected<int64_t> n = OptInt(body, "limit", 0);
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error().code, 1801);
  EXPECT_EQ(n.error().message,
            "can only accept json format request, error: json: cannot unmarshal 3.0 into Go "
            "struct field .limit of type int");
  EXPECT_EQ(OptInt(body, "offset", 0).error().code, 1801);
  // Expected::status() keeps the message for Status callers.
  EXPECT_EQ(n.status(), Status::InvalidArgument(n.error().message));
}

TEST(RequestReaders, MissingRequiredStringIs1802) {
  for (const Json& body : {Json::object(), Json{{"collectionName", ""}}}) {
    Expected<std::string> s =
        ReqString(body, "collectionName", "CollectionNameReq", "CollectionName");
    ASSERT_FALSE(s.ok()) << body;
    EXPECT_EQ(s.error().code, 1802);
    EXPECT_EQ(s.error().message,
              "missing required parameters, error: Key: 'CollectionNameReq.CollectionName' "
              "Error:Field validation for 'CollectionName' failed on the 'required' tag");
  }
  EXPECT_EQ(ReqString(Json{{"collectionName", 1}}, "collectionName", "A", "B").error().code, 1801);
}

}  // namespace
}  // namespace flashembed::milvus
