#pragma once
// Typed reads of environment variables. Each variable the service reads is documented once in
// docs/CONFIGURATION.md with its default and meaning; code reads it through these helpers so a
// malformed value is a clear start-up error, never a silent default.

#include <optional>
#include <string>

#include "core/status.h"

namespace recserve {

// Value of `name`, or nullopt when unset or empty.
std::optional<std::string> EnvString(const char* name);
std::string EnvStringOr(const char* name, std::string fallback);
// InvalidArgument naming the variable when it is set but not a number.
Result<double> EnvDoubleOr(const char* name, double fallback);
Result<long long> EnvIntOr(const char* name, long long fallback);
// Accepts 1/0, true/false, yes/no, on/off (any case).
Result<bool> EnvBoolOr(const char* name, bool fallback);

}  // namespace recserve
