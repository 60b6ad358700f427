#include "core/json_text.h"

#include "core/utf8.h"

namespace recserve {

void AppendJsonString(std::string& out, std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t i = 0;
  while (i < value.size()) {
    size_t run = i;
    while (run < value.size()) {
      const unsigned char u = static_cast<unsigned char>(value[run]);
      if (u < 0x20 || u >= 0x80 || u == '"' || u == '\\') break;
      ++run;
    }
    out.append(value.data() + i, run - i);
    i = run;
    if (i == value.size()) break;
    const char c = value[i];
    const unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      const size_t n = Utf8SequenceLength(value, i);
      if (n == 0) {
        out += "\xEF\xBF\xBD";
        ++i;
      } else {
        out.append(value.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out.push_back(kHex[u >> 4]);
        out.push_back(kHex[u & 0xF]);
    }
    ++i;
  }
  out.push_back('"');
}

}  // namespace recserve
