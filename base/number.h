// Floats on their way out: scores and vectors are written as JSON numbers,
// which have no inf or NaN, and read best as the shortest decimal text that
// gives the same float back.
#ifndef FLASHEMBED_BASE_NUMBER_H_
#define FLASHEMBED_BASE_NUMBER_H_

namespace flashembed {

// `value` made finite within the float range: NaN and everything below the
// lowest float become the lowest float (-3.4e38), everything above the
// largest the largest, so a score ranks where it belongs.
float FiniteFloat(double value);

// FiniteFloat(value) as the double whose shortest text is the float's
// shortest text (1.1f is 1.1, not 1.100000023841858): what JSON writers,
// which print doubles, should be given for a float.
double JsonFloat(float value);

}  // namespace flashembed

#endif  // FLASHEMBED_BASE_NUMBER_H_
