#pragma once
// JSON text, the one home: how a nlohmann::json document becomes text (JsonText) and how a string
// becomes a JSON string literal in the hand-written writers of the hot paths (AppendJsonString:
// http/wire_json's response writer, store/feature_types' record encoder). Neither throws: invalid
// UTF-8 (core/utf8.h) becomes U+FFFD, because an id or a source path from a client may hold any
// bytes and nlohmann's dump() throws type_error 316 on them by default.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace recserve {

// `indent` < 0: compact, one line; otherwise pretty-printed with that many spaces.
inline std::string JsonText(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

// Appends `value` to `out` as a quoted JSON string: '"' and '\\' are backslash-escaped, \n \r \t
// take their short forms, every other byte below 0x20 becomes \u00xx (lowercase hex), valid UTF-8
// is copied as is and each byte of an invalid sequence becomes U+FFFD (EF BF BD). Runs that need
// no escaping are copied in one append (ids almost always are one run).
void AppendJsonString(std::string& out, std::string_view value);

}  // namespace recserve
