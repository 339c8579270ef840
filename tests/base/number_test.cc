#include "base/number.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace flashembed {
namespace {

constexpr float kMax = std::numeric_limits<float>::max();

TEST(FiniteFloat, KeepsFloatsAndClampsTheRest) {
  EXPECT_EQ(FiniteFloat(1.5), 1.5f);
  EXPECT_EQ(FiniteFloat(-0.0), 0.0f);
  EXPECT_EQ(FiniteFloat(kMax), kMax);
  EXPECT_EQ(FiniteFloat(1e39), kMax);
  EXPECT_EQ(FiniteFloat(-1e39), -kMax);
  EXPECT_EQ(FiniteFloat(std::numeric_limits<double>::infinity()), kMax);
  EXPECT_EQ(FiniteFloat(-std::numeric_limits<double>::infinity()), -kMax);
  EXPECT_EQ(FiniteFloat(std::nan("")), -kMax) << "NaN ranks last";
}

TEST(JsonFloat, PrintsTheShortestTextOfTheFloat) {
  EXPECT_EQ(nlohmann::json(JsonFloat(1.1f)).dump(), "1.1");
  EXPECT_EQ(nlohmann::json(static_cast<double>(1.1f)).dump(), "1.100000023841858")
      << "what a plain widening would print";
  EXPECT_EQ(nlohmann::json(JsonFloat(0.1f)).dump(), "0.1");
  EXPECT_EQ(nlohmann::json(JsonFloat(-2.5e-8f)).dump(), "-2.5e-08");
  EXPECT_EQ(static_cast<float>(JsonFloat(0.3f)), 0.3f) << "reads back as the same float";
}

TEST(JsonFloat, IsNeverNullInJson) {
  // The shortest text of the largest float, 3.4028235e+38, reads back as it.
  EXPECT_EQ(static_cast<float>(JsonFloat(std::numeric_limits<float>::infinity())), kMax);
  EXPECT_EQ(static_cast<float>(JsonFloat(-std::numeric_limits<float>::infinity())), -kMax);
  EXPECT_EQ(static_cast<float>(JsonFloat(std::nanf(""))), -kMax);
  EXPECT_EQ(nlohmann::json(JsonFloat(std::nanf(""))).dump(), "-3.4028235e+38");
}

}  // namespace
}  // namespace flashembed
