#pragma once
// ModelConfig: the hyper-parameters of every part of a RecommenderModel. The defaults are the
// starting point of the validation grid (pipeline/training.h); each recall channel's own fields
// are read by its row in models/recall_channel_registry.cpp.

#include <cstdint>

#include "models/ann_index.h"
#include "models/ials_solver.h"
#include "models/ranker.h"

namespace recserve::models {

struct ModelConfig {
  int64_t trending_window_seconds = 7 * 86400;
  uint32_t knn_neighbours = 100;
  float knn_shrink = 10.0f;
  uint32_t recent_items = 5;  // history items the recent_knn channel reads
  IalsParams ials;
  bool ease = true;  // trained only when the catalogue fits ease_max_items
  float ease_lambda = 200.0f;
  uint32_t ease_max_items = 20000;
  bool ann = true;  // build the HNSW index over iALS item factors
  AnnParams ann_params;
  uint32_t candidates = 200;
  RankerParams ranker;
  int threads = 1;
};

}  // namespace recserve::models
