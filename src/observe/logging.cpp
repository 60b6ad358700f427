#include "observe/logging.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "core/env.h"

namespace recserve::observe {

void SetUpLogging() {
  static bool done = false;
  if (done) return;
  done = true;
  auto logger = spdlog::stderr_logger_mt("recserve");
  std::string format = EnvStringOr("LOG_FORMAT", "text");
  if (format == "json") {
    logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","thread":%t,"msg":"%v"})");
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ [%t] %v");
  }
  logger->set_level(spdlog::level::from_str(EnvStringOr("LOG_LEVEL", "info")));
  spdlog::set_default_logger(logger);
}

}  // namespace recserve::observe
