// Fuzz target: the files of a saved model set → models::RecommenderModel::Load(ModelFiles), the
// loaders of every binary part (model_set.bin, popularity, trending, item/recent kNN, iALS,
// EASE, the ANN header, user_seen.bin; models/binary_io.h), then the calls serving makes.
//
// Input: the bytes of model_set.bin, then any number of sections, each a line
// `=====<name>=====` followed by that file's bytes (up to the next such line). Names outside
// kFuzzedFiles are ignored. ann.hnsw and ranker.json are never supplied: their parsers are
// hnswlib's and XGBoost's (third-party, trusted through the manifest's sha256), so a set that
// asks for them is refused as NotFound here.
//
// Contract checked (src/models/recommender.h, docs/FUZZING.md):
// - a rejection is NotFound, DataLoss or FailedPrecondition with a message that names one of
//   the model set's files (never a path: there is none);
// - an accepted set's every part covers exactly the vocabulary: popularity, trending, both kNN
//   lists, iALS items (and users) and EASE all have items().size() items;
// - on an accepted set, every channel's catalogue-sized Score(), Recall, Rank-free Recommend,
//   Popular and Similar run without a memory error (ASan) and answer only item indices below
//   the catalogue size, never an item the query has seen.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_contract.h"
#include "models/model_files.h"
#include "models/recommender.h"

namespace {

namespace m = recserve::models;
using recserve::StatusCode;

constexpr std::string_view kMarker = "=====";
constexpr const char* kFuzzedFiles[] = {"model_set.bin", "popularity.bin", "trending.bin",
                                        "item_knn.bin",  "recent_knn.bin", "ials.bin",
                                        "ease.bin",      "ann_header.bin", "user_seen.bin"};
// Above this many iALS factors a cold query's exact fold-in solve (O(factors³)) outlasts the
// per-input time limit; such sets are loaded and checked, but not queried.
constexpr uint32_t kMaxQueriedFactors = 64;

bool Known(std::string_view name) {
  for (const char* f : kFuzzedFiles) {
    if (name == f) return true;
  }
  return false;
}

m::ModelFiles::Contents Split(std::string_view input) {
  m::ModelFiles::Contents files;
  std::string name = "model_set.bin";
  for (;;) {
    // A section starts at a line "=====<name>=====".
    size_t at = input.find(std::string("\n") + std::string(kMarker));
    size_t end = at == std::string_view::npos ? std::string_view::npos
                                              : input.find('\n', at + 1 + kMarker.size());
    std::string_view header =
        end == std::string_view::npos ? std::string_view() : input.substr(at + 1, end - at - 1);
    const bool is_section = header.size() > 2 * kMarker.size() &&
                            header.substr(header.size() - kMarker.size()) == kMarker;
    if (!is_section) {
      if (Known(name)) files[name] = std::string(input);
      return files;
    }
    if (Known(name)) files[name] = std::string(input.substr(0, at));
    name = std::string(header.substr(kMarker.size(), header.size() - 2 * kMarker.size()));
    input = input.substr(end + 1);
  }
}

bool NamesAFile(const std::string& message) {
  for (const char* f : kFuzzedFiles) {
    if (message.find(f) != std::string::npos) return true;
  }
  return message.find("ann.hnsw") != std::string::npos ||
         message.find("ranker.json") != std::string::npos;
}

void CheckCounts(const m::RecommenderModel& model) {
  const size_t n = model.num_items();
  for (const auto& channel : model.channels()) {
    const std::string& name = channel->name();
    FUZZ_REQUIRE(channel->num_items() == n, name);
    const std::optional<uint32_t> users = channel->num_users();
    FUZZ_REQUIRE(!users || *users == model.users().size(), name);
  }
}

void CheckItems(const std::vector<m::ScoredItem>& items, size_t n, const char* what) {
  for (const auto& s : items) FUZZ_REQUIRE(s.item < n, what);
}

void Exercise(const m::RecommenderModel& model) {
  const uint32_t n = model.num_items();
  if (n == 0 || model.ials()->factors() > kMaxQueriedFactors) return;
  std::vector<m::UserQuery> queries(2);
  for (uint32_t i = 0; i < n && i < 3; ++i) {
    queries[0].items.push_back(i);
    queries[0].timestamps.push_back(1000 + i);
  }
  if (model.users().size() > 0) queries[1].user = 0;
  queries[1].items = {n - 1};
  queries[1].timestamps = {5000};
  std::vector<float> scores(n);
  for (const m::UserQuery& q : queries) {
    for (const auto& channel : model.channels()) channel->Score(q, scores);
    const std::vector<char> seen = model.SeenMask(q);
    m::CandidateSet set = model.Recall(q, m::RecallParams{20, true});
    FUZZ_REQUIRE(set.channel_scores.size() == set.items.size() * set.num_channels, "recall");
    for (uint32_t item : set.items) {
      FUZZ_REQUIRE(item < n, "recall");
      FUZZ_REQUIRE(!seen[item], "recall returned a seen item");
    }
    (void)model.Features(q, set);
    CheckItems(model.Recommend(q, 5), n, "recommend");
  }
  CheckItems(model.Popular(5), n, "popular");
  CheckItems(model.Similar(0, 5), n, "similar");
  CheckItems(model.Similar(n, 5), n, "similar of an unknown item");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const m::ModelFiles files(Split(input));
  auto model = m::RecommenderModel::Load(files);
  if (!model.ok()) {
    const recserve::Status& st = model.status();
    FUZZ_REQUIRE(st.code() == StatusCode::kNotFound || st.code() == StatusCode::kDataLoss ||
                     st.code() == StatusCode::kFailedPrecondition,
                 st.ToString());
    FUZZ_REQUIRE(NamesAFile(st.message()), st.ToString());
    return 0;
  }
  CheckCounts(*model);
  Exercise(*model);
  return 0;
}
