#include "engine/request_configurator.h"

#include <string>

#include "core/recall_channel_names.h"
#include "resilience/degradation_reason.h"

namespace recserve::engine {

RequestContext RequestConfigurator::Configure(const RequestContext& request_ctx,
                                              std::string_view user_id) const {
  RequestContext ctx = request_ctx;
  if (experiments_ != nullptr) {
    auto experiments = experiments_->Get();
    auto assignments = experiments->Assign(user_id);
    ctx.variant = lifecycle::ReportedVariant(assignments);
    lifecycle::VariantParameters params = lifecycle::MergedParameters(assignments);
    if (params.candidates) ctx.recall.candidates = *params.candidates;
    for (const auto& [channel, weight] : params.channel_weights) {
      ctx.recall.channel_weights.emplace_back(channel, weight);
    }
    if (params.ranker) ctx.ranker = *params.ranker;
  }
  if (flags_ != nullptr) {
    auto flags = flags_->Get();
    ctx.use_cache = flags->cache;
    ctx.score_shadow = flags->shadow;
    if (!flags->ranker) {
      ctx.ranker = false;
      ctx.ranker_off_reason =
          resilience::DegradationReasonLabel(resilience::DegradationReason::kFlagOffRanker);
    }
    for (std::string_view channel : recserve::kRecallChannelNames) {
      if (!flags->RecallChannelEnabled(channel)) {
        // A weight listed first wins in the model's lookup; the flag overrides any variant.
        ctx.recall.channel_weights.insert(ctx.recall.channel_weights.begin(),
                                          {std::string(channel), 0.0});
      }
    }
  }
  ctx.cache_scope = ctx.variant;
  if (!ctx.ranker) ctx.cache_scope += "|norank";
  for (const auto& [channel, weight] : ctx.recall.channel_weights) {
    if (weight == 0) ctx.cache_scope += "|-" + channel;
  }
  return ctx;
}

}  // namespace recserve::engine
