#pragma once
// RequestConfigurator: completes a RequestContext for one user from the two run-time inputs an
// operator edits — the feature flags (config/feature_flags.yaml) and the experiments
// (config/experiments.yaml) — read anew on every request, so an empty reload applies at once.
//
// The merge: the user's experiment variant sets the variant label, recall candidates, channel
// weights and the ranker switch; the flags then override (a flag that turns the ranker or a
// recall channel off wins over any variant). The result's cache_scope names everything that
// changes the list, so a cached list is never served under other settings.
//
// Thread-safe: Configure() is const and may be called from any number of request threads.

#include <string_view>

#include "engine/request_context.h"
#include "lifecycle/experiments.h"
#include "resilience/feature_flags.h"

namespace recserve::engine {

class RequestConfigurator {
 public:
  // Either may be null: every flag on, no experiment. Both must outlive this object.
  RequestConfigurator(const resilience::FeatureFlagsHolder* flags,
                      const lifecycle::ExperimentsHolder* experiments)
      : flags_(flags), experiments_(experiments) {}

  // `ctx` with the variant, recall options and switches that the flags and the user's
  // experiment assignment give for this request.
  RequestContext Configure(const RequestContext& ctx, std::string_view user_id) const;

 private:
  const resilience::FeatureFlagsHolder* flags_;
  const lifecycle::ExperimentsHolder* experiments_;
};

}  // namespace recserve::engine
