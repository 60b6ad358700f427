#include "models/recall_channel.h"

#include "models/top_k.h"

namespace recserve::models {
namespace {

// The default per-query view: nothing to reuse, every call goes to the channel.
class ForwardingQuery final : public ChannelQuery {
 public:
  ForwardingQuery(const RecallChannel& channel, const UserQuery& query)
      : channel_(channel), query_(query) {}
  std::vector<ScoredItem> Top(size_t count, const std::vector<char>& excluded) override {
    return channel_.Top(query_, count, excluded);
  }
  void ScoreItems(std::span<const uint32_t> items, std::span<float> out) override {
    channel_.ScoreItems(query_, items, out);
  }

 private:
  const RecallChannel& channel_;
  const UserQuery& query_;
};

}  // namespace

std::vector<ScoredItem> RecallChannel::Top(const UserQuery& query, size_t count,
                                           const std::vector<char>& excluded) const {
  std::vector<float> scores(excluded.size(), 0.0f);
  Score(query, scores);
  return TopK(scores, count, excluded);
}

std::unique_ptr<ChannelQuery> RecallChannel::StartQuery(const UserQuery& query, bool) const {
  return std::make_unique<ForwardingQuery>(*this, query);
}

}  // namespace recserve::models
