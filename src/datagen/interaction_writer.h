#pragma once
// Writes interactions.csv rows (user_id,item_id,timestamp,weight,event_type) and turns a
// bad_row_fraction share of them into bad rows of the six BadRowKind kinds, counting them in the
// DatagenReport. Consumes the shared Rng stream in a fixed order, so output stays deterministic.

#include <cstdint>
#include <string>
#include <string_view>

#include "datagen/generator.h"
#include "datagen/output_file.h"
#include "datagen/samplers.h"

namespace recserve::datagen {

// The event_type column; kEventNames gives each its text, in enum order.
enum class EventType : uint8_t { kView, kClick, kPurchase, kRating };
inline constexpr std::string_view kEventNames[] = {"view", "click", "purchase", "rating"};

class InteractionWriter {
 public:
  // Writes the header line. `options`, `out`, `report` and `progress` must outlive the writer;
  // report.period_end must be set (future-timestamp bad rows are placed after it).
  InteractionWriter(const DatagenOptions& options, OutputFile& out, DatagenReport& report,
                    const ProgressCallback& progress);

  // True once options.interactions rows are written.
  bool Done() const { return report_.rows_written >= options_.interactions; }
  uint64_t rows_written() const { return report_.rows_written; }

  // Writes one row for the event, or (with probability bad_row_fraction) a bad row made from it.
  void Emit(Rng& rng, uint32_t user, uint32_t item, int64_t timestamp, int weight, EventType event);

 private:
  void FormatRow(std::string& row, uint32_t user, uint32_t item, int64_t timestamp, int weight,
                 EventType event) const;
  void EmitBad(Rng& rng, uint32_t user, uint32_t item, int64_t timestamp, int weight,
               EventType event);
  void Write(const std::string& row);

  const DatagenOptions& options_;
  OutputFile& out_;
  DatagenReport& report_;
  const ProgressCallback& progress_;
  std::string row_;
  std::string previous_good_;
};

}  // namespace recserve::datagen
