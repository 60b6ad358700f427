#include "models/ranker.h"

#include <xgboost/c_api.h>

#include <strings.h>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace recserve::models {
namespace {

Status XgbStatus(int rc, const char* what) {
  if (rc == 0) return Status::Ok();
  return Internal(std::string(what) + ": " + XGBGetLastError());
}

// Owns a DMatrixHandle.
struct DMatrix {
  DMatrixHandle handle = nullptr;
  ~DMatrix() {
    if (handle) XGDMatrixFree(handle);
  }
};

// OpenMP threads spin while idle unless OMP_WAIT_POLICY=passive; on a 2-core machine shared
// with other work that made XGBoost training about 7x slower (docs/DEBIAN-NOTES in ../shared).
// The policy is read when the OpenMP runtime loads, so it cannot be set from here: without it,
// train with one thread.
int TrainingThreads(int requested) {
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  if (policy == nullptr || strcasecmp(policy, "passive") != 0) return 1;
  return std::max(1, requested);
}

}  // namespace

Ranker::~Ranker() {
  if (booster_) XGBoosterFree(booster_);
}

Result<std::unique_ptr<Ranker>> Ranker::Train(const RankingExamples& ex, const RankerParams& p) {
  if (ex.rows() == 0 || ex.num_features == 0 || ex.features.size() != ex.rows() * ex.num_features) {
    return InvalidArgument("ranker training needs a non-empty, rectangular feature matrix");
  }
  uint64_t grouped = 0;
  for (unsigned g : ex.group_sizes) grouped += g;
  if (grouped != ex.rows()) return InvalidArgument("ranker group sizes do not cover every row");

  DMatrix train;
  RECSERVE_RETURN_IF_ERROR(XgbStatus(
      XGDMatrixCreateFromMat(ex.features.data(), ex.rows(), ex.num_features, NAN, &train.handle),
      "XGDMatrixCreateFromMat"));
  RECSERVE_RETURN_IF_ERROR(XgbStatus(
      XGDMatrixSetFloatInfo(train.handle, "label", ex.labels.data(), ex.rows()), "set label"));
  RECSERVE_RETURN_IF_ERROR(XgbStatus(
      XGDMatrixSetUIntInfo(train.handle, "group", ex.group_sizes.data(), ex.group_sizes.size()),
      "set group"));

  std::unique_ptr<Ranker> r(new Ranker());
  r->num_features_ = ex.num_features;
  RECSERVE_RETURN_IF_ERROR(
      XgbStatus(XGBoosterCreate(&train.handle, 1, &r->booster_), "XGBoosterCreate"));
  const std::pair<const char*, std::string> params[] = {
      {"objective", p.objective},
      {"eval_metric", "ndcg@10"},
      {"tree_method", "hist"},
      {"max_depth", std::to_string(p.depth)},
      {"eta", std::to_string(p.learning_rate)},
      {"min_child_weight", std::to_string(p.min_child_weight)},
      {"subsample", std::to_string(p.subsample)},
      {"colsample_bytree", std::to_string(p.colsample)},
      {"seed", std::to_string(p.seed)},
      {"nthread", std::to_string(TrainingThreads(p.threads))},
      {"verbosity", "0"},
  };
  for (const auto& [key, value] : params) {
    RECSERVE_RETURN_IF_ERROR(
        XgbStatus(XGBoosterSetParam(r->booster_, key, value.c_str()), "XGBoosterSetParam"));
  }
  for (uint32_t it = 0; it < p.trees; ++it) {
    RECSERVE_RETURN_IF_ERROR(
        XgbStatus(XGBoosterUpdateOneIter(r->booster_, static_cast<int>(it), train.handle),
                  "XGBoosterUpdateOneIter"));
  }
  RECSERVE_RETURN_IF_ERROR(
      XgbStatus(XGBoosterSetParam(r->booster_, "nthread", "1"), "XGBoosterSetParam"));
  r->CompileTrees();
  return r;
}

Status Ranker::Save(const std::filesystem::path& dir, std::vector<std::string>& files) const {
  std::string path = (dir / "ranker.json").string();
  RECSERVE_RETURN_IF_ERROR(XgbStatus(XGBoosterSaveModel(booster_, path.c_str()), "save ranker"));
  files.push_back("ranker.json");
  return Status::Ok();
}

