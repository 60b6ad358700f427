// SmokeTestModelBundle (lifecycle/model_publishing.h) on real model files written by the models
// room: a bundle whose checksums all match but whose ease.bin covers another catalogue size is
// refused before it is staged or published.
#include <gtest/gtest.h>

#include "lifecycle/bundle_publisher.h"
#include "lifecycle/bundle_validator.h"
#include "lifecycle/model_publishing.h"
#include "lifecycle_test_support.h"
#include "models/binary_io.h"

namespace recserve::lifecycle {
namespace {
namespace fs = std::filesystem;
using testing::SampleMetadata;
using testing::TempDir;

// 12 users over 6 items, no ranker and no ANN (the smoke test needs neither).
models::RecommenderModel SmallModel() {
  std::vector<uint32_t> users, items;
  std::vector<int64_t> times;
  for (uint32_t u = 0; u < 12; ++u) {
    for (uint32_t k = 0; k < 3; ++k) {
      users.push_back(u);
      items.push_back((u + k * (u % 2 + 1)) % 6);
      times.push_back(1000 + 10 * k);
    }
  }
  models::InteractionMatrix m = models::InteractionMatrix::Build(12, 6, users, items, times);
  IdVocabulary user_ids, item_ids;
  for (uint32_t u = 0; u < 12; ++u) user_ids.Intern(std::string("u").append(std::to_string(u)));
  for (uint32_t i = 0; i < 6; ++i) item_ids.Intern(std::string("i").append(std::to_string(i)));
  models::ModelConfig config;
  config.ials.factors = 4;
  config.ials.iterations = 2;
  config.ann = false;
  auto model = models::RecommenderModel::TrainChannels(m, std::move(user_ids), std::move(item_ids),
                                                       {}, config);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return std::move(model).value();
}

BundleMetadata Metadata(const std::string& version, const models::RecommenderModel& model) {
  BundleMetadata m = SampleMetadata(version);
  m.feature_schema = model.FeatureNames();
  return m;
}

TEST(ModelPublishingTest, SmokeTestRefusesAnEaseFileOfAnotherCatalogueSize) {
  TempDir tmp;
  models::RecommenderModel model = SmallModel();
  ASSERT_NE(model.channel("ease"), nullptr);
  ASSERT_TRUE(model.Save(tmp.path() / "good").ok());
  Result<fs::path> good =
      PublishBundle(tmp.path() / "good", Metadata("good", model), tmp.path() / "models");
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  Result<ValidatedBundle> ok = ValidateBundle(*good, SmokeTestModelBundle);
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();

  // Five items instead of six: well-formed, listed with its own size and sha256 by the publisher,
  // so only the count check can catch it.
  ASSERT_TRUE(model.Save(tmp.path() / "bad").ok());
  models::BinaryWriter ease("RSEASE", 1);
  ease.U32(5);
  ease.F32Array(std::vector<float>(25, 0.25f));
  ASSERT_TRUE(ease.WriteTo(tmp.path() / "bad" / "ease.bin").ok());
  Result<fs::path> bad =
      PublishBundle(tmp.path() / "bad", Metadata("bad", model), tmp.path() / "models");
  ASSERT_TRUE(bad.ok()) << bad.status().ToString();
  Result<ValidatedBundle> v = ValidateBundle(*bad, SmokeTestModelBundle);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(v.status().message().find("ease.bin covers 5 items"), std::string::npos)
      << v.status().ToString();
  EXPECT_NE(v.status().message().find("has 6"), std::string::npos) << v.status().ToString();
}

}  // namespace
}  // namespace recserve::lifecycle
