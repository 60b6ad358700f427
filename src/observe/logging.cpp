#include "observe/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "core/env.h"
#include "core/json_text.h"

namespace recserve::observe {
namespace {

// The %* flag of the JSON pattern: the message payload as a complete JSON string, quotes
// included. JsonText does the escaping (the one serialiser of the tree), so invalid UTF-8 becomes
// U+FFFD instead of an exception inside a log call.
class JsonStringMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string quoted =
        JsonText(nlohmann::json(std::string(msg.payload.data(), msg.payload.size())));
    dest.append(quoted.data(), quoted.data() + quoted.size());
  }

  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonStringMessage>();
  }
};

}  // namespace

std::unique_ptr<spdlog::formatter> MakeJsonLineFormatter() {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  // Every other field is JSON by construction: a timestamp, a level name, a number.
  formatter->add_flag<JsonStringMessage>('*').set_pattern(
      R"({"ts":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","thread":%t,"msg":%*})");
  return formatter;
}

void SetUpLogging() {
  static bool done = false;
  if (done) return;
  done = true;
  auto logger = spdlog::stderr_logger_mt("recserve");
  std::string format = EnvStringOr("LOG_FORMAT", "text");
  if (format == "json") {
    logger->set_formatter(MakeJsonLineFormatter());
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ [%t] %v");
  }
  logger->set_level(spdlog::level::from_str(EnvStringOr("LOG_LEVEL", "info")));
  spdlog::set_default_logger(logger);
}

}  // namespace recserve::observe
