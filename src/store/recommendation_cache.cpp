#include "store/recommendation_cache.h"

namespace recserve::store {

std::string RecommendationCacheKey(std::string_view model_version, std::string_view user_id,
                                   uint32_t k, uint64_t generation) {
  std::string key;
  key.reserve(model_version.size() + user_id.size() + 24);
  key.append(model_version);
  key.push_back('\x1f');
  key.append(user_id);
  key.push_back('\x1f');
  key.append(std::to_string(k));
  key.push_back('\x1f');
  key.append(std::to_string(generation));
  return key;
}

}  // namespace recserve::store
