#pragma once
// What every fuzz target uses to state its contract: a violated expectation aborts with the
// condition and a printable excerpt of the evidence, so libFuzzer saves the input as a crash
// (exactly like an ASan report) instead of the target passing silently.

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "core/text_input.h"

namespace recserve::fuzz {

[[noreturn]] inline void ContractViolated(const char* condition, const char* file, int line,
                                          std::string_view evidence) {
  std::fprintf(stderr, "\n%s:%d: contract violated: %s\n  evidence: %s\n", file, line, condition,
               PrintableExcerpt(evidence, 400).c_str());
  std::abort();
}

}  // namespace recserve::fuzz

// Aborts with `evidence` (any string_view-convertible text) when `condition` is false.
#define FUZZ_REQUIRE(condition, evidence)                                             \
  do {                                                                                \
    if (!(condition)) {                                                               \
      ::recserve::fuzz::ContractViolated(#condition, __FILE__, __LINE__, (evidence)); \
    }                                                                                 \
  } while (0)
