#include "engine/exposure_recorder.h"

#include <string>
#include <utility>

#include "core/wall_clock.h"

namespace recserve::engine {

void ExposureRecorder::Record(const RequestContext& ctx, std::string_view user_id,
                              const RecommendationAnswer& answer) const {
  if (log_ == nullptr) return;
  observe::ExposureRecord record;
  record.request_id = ctx.request_id;
  record.user_id = std::string(user_id);
  record.endpoint = ctx.endpoint;
  record.items.reserve(answer.items.size());
  for (const auto& item : answer.items) record.items.emplace_back(item.item_id, item.score);
  record.model_version = answer.model_version;
  record.variant = answer.variant;
  record.degraded_reason = answer.degraded_reason;
  record.timestamp = UnixSecondsNowFractional();
  log_->Append(std::move(record));
}

}  // namespace recserve::engine
