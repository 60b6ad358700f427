#include "observe/logging.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace recserve::observe {
namespace {

// A logger with the LOG_FORMAT=json formatter writing into a string instead of stderr.
class JsonLogCapture {
 public:
  JsonLogCapture() : logger_("test", std::make_shared<spdlog::sinks::ostream_sink_st>(stream_)) {
    logger_.set_formatter(MakeJsonLineFormatter());
    logger_.set_level(spdlog::level::trace);
  }

  spdlog::logger& logger() { return logger_; }
  std::string text() const { return stream_.str(); }

  // Every line of the output parsed as JSON; a line that does not parse fails the test.
  std::vector<nlohmann::json> Lines() const {
    std::vector<nlohmann::json> out;
    std::istringstream in(stream_.str());
    std::string line;
    while (std::getline(in, line)) {
      nlohmann::json parsed = nlohmann::json::parse(line, nullptr, false);
      EXPECT_FALSE(parsed.is_discarded()) << "not JSON: " << line;
      out.push_back(std::move(parsed));
    }
    return out;
  }

 private:
  std::ostringstream stream_;
  spdlog::logger logger_;
};

// The one message `text` logs as exactly one line whose "msg" is `expected`.
void ExpectOneLineWithMessage(const std::string& text, const std::string& expected) {
  JsonLogCapture capture;
  capture.logger().info("{}", text);
  std::string out = capture.text();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.find('\n'), out.size() - 1) << out;
  // No raw control byte besides the line end: the JSON text escapes them all.
  for (size_t i = 0; i + 1 < out.size(); ++i) {
    EXPECT_GE(static_cast<unsigned char>(out[i]), 0x20) << "raw control byte at " << i;
  }
  std::vector<nlohmann::json> lines = capture.Lines();
  ASSERT_EQ(lines.size(), 1u) << out;
  EXPECT_EQ(lines[0].at("msg").get<std::string>(), expected) << out;
}

TEST(JsonLineFormatter, KeepsTheFieldsOfTheTextPattern) {
  JsonLogCapture capture;
  capture.logger().info("plain message");
  capture.logger().warn("a warning");
  capture.logger().error("an error");
  std::vector<nlohmann::json> lines = capture.Lines();
  ASSERT_EQ(lines.size(), 3u) << capture.text();
  for (const nlohmann::json& line : lines) {
    ASSERT_TRUE(line.is_object());
    EXPECT_EQ(line.size(), 4u) << line.dump();
    EXPECT_THAT(
        line.at("ts").get<std::string>(),
        testing::MatchesRegex(
            R"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[+-][0-9]{2}:[0-9]{2})"));
    EXPECT_TRUE(line.at("thread").is_number_unsigned()) << line.dump();
  }
  EXPECT_EQ(lines[0].at("level"), "info");
  EXPECT_EQ(lines[0].at("msg"), "plain message");
  EXPECT_EQ(lines[1].at("level"), "warning");
  EXPECT_EQ(lines[2].at("level"), "error");
  EXPECT_EQ(lines[2].at("msg"), "an error");
}

TEST(JsonLineFormatter, EscapesQuotesAndBackslashes) {
  ExpectOneLineWithMessage(R"(mode "x" takes no source; path C:\dir\")",
                           R"(mode "x" takes no source; path C:\dir\")");
  ExpectOneLineWithMessage(R"(","level":"error","msg":"forged)",
                           R"(","level":"error","msg":"forged)");
}

TEST(JsonLineFormatter, NewlinesNeverEndTheLine) {
  ExpectOneLineWithMessage("source x\"y\nz", "source x\"y\nz");
  ExpectOneLineWithMessage("a\r\nb\n{\"level\":\"error\"}\n", "a\r\nb\n{\"level\":\"error\"}\n");
}

TEST(JsonLineFormatter, EscapesEveryControlCharacter) {
  std::string controls;
  for (int c = 0; c < 0x20; ++c) controls.push_back(static_cast<char>(c));
  controls += "\x7f end";
  ExpectOneLineWithMessage(controls, controls);
}

TEST(JsonLineFormatter, ReplacesInvalidUtf8WithReplacementCharacter) {
  const std::string kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  ExpectOneLineWithMessage(
      "a\xff"
      "b",
      "a" + kReplacement + "b");
  ExpectOneLineWithMessage("cut \xC3", "cut " + kReplacement);  // truncated sequence at the end
  // Valid multi-byte text is kept as is.
  ExpectOneLineWithMessage("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80",
                           "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  // An overlong encoding and a lone surrogate are not UTF-8 either.
  JsonLogCapture capture;
  capture.logger().info("{}", "overlong \xC0\xAF surrogate \xED\xA0\x80 end");
  std::vector<nlohmann::json> lines = capture.Lines();
  ASSERT_EQ(lines.size(), 1u) << capture.text();
  std::string msg = lines[0].at("msg").get<std::string>();
  EXPECT_THAT(msg, testing::StartsWith("overlong " + kReplacement));
  EXPECT_THAT(msg, testing::HasSubstr(" surrogate " + kReplacement));
  EXPECT_THAT(msg, testing::EndsWith(" end"));
}

TEST(JsonLineFormatter, EveryLineOfAManyMessageLogParses) {
  JsonLogCapture capture;
  capture.logger().info("model reload (shadow) refused: not_found: source {} does not exist",
                        "x\"y\nz");
  capture.logger().warn("Redis connection failed ({}): recommendation cache disabled", "\x01\xfe");
  capture.logger().debug("");
  std::vector<nlohmann::json> lines = capture.Lines();
  ASSERT_EQ(lines.size(), 3u) << capture.text();
  EXPECT_EQ(lines[0].at("msg"),
            "model reload (shadow) refused: not_found: source x\"y\nz does not exist");
  EXPECT_EQ(lines[1].at("msg"),
            "Redis connection failed (\x01\xEF\xBF\xBD): recommendation cache disabled");
  EXPECT_EQ(lines[2].at("msg"), "");
  EXPECT_EQ(lines[2].at("level"), "debug");
}

TEST(JsonLineFormatter, EachCallReturnsAnIndependentFormatter) {
  std::unique_ptr<spdlog::formatter> first = MakeJsonLineFormatter();
  std::unique_ptr<spdlog::formatter> clone = first->clone();
  spdlog::details::log_msg msg("test", spdlog::level::info, "cloned \"flag\"");
  spdlog::memory_buf_t a, b;
  first->format(msg, a);
  clone->format(msg, b);
  EXPECT_EQ(fmt::to_string(a), fmt::to_string(b));
  EXPECT_EQ(nlohmann::json::parse(fmt::to_string(a)).at("msg"), "cloned \"flag\"");
}

}  // namespace
}  // namespace recserve::observe
