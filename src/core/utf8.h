#pragma once
// UTF-8 validity, the one definition every room uses (wire JSON, ids, logs). Valid means RFC 3629
// (the table of Unicode 15 section 3.9): no overlong forms (C0, C1, E0 80..9F, F0 80..8F), no
// surrogates (ED A0..BF) and nothing above U+10FFFF (F4 90..BF, F5..FF), which JSON parsers
// reject (found by fuzz/http_request_fuzzer: "\xc0\x94" in a path made the 404 body invalid).

#include <cstddef>
#include <string_view>

namespace recserve {

// Length of the valid UTF-8 sequence starting at s[i] (1..4), or 0 when it is invalid there.
// REQUIRES: i < s.size().
size_t Utf8SequenceLength(std::string_view s, size_t i);

// True when every byte of `s` belongs to a valid UTF-8 sequence.
bool IsValidUtf8(std::string_view s);

}  // namespace recserve
