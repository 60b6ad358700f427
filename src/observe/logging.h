#pragma once
// Process-wide logging: spdlog to stderr. LOG_LEVEL (trace|debug|info|warn|error, default info)
// and LOG_FORMAT (text|json, default text) choose level and shape. Log lines that the runbook
// greps for (e.g. "Redis connection failed") are emitted verbatim in both formats (in json as
// the "msg" string, so a quote or backslash in them appears JSON-escaped).

#include <spdlog/formatter.h>

#include <memory>

namespace recserve::observe {

// Idempotent; safe to call more than once.
void SetUpLogging();

// The LOG_FORMAT=json formatter: one JSON object per line,
//   {"ts":"2026-11-29T06:30:00.123+00:00","level":"info","thread":1234,"msg":"..."}
// "ts" is local time with its UTC offset, "level" spdlog's level name (trace, debug, info,
// warning, error, critical), "thread" the OS thread id. "msg" is the message as a JSON string:
// quotes, backslashes and control characters (newlines included) escaped, every invalid UTF-8
// byte replaced by U+FFFD. A message therefore never ends its line early or forges another one,
// whatever text (a reload `source`, a Redis error) it carries. Each call returns a new formatter
// (spdlog clones one per sink).
std::unique_ptr<spdlog::formatter> MakeJsonLineFormatter();

}  // namespace recserve::observe
