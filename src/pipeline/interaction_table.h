#pragma once
// The validated input of one pipeline run, held column-wise in memory: what ingest produces and
// what feature building and training consume. Rows here have passed validation (bad rows are in
// the run's quarantine file instead); ids are interned into dense indices.

#include <cstdint>
#include <string>
#include <vector>

#include "core/id_vocabulary.h"

namespace recserve::pipeline {

// One row per accepted interaction, in input order. All columns have the same length.
struct InteractionTable {
  IdVocabulary users;
  IdVocabulary items;                // every item seen in interactions or items.csv
  IdVocabulary event_types;          // "view", "click", ...; "" when the column is absent
  std::vector<uint32_t> user;        // index into users
  std::vector<uint32_t> item;        // index into items
  std::vector<int64_t> timestamp;    // unix seconds (UTC)
  std::vector<float> weight;         // >= 0; 1 when the input left it empty
  std::vector<uint32_t> event_type;  // index into event_types

  size_t size() const { return user.size(); }
};

// items.csv, aligned with InteractionTable::items (index i describes item i). Items that occur
// only in interactions have empty title/tags and created_at = 0 (unknown).
struct ItemCatalog {
  std::vector<std::string> title;
  std::vector<std::vector<std::string>> tags;
  std::vector<int64_t> created_at;  // unix seconds, 0 = unknown
  bool loaded = false;              // false when the run had no items.csv
};

}  // namespace recserve::pipeline
