#include "tools/bench/bench_util.h"

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

// Set by tools/bench/CMakeLists.txt on this file only.
#ifndef FLASHEMBED_COMMIT
#define FLASHEMBED_COMMIT "unknown"
#endif
#ifndef FLASHEMBED_BUILD_TYPE
#define FLASHEMBED_BUILD_TYPE "unknown"
#endif

namespace flashembed::bench {

const char* Commit() { return FLASHEMBED_COMMIT; }

const char* BuildType() { return FLASHEMBED_BUILD_TYPE; }

std::string CpuName() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

double MaxRssMb() {
  // VmHWM first: getrusage's ru_maxrss survives fork and exec, so a
  // benchmark started by a large process (a Python driver holding a model)
  // would report its parent's peak.
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

void PrintJsonLine(std::string_view line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

void Fail(std::string_view bench, std::string_view what, int status) {
  std::fprintf(stderr, "%.*s: error: %.*s\n", static_cast<int>(bench.size()), bench.data(),
               static_cast<int>(what.size()), what.data());
  std::exit(status);
}

void ParseNumberFlags(int argc, char** argv, std::string_view bench, bool allow_zero,
                      const std::function<bool(std::string_view, double)>& set) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) Fail(bench, "missing value for " + flag, 2);
    char* end = nullptr;
    const double v = std::strtod(argv[++i], &end);
    if (end == argv[i] || *end != '\0' || v < 0 || (v == 0 && !allow_zero)) {
      Fail(bench, "bad value for " + flag, 2);
    }
    if (!set(flag, v)) Fail(bench, "unknown flag " + flag, 2);
  }
}

}  // namespace flashembed::bench
