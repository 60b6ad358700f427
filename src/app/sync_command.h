#pragma once
// The Redis feature-store sync as a step other commands can run: `recserve sync` runs it alone,
// `recserve pipeline` runs it at the end of a full run when FEATURE_REDIS_URL is set.

#include <string>

namespace recserve::app {

// Pushes the latest snapshot published in <data_root>/feature_store.db into the Redis at
// `redis_url`. Logs the outcome; returns 0 on success, 1 on failure.
int RunFeatureSync(const std::string& data_root, const std::string& redis_url);

}  // namespace recserve::app
