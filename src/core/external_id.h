#pragma once
// The one rule for external ids (user ids, item ids) on every input: HTTP paths and query
// parameters, POST /events bodies and the pipeline's CSV files. An id is 1..256 bytes of valid
// UTF-8 without control characters (U+0000..U+001F, U+007F). Anything else is refused with a
// reason, never rewritten: the id a client sends is the id that is stored and served.
//
// Why 256 bytes: ids key per-user and per-item structures (live state, caches, Redis keys); an
// unbounded id lets one request allocate as much as the header or body limit allows.

#include <cstddef>
#include <string_view>

#include "core/status.h"

namespace recserve {

inline constexpr size_t kMaxExternalIdBytes = 256;

// Ok, or InvalidArgument "<field>: must be 1..256 bytes of UTF-8 without control characters"
// (with what is wrong: empty, too long, a control character, invalid UTF-8). `field` names the
// input in the message, e.g. "user_id" or "events[3].item_id".
Status ValidateExternalId(std::string_view id, std::string_view field);

}  // namespace recserve
