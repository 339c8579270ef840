// What the benchmarks in tools/bench/ share: steady-clock timing, the facts
// about the build and the machine that go into the one JSON line each
// prints (docs/BENCHMARKS.md records them), and peak memory.
#ifndef FLASHEMBED_TOOLS_BENCH_BENCH_UTIL_H_
#define FLASHEMBED_TOOLS_BENCH_BENCH_UTIL_H_

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

namespace flashembed::bench {

using Clock = std::chrono::steady_clock;

// Seconds elapsed since `start` (a Clock::now() taken earlier).
inline double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The short git commit of the source tree when CMake configured it ("" when
// git could not tell).
const char* Commit();

// CMAKE_BUILD_TYPE of this build ("Release" for recorded numbers).
const char* BuildType();

// The "model name" line of /proc/cpuinfo, or "unknown".
std::string CpuName();

// The peak resident memory of this process image so far, in MiB (VmHWM of
// /proc/self/status, which, unlike getrusage, does not count what a parent
// held before fork and exec; getrusage where /proc is missing).
double MaxRssMb();

// Sets "commit", "build_type" and "cpu" in `out`, a JSON object
// (nlohmann::json or ordered_json; a template so this header needs none).
template <typename Json>
void AddRunInfo(Json& out) {
  out["commit"] = Commit();
  out["build_type"] = BuildType();
  out["cpu"] = CpuName();
}

// Writes `line` (one JSON object, no newline) and a newline to stdout, and
// flushes it.
void PrintJsonLine(std::string_view line);

// Ends a benchmark that cannot go on: one line "<bench>: error: <what>" on
// stderr, then exit status `status` (2 for bad flags, 1 for anything else).
[[noreturn]] void Fail(std::string_view bench, std::string_view what, int status = 1);

// Reads a benchmark's flags, all of the form "--name NUMBER": the number is
// the whole argument (strtod) and positive, or also 0 when `allow_zero`;
// `set(name, value)` stores it and returns false for a name it does not
// know. A missing or bad value or an unknown name is Fail(bench, ..., 2).
void ParseNumberFlags(int argc, char** argv, std::string_view bench, bool allow_zero,
                      const std::function<bool(std::string_view, double)>& set);

}  // namespace flashembed::bench

#endif  // FLASHEMBED_TOOLS_BENCH_BENCH_UTIL_H_