Result<std::unique_ptr<Ranker>> Ranker::Load(const ModelFiles& files, size_t num_features) {
  constexpr const char* kFile = "ranker.json";
  Result<std::string_view> bytes = files.Bytes(kFile);
  if (!bytes.ok()) return bytes.status();
  std::unique_ptr<Ranker> r(new Ranker());
  r->num_features_ = num_features;
  RECSERVE_RETURN_IF_ERROR(XgbStatus(XGBoosterCreate(nullptr, 0, &r->booster_), "create"));
  // XGBoost tells JSON from its binary format by the first byte; only a JSON model is accepted.
  if (bytes->empty() || bytes->front() != '{') {
    return DataLoss(std::string(kFile) + ": not an XGBoost JSON model");
  }
  if (XGBoosterLoadModelFromBuffer(r->booster_, bytes->data(), bytes->size()) != 0) {
    return DataLoss(std::string("cannot load ") + kFile + ": " + XGBGetLastError());
  }
  bst_ulong features = 0;
  if (XGBoosterGetNumFeature(r->booster_, &features) != 0 || features != num_features) {
    return DataLoss(std::string(kFile) + ": ranker expects " + std::to_string(features) +
                    " features, the model set has " + std::to_string(num_features));
  }
  RECSERVE_RETURN_IF_ERROR(XgbStatus(XGBoosterSetParam(r->booster_, "nthread", "1"), "nthread"));
  r->CompileTrees();
  return r;
}

void Ranker::CompileTrees() {
  bst_ulong length = 0;
  const char* buffer = nullptr;
  if (XGBoosterSaveModelToBuffer(booster_, R"({"format": "json"})", &length, &buffer) != 0) {
    prediction_note_ =
        std::string("XGBoost prediction: cannot export the model: ") + XGBGetLastError();
    return;
  }
  auto forest = CompiledForest::Compile(std::string_view(buffer, length), num_features_);
  if (!forest.ok()) {
    prediction_note_ = "XGBoost prediction: " + forest.status().message();
    return;
  }
  constexpr size_t kProbeRows = 512;
  const std::vector<float> probe = forest->BoundaryRows(kProbeRows, /*seed=*/7);
  auto expected = PredictWithXgboost(probe, kProbeRows);
  if (!expected.ok()) {
    prediction_note_ = "XGBoost prediction: " + expected.status().message();
    return;
  }
  std::vector<float> got(kProbeRows);
  forest->Predict(probe, got);
  for (size_t r = 0; r < kProbeRows; ++r) {
    // Bit-for-bit: the compiled walk does XGBoost's comparisons and float additions in order.
    if (got[r] != (*expected)[r]) {
      prediction_note_ = "XGBoost prediction: the compiled trees differ on probe row " +
                         std::to_string(r) + " (" + std::to_string(got[r]) + " vs " +
                         std::to_string((*expected)[r]) + ")";
      return;
    }
  }
  forest_ = std::move(forest).value();
  prediction_note_ = "compiled trees (" + std::to_string(forest_->num_trees()) +
                     "), equal to XGBoost on " + std::to_string(kProbeRows) + " boundary rows";
}

Result<std::vector<float>> Ranker::Predict(const std::vector<float>& features, size_t rows) const {
  if (!forest_) return PredictWithXgboost(features, rows);
  if (features.size() != rows * num_features_) {
    return InvalidArgument("ranker input has the wrong number of features");
  }
  std::vector<float> out(rows);
  forest_->Predict(features, out);
  return out;
}

Result<std::vector<float>> Ranker::PredictWithXgboost(const std::vector<float>& features,
                                                      size_t rows) const {
  if (features.size() != rows * num_features_) {
    return InvalidArgument("ranker input has the wrong number of features");
  }
  if (rows == 0) return std::vector<float>();
  // In-place prediction straight from the caller's row-major buffer: no DMatrix per request.
  // XGBoost (>= 1.4) keeps the output buffer per calling thread and per booster, so concurrent
  // calls on one booster need no lock; the booster's nthread is 1 (set in Train/Load).
  char array_interface[160];
  std::snprintf(array_interface, sizeof(array_interface),
                "{\"data\": [%llu, true], \"shape\": [%zu, %zu], \"typestr\": \"<f4\", "
                "\"version\": 3}",
                static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(features.data())), rows,
                num_features_);
  static constexpr char kPredictConfig[] =
      "{\"type\": 0, \"training\": false, \"cache_id\": 0, \"iteration_begin\": 0, "
      "\"iteration_end\": 0, \"strict_shape\": false, \"missing\": NaN}";
  const bst_ulong* shape = nullptr;
  bst_ulong dims = 0;
  const float* out = nullptr;
  RECSERVE_RETURN_IF_ERROR(
      XgbStatus(XGBoosterPredictFromDense(booster_, array_interface, kPredictConfig, nullptr,
                                          &shape, &dims, &out),
                "XGBoosterPredictFromDense"));
  bst_ulong len = 1;
  for (bst_ulong d = 0; d < dims; ++d) len *= shape[d];
  if (dims == 0 || len != rows)
    return Internal("XGBoost returned a prediction of the wrong length");
  return std::vector<float>(out, out + len);
}

}  // namespace recserve::models
