#include "base/number.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

namespace flashembed {

float FiniteFloat(double value) {
  constexpr double kMax = std::numeric_limits<float>::max();
  if (std::isnan(value) || value < -kMax) return -std::numeric_limits<float>::max();
  if (value > kMax) return std::numeric_limits<float>::max();
  return static_cast<float>(value);
}

double JsonFloat(float value) {
  const float finite = FiniteFloat(value);
  char buffer[32];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), finite);
  double shortest = finite;
  if (ec == std::errc()) std::from_chars(buffer, end, shortest);
  return shortest;
}

}  // namespace flashembed
