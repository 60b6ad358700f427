#include "core/json_text.h"

#include <gtest/gtest.h>

#include <string>

#include "core/utf8.h"

namespace recserve {
namespace {

std::string Quoted(std::string_view value) {
  std::string out;
  AppendJsonString(out, value);
  return out;
}

TEST(AppendJsonString, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(Quoted(""), "\"\"");
  EXPECT_EQ(Quoted("item-42"), "\"item-42\"");
  EXPECT_EQ(Quoted("q\"\\\n\x01"), "\"q\\\"\\\\\\n\\u0001\"");
  EXPECT_EQ(Quoted("\r\t\b\f\x1f"), "\"\\r\\t\\u0008\\u000c\\u001f\"");
  EXPECT_EQ(Quoted(std::string_view("a\0b", 3)), "\"a\\u0000b\"");
  std::string out = "prefix:";
  AppendJsonString(out, "x");
  EXPECT_EQ(out, "prefix:\"x\"");  // appends, never replaces
}

TEST(AppendJsonString, CopiesValidUtf8AndReplacesEachInvalidByte) {
  EXPECT_EQ(Quoted("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"");
  // Overlong, surrogate, above U+10FFFF, lone continuation, truncated sequence.
  EXPECT_EQ(Quoted("\xC0\x94"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
  EXPECT_EQ(Quoted("\xED\xA0\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
  EXPECT_EQ(Quoted("\xF4\x90\x80\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
  EXPECT_EQ(Quoted("a\x80z"), "\"a\xEF\xBF\xBDz\"");
  EXPECT_EQ(Quoted("\xE2\x82"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
  // Whatever the input, the output is valid UTF-8 and nlohmann reads the same text back.
  for (std::string_view in : {"q\"\\\n\x01", "caf\xC3\xA9", "\xC0\x94\xFF"}) {
    const std::string text = Quoted(in);
    EXPECT_TRUE(IsValidUtf8(text));
    EXPECT_TRUE(nlohmann::json::accept(text)) << text;
  }
  EXPECT_EQ(nlohmann::json::parse(Quoted("q\"\\\n\x01")).get<std::string>(), "q\"\\\n\x01");
}

TEST(JsonText, ReplacesInvalidUtf8InsteadOfThrowing) {
  EXPECT_EQ(JsonText(nlohmann::json{{"k", "a\xFFz"}}), "{\"k\":\"a\xEF\xBF\xBDz\"}");
  EXPECT_EQ(JsonText(nlohmann::json{{"k", 1}}, 2), "{\n  \"k\": 1\n}");
}

}  // namespace
}  // namespace recserve
