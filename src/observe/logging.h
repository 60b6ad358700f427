#pragma once
// Process-wide logging: spdlog to stderr. LOG_LEVEL (trace|debug|info|warn|error, default info)
// and LOG_FORMAT (text|json, default text) choose level and shape. Log lines that the runbook
// greps for (e.g. "Redis connection failed") are emitted verbatim in both formats.

namespace recserve::observe {

// Idempotent; safe to call more than once.
void SetUpLogging();

}  // namespace recserve::observe
