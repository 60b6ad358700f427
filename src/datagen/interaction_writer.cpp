#include "datagen/interaction_writer.h"

#include "datagen/dataset_text.h"

namespace recserve::datagen {
namespace {

constexpr uint64_t kProgressEvery = 1000000;

}  // namespace

InteractionWriter::InteractionWriter(const DatagenOptions& options, OutputFile& out,
                                     DatagenReport& report, const ProgressCallback& progress)
    : options_(options), out_(out), report_(report), progress_(progress) {
  out_.Append("user_id,item_id,timestamp,weight,event_type\n");
}

void InteractionWriter::Emit(Rng& rng, uint32_t user, uint32_t item, int64_t timestamp, int weight,
                             EventType event) {
  if (Bernoulli(rng, options_.bad_row_fraction)) {
    EmitBad(rng, user, item, timestamp, weight, event);
  } else {
    FormatRow(row_, user, item, timestamp, weight, event);
    previous_good_ = row_;
    Write(row_);
  }
}

void InteractionWriter::FormatRow(std::string& row, uint32_t user, uint32_t item, int64_t timestamp,
                                  int weight, EventType event) const {
  row.clear();
  AppendId(row, 'u', user);
  row.push_back(',');
  AppendId(row, 'i', item);
  row.push_back(',');
  AppendInt(row, timestamp);
  row.push_back(',');
  AppendInt(row, weight);
  row.push_back(',');
  row.append(kEventNames[static_cast<int>(event)]);
  row.push_back('\n');
}

void InteractionWriter::EmitBad(Rng& rng, uint32_t user, uint32_t item, int64_t timestamp,
                                int weight, EventType event) {
  auto kind = static_cast<BadRowKind>(UniformBelow(rng, kBadRowKindCount));
  if (kind == BadRowKind::kDuplicateRow && previous_good_.empty()) {
    kind = BadRowKind::kNegativeWeight;  // nothing to duplicate yet
  }
  switch (kind) {
    case BadRowKind::kMissingFields: {
      FormatRow(row_, user, item, timestamp, weight, event);
      const uint64_t variant = UniformBelow(rng, 3);
      if (variant == 0) {  // "u1,i2,1735689600": weight and event_type cut off
        size_t cut = row_.find(',', row_.find(',', row_.find(',') + 1) + 1);
        row_.resize(cut);
        row_.push_back('\n');
      } else if (variant == 1) {  // empty user_id
        row_.erase(0, row_.find(','));
      } else {  // empty item_id
        const size_t first = row_.find(',') + 1;
        row_.erase(first, row_.find(',', first) - first);
      }
      break;
    }
    case BadRowKind::kNonNumericTimestamp: {
      static constexpr std::string_view kNotTimes[] = {"yesterday", "n/a", "2025-13-45T99:00",
                                                       "17356x8960"};
      row_.clear();
      AppendId(row_, 'u', user);
      row_.push_back(',');
      AppendId(row_, 'i', item);
      row_.push_back(',');
      row_.append(kNotTimes[UniformBelow(rng, std::size(kNotTimes))]);
      row_.push_back(',');
      AppendInt(row_, weight);
      row_.push_back(',');
      row_.append(kEventNames[static_cast<int>(event)]);
      row_.push_back('\n');
      break;
    }
    case BadRowKind::kNegativeWeight:
      FormatRow(row_, user, item, timestamp, -weight, event);
      break;
    case BadRowKind::kUnknownItem:
      FormatRow(row_, user,
                options_.items + static_cast<uint32_t>(UniformBelow(rng, options_.items + 1)),
                timestamp, weight, event);
      break;
    case BadRowKind::kDuplicateRow:
      row_ = previous_good_;
      break;
    case BadRowKind::kFutureTimestamp: {
      // Ten to eleven years after the period: after its end and after any plausible "now".
      const int64_t future = report_.period_end + 3650 * kSecondsPerDay +
                             static_cast<int64_t>(UniformBelow(rng, 365 * kSecondsPerDay));
      FormatRow(row_, user, item, future, weight, event);
      break;
    }
  }
  ++report_.bad_rows;
  ++report_.bad_rows_by_kind[static_cast<size_t>(kind)];
  Write(row_);
}

void InteractionWriter::Write(const std::string& row) {
  out_.Append(row);
  ++report_.rows_written;
  if (progress_ && report_.rows_written % kProgressEvery == 0) progress_(report_.rows_written);
}

}  // namespace recserve::datagen
