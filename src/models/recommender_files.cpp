// RecommenderModel's bundle format: Save writes model_set.bin (vocabularies, item tags, channel
// names, which optional parts exist), one file set per channel, the ANN index, the ranker and
// user_seen.bin; Load reads them back, each channel through its registry row, and refuses a part
// whose item or user count disagrees with the vocabulary. Both sides live here so the format has
// one home.
#include <algorithm>
#include <optional>

#include "models/binary_io.h"
#include "models/recall_channel_registry.h"
#include "models/recommender.h"

namespace recserve::models {
namespace {

constexpr uint32_t kModelSetVersion = 1;
constexpr uint32_t kUserSeenVersion = 1;
constexpr const char* kUserSeenFile = "user_seen.bin";
constexpr const char* kModelSetFile = "model_set.bin";

}  // namespace

Result<std::vector<std::string>> RecommenderModel::Save(const std::filesystem::path& dir) const {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Internal("cannot create " + dir.string() + ": " + ec.message());
  std::vector<std::string> files;
  BinaryWriter w("RSMODELS", kModelSetVersion);
  w.StringArray(users_.names());
  w.StringArray(items_.names());
  w.StringArray(side_.tag_names);
  w.U64(side_.tags.size());
  for (const auto& tags : side_.tags) w.U32Array(tags);
  std::vector<std::string> channel_names;
  for (const auto& c : channels_) channel_names.push_back(c->name());
  w.StringArray(channel_names);
  w.U32(ann() ? 1 : 0);
  w.U32(ranker_ ? 1 : 0);
  files.push_back(kModelSetFile);
  RECSERVE_RETURN_IF_ERROR(w.WriteTo(dir / files.back()));
  for (const auto& c : channels_) RECSERVE_RETURN_IF_ERROR(c->Save(dir, files));
  if (ann()) RECSERVE_RETURN_IF_ERROR(ann()->Save(dir, files));
  if (ranker_) RECSERVE_RETURN_IF_ERROR(ranker_->Save(dir, files));
  if (!seen_offsets_.empty()) {
    BinaryWriter seen("RSSEEN", kUserSeenVersion);
    seen.U64Array(seen_offsets_);
    seen.U32Array(seen_items_);
    files.push_back(kUserSeenFile);
    RECSERVE_RETURN_IF_ERROR(seen.WriteTo(dir / files.back()));
  }
  return files;
}

Result<RecommenderModel> RecommenderModel::Load(const std::filesystem::path& dir) {
  Result<ModelFiles> files = ModelFiles::ReadDirectory(dir);
  if (!files.ok()) return files.status();
  return Load(*files);
}

Result<RecommenderModel> RecommenderModel::Load(const ModelFiles& files) {
  BinaryReader r;
  RECSERVE_RETURN_IF_ERROR(r.Open(files, kModelSetFile, "RSMODELS", kModelSetVersion));
  RecommenderModel m;
  for (const std::string& u : r.StringArray()) m.users_.Intern(u);
  for (const std::string& i : r.StringArray()) m.items_.Intern(i);
  m.side_.tag_names = r.StringArray();
  uint64_t tagged = r.U64();
  if (tagged > m.items_.size()) return DataLoss("model_set.bin: more tag rows than items");
  for (uint64_t i = 0; i < tagged; ++i) m.side_.tags.push_back(r.U32Array());
  std::vector<std::string> channel_names = r.StringArray();
  bool has_ann = r.U32() != 0;
  bool has_ranker = r.U32() != 0;
  RECSERVE_RETURN_IF_ERROR(r.Finish());
  const uint32_t n = m.items_.size();
  for (const auto& tags : m.side_.tags) {
    for (uint32_t t : tags) {
      if (t >= m.side_.tag_names.size()) return DataLoss("model_set.bin: tag index out of range");
    }
  }
  // Every part is indexed by the vocabulary's item indices: a part of another size would be read
  // (or written, by a catalogue-sized Score) out of bounds, so it refuses the whole set.
  auto check_count = [&](const std::string& file, size_t count, size_t expected,
                         const char* what) -> Status {
    if (count == expected) return Status::Ok();
    return FailedPrecondition(file + " covers " + std::to_string(count) + " " + what + ", the " +
                              kModelSetFile + " vocabulary has " + std::to_string(expected));
  };
  auto check_items = [&](const std::string& file, size_t items) {
    return check_count(file, items, n, "items");
  };
  for (const std::string& name : channel_names) {
    const RecallChannelEntry* entry = FindRecallChannel(name);
    if (!entry) return DataLoss("model_set.bin names an unknown channel '" + name + "'");
    auto channel = entry->load(files);
    if (!channel.ok()) return channel.status();
    const std::string file = name + ".bin";
    RECSERVE_RETURN_IF_ERROR(check_items(file, (*channel)->num_items()));
    if (const std::optional<uint32_t> users = (*channel)->num_users()) {
      RECSERVE_RETURN_IF_ERROR(check_count(file, *users, m.users_.size(), "users"));
    }
    m.channels_.push_back(std::move(channel).value());
  }
  if (!m.FindRequiredChannels()) return DataLoss("model_set.bin lacks a required channel");
  if (has_ann) {
    auto ann = ItemAnnIndex::Load(files);
    if (!ann.ok()) return ann.status();
    RECSERVE_RETURN_IF_ERROR(check_items("ann_header.bin", (*ann)->size()));
    if ((*ann)->dim() != m.ials_->factors()) {
      return DataLoss("ann_header.bin: dimension does not match the iALS factors");
    }
    m.ials_->AttachAnn(std::move(ann).value());
  }
  if (has_ranker) {
    auto ranker = Ranker::Load(files, m.FeatureNames().size());
    if (!ranker.ok()) return ranker.status();
    m.ranker_ = std::move(ranker).value();
  }
  // Optional: bundles written before it existed serve with history-only exclusion.
  if (files.Contains(kUserSeenFile)) {
    BinaryReader seen;
    RECSERVE_RETURN_IF_ERROR(seen.Open(files, kUserSeenFile, "RSSEEN", kUserSeenVersion));
    m.seen_offsets_ = seen.U64Array();
    m.seen_items_ = seen.U32Array();
    RECSERVE_RETURN_IF_ERROR(seen.Finish());
    if (m.seen_offsets_.size() != m.users_.size() + size_t{1} || m.seen_offsets_.front() != 0 ||
        !std::is_sorted(m.seen_offsets_.begin(), m.seen_offsets_.end()) ||
        m.seen_offsets_.back() != m.seen_items_.size() ||
        std::any_of(m.seen_items_.begin(), m.seen_items_.end(),
                    [n](uint32_t i) { return i >= n; })) {
      return DataLoss(std::string(kUserSeenFile) + ": inconsistent with the vocabularies");
    }
  }
  return m;
}

}  // namespace recserve::models
