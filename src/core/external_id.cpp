#include "core/external_id.h"

#include <algorithm>
#include <string>

#include "core/utf8.h"

namespace recserve {

Status ValidateExternalId(std::string_view id, std::string_view field) {
  auto refuse = [&](std::string_view what) {
    return InvalidArgument(std::string(field) + ": " + std::string(what) +
                           " (an id is 1..256 bytes of UTF-8 without control characters)");
  };
  if (id.empty()) return refuse("empty");
  if (id.size() > kMaxExternalIdBytes) {
    return refuse("too long: " + std::to_string(id.size()) + " bytes");
  }
  bool control = std::any_of(id.begin(), id.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7F;
  });
  if (control) return refuse("holds a control character");
  if (!IsValidUtf8(id)) return refuse("not valid UTF-8");
  return Status::Ok();
}

}  // namespace recserve
