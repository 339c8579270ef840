#include "tools/bench/bench_util.h"

#include <sys/resource.h>

#include <cstdio>
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
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

void PrintJsonLine(std::string_view line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

}  // namespace flashembed::bench
