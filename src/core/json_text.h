#pragma once
// The one way a nlohmann::json document becomes text: invalid UTF-8 in a string is replaced by
// U+FFFD instead of throwing (nlohmann's dump() throws type_error 316 on it, and an id or a
// source path from a client may hold any bytes). Every serialisation in the tree goes through
// here.

#include <nlohmann/json.hpp>
#include <string>

namespace recserve {

// `indent` < 0: compact, one line; otherwise pretty-printed with that many spaces.
inline std::string JsonText(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

}  // namespace recserve
