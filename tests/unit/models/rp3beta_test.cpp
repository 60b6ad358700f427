#include "models/rp3beta.h"

#include <gtest/gtest.h>

#include <vector>

namespace recserve::models {
namespace {

// u0 = {0, 1}, u1 = {1, 2}: every user has degree 2; items 0 and 2 degree 1, item 1 degree 2.
InteractionMatrix Chain() {
  return InteractionMatrix::Build(2, 3, {0, 0, 1, 1}, {0, 1, 1, 2}, {1, 2, 1, 2});
}

std::vector<float> ScoresFor(const ItemKnnChannel& channel, std::vector<uint32_t> history) {
  UserQuery query;
  query.items = std::move(history);
  query.timestamps.assign(query.items.size(), 0);
  std::vector<float> out(3, -1.0f);
  channel.Score(query, out);
  return out;
}

TEST(Rp3betaTest, HandComputedWalkWeights) {
  Rp3betaParams p;
  p.alpha = 1.0f;
  p.beta = 0.0f;
  auto channel = TrainRp3beta(Chain(), p, 1);
  EXPECT_EQ(channel->name(), "rp3beta");
  // W[0][1] = deg(0)^-1 · deg(u0)^-1 = 1 · 1/2; W[0][2] = 0 (no common user); W[j][j] = 0.
  EXPECT_EQ(ScoresFor(*channel, {0}), (std::vector<float>{0.0f, 0.5f, 0.0f}));
  // W[1][0] = W[1][2] = 1/2 · 1/2.
  EXPECT_EQ(ScoresFor(*channel, {1}), (std::vector<float>{0.25f, 0.0f, 0.25f}));
  // The popularity penalty divides by deg(i)^β: W[0][1] = 0.5 / 2 with β = 1.
  p.beta = 1.0f;
  auto penalised = TrainRp3beta(Chain(), p, 2);
  EXPECT_EQ(ScoresFor(*penalised, {0}), (std::vector<float>{0.0f, 0.25f, 0.0f}));
}

TEST(Rp3betaTest, PrunesEachSourceRowWithTiesByIndexAndIgnoresThreads) {
  Rp3betaParams p;
  p.alpha = 1.0f;
  p.beta = 0.0f;
  p.neighbours = 1;
  auto channel = TrainRp3beta(Chain(), p, 1);
  // Row 1 has W[1][0] = W[1][2] = 0.25; the tie keeps item 0.
  EXPECT_EQ(ScoresFor(*channel, {1}), (std::vector<float>{0.25f, 0.0f, 0.0f}));
  ItemNeighbours one = BuildRp3betaNeighbours(Chain(), p, 1);
  ItemNeighbours three = BuildRp3betaNeighbours(Chain(), p, 3);
  EXPECT_EQ(one.offsets, three.offsets);
  EXPECT_EQ(one.neighbour, three.neighbour);
  EXPECT_EQ(one.similarity, three.similarity);
}

}  // namespace
}  // namespace recserve::models
