#pragma once
// ExposureRecorder: writes what a user was shown — one exposure-log record per answer
// (observe/exposure_log.h, EXPOSURE_LOG_PATH), for the primary, an experiment variant and the
// shadow alike (the shadow's record carries the primary request's id).
//
// Thread-safe: Record() may be called from request threads and the shadow worker at once (the
// log queues records for its own writer).

#include <string_view>

#include "engine/request_context.h"
#include "observe/exposure_log.h"

namespace recserve::engine {

class ExposureRecorder {
 public:
  // `log` may be null (no exposure log: Record does nothing); it must outlive this object.
  explicit ExposureRecorder(observe::ExposureLog* log) : log_(log) {}

  // Appends the record of `answer`, given to `user_id` for the request `ctx`, stamped now.
  void Record(const RequestContext& ctx, std::string_view user_id,
              const RecommendationAnswer& answer) const;

 private:
  observe::ExposureLog* log_;
};

}  // namespace recserve::engine
