#include "core/env.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

namespace recserve {

std::optional<std::string> EnvString(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

std::string EnvStringOr(const char* name, std::string fallback) {
  auto v = EnvString(name);
  return v ? *v : std::move(fallback);
}

Result<double> EnvDoubleOr(const char* name, double fallback) {
  auto v = EnvString(name);
  if (!v) return fallback;
  char* end = nullptr;
  double d = std::strtod(v->c_str(), &end);
  if (end == v->c_str() || *end != '\0') {
    return InvalidArgument(std::string(name) + "='" + *v + "' is not a number");
  }
  return d;
}

Result<long long> EnvIntOr(const char* name, long long fallback) {
  auto v = EnvString(name);
  if (!v) return fallback;
  long long out = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || ptr != v->data() + v->size()) {
    return InvalidArgument(std::string(name) + "='" + *v + "' is not an integer");
  }
  return out;
}

Result<bool> EnvBoolOr(const char* name, bool fallback) {
  auto v = EnvString(name);
  if (!v) return fallback;
  std::string s = *v;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s == "1" || s == "true" || s == "yes" || s == "on") return true;
  if (s == "0" || s == "false" || s == "no" || s == "off") return false;
  return InvalidArgument(std::string(name) + "='" + *v + "' is not a boolean");
}

}  // namespace recserve
