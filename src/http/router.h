#pragma once
// Routes a request path to a handler by route template ("/recommendations/{user_id}"). The
// template is also the `endpoint` label of every request metric, so ids never become labels.
// A path that matches a template under another method is 405 (with the allowed methods), a path
// that matches nothing is 404.

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace recserve::http {

// Values of the {placeholders} of the matched template, by name (percent-decoded).
using PathParams = std::unordered_map<std::string, std::string>;

template <typename Handler>
class Router {
 public:
  struct Match {
    const Handler* handler = nullptr;       // null when not found / wrong method
    const std::string* endpoint = nullptr;  // route template; null when no template matched
    PathParams params;
    std::vector<std::string> allowed_methods;  // when the path matched but the method did not
  };

  // REQUIRES: `pattern` starts with '/'; a segment "{name}" matches any non-empty segment.
  // Literal segments take precedence only through registration order (first match wins).
  void Add(std::string method, std::string pattern, Handler handler) {
    std::vector<std::string> segments;
    for (std::string_view s : Split(pattern)) segments.emplace_back(s);
    routes_.push_back(
        {std::move(method), std::move(pattern), std::move(segments), std::move(handler)});
  }

  // `path` without the query string.
  Match Find(std::string_view method, std::string_view path) const {
    Match match;
    std::vector<std::string_view> segments = Split(path);
    for (const Route& route : routes_) {
      PathParams params;
      if (!Matches(route.segments, segments, params)) continue;
      if (route.method != method) {
        match.endpoint = &route.pattern;
        match.allowed_methods.push_back(route.method);
        continue;
      }
      match.handler = &route.handler;
      match.endpoint = &route.pattern;
      match.params = std::move(params);
      match.allowed_methods.clear();
      return match;
    }
    return match;
  }

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
  };

  static std::vector<std::string_view> Split(std::string_view path) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < path.size()) {
      if (path[i] == '/') {
        ++i;
        continue;
      }
      size_t j = path.find('/', i);
      if (j == std::string_view::npos) j = path.size();
      out.push_back(path.substr(i, j - i));
      i = j;
    }
    return out;
  }

  static bool Matches(const std::vector<std::string>& pattern,
                      const std::vector<std::string_view>& path, PathParams& params);

  // Added at start-up only; Find() is const and safe from many threads afterwards.
  std::vector<Route> routes_;
};

// Percent-decodes a path segment or query value ('+' stays '+' in paths). Returns false for a
// malformed escape.
bool PercentDecode(std::string_view in, std::string& out, bool plus_is_space = false);

// Value of `name` in a query string "a=1&b=2" ('+' decodes to a space); false when absent or
// malformed.
bool QueryParam(std::string_view query, std::string_view name, std::string& value);

template <typename Handler>
bool Router<Handler>::Matches(const std::vector<std::string>& pattern,
                              const std::vector<std::string_view>& path, PathParams& params) {
  if (pattern.size() != path.size()) return false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    std::string_view p = pattern[i];
    if (p.size() >= 2 && p.front() == '{' && p.back() == '}') {
      std::string decoded;
      if (!PercentDecode(path[i], decoded) || decoded.empty()) return false;
      params[std::string(p.substr(1, p.size() - 2))] = std::move(decoded);
    } else if (p != path[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace recserve::http
