#include "engine/request_context.h"

namespace recserve::engine {

Status ValidateK(int64_t k) {
  if (k < kMinK || k > kMaxK) return InvalidArgument("k must be within 1..200");
  return Status::Ok();
}

}  // namespace recserve::engine
