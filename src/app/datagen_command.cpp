// `recserve datagen`: writes a seeded synthetic data set in the project's input format
// (docs/DATA_FORMAT.md). Flags are documented in docs/CONFIGURATION.md.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "app/commands.h"
#include "core/timestamp.h"
#include "datagen/generator.h"

namespace recserve::app {

Command AddDatagenCommand(CLI::App& root) {
  struct Flags {
    datagen::DatagenOptions options;
    std::string output;
    std::string start = "2025-01-01T00:00:00Z";
  };
  auto flags = std::make_shared<Flags>();
  Command c;
  c.cli = root.add_subcommand(
      "datagen",
      "Write a seeded synthetic data set (interactions.csv, items.csv) into a directory");
  c.cli->add_option("--output", flags->output, "Directory to write into (created when missing)")
      ->required();
  c.cli->add_option("--users", flags->options.users, "Number of users")->capture_default_str();
  c.cli->add_option("--items", flags->options.items, "Number of items")->capture_default_str();
  c.cli
      ->add_option("--interactions", flags->options.interactions,
                   "Rows in interactions.csv (bad rows included, header excluded)")
      ->capture_default_str();
  c.cli->add_option("--seed", flags->options.seed, "PRNG seed; same flags give identical files")
      ->capture_default_str();
  c.cli
      ->add_option("--bad-rows", flags->options.bad_row_fraction,
                   "Share of rows made malformed on purpose (0..0.5)")
      ->capture_default_str();
  c.cli
      ->add_option("--start", flags->start,
                   "First second of the period: unix seconds or ISO-8601 (UTC)")
      ->capture_default_str();
  c.cli->add_option("--days", flags->options.days, "Length of the period in days")
      ->capture_default_str();
  c.cli->add_flag("--gzip", flags->options.gzip, "Write interactions.csv.gz and items.csv.gz");

  c.run = [flags] {
    Result<int64_t> start = ParseTimestamp(flags->start);
    if (!start.ok()) {
      std::cerr << "recserve datagen: --start: " << start.status().message() << "\n";
      return 2;
    }
    datagen::DatagenOptions options = flags->options;
    options.output_dir = flags->output;
    options.start = *start;
    if (Status valid = datagen::ValidateOptions(options); !valid.ok()) {
      std::cerr << "recserve datagen: " << valid.message() << "\n";
      return 2;
    }
    const auto began = std::chrono::steady_clock::now();
    const auto elapsed = [&] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    };
    auto progress = [&](uint64_t rows) {
      std::fprintf(stderr, "datagen: %llu/%llu rows written (%.1f s)\n",
                   static_cast<unsigned long long>(rows),
                   static_cast<unsigned long long>(options.interactions), elapsed());
    };
    Result<datagen::DatagenReport> report = datagen::GenerateDataset(options, progress);
    if (!report.ok()) {
      std::cerr << "recserve datagen: " << report.status().ToString() << "\n";
      return 1;
    }
    std::fprintf(stderr,
                 "datagen: wrote %llu rows (%llu bad) to %s and %u items to %s in %.1f s; "
                 "period %s .. %s\n",
                 static_cast<unsigned long long>(report->rows_written),
                 static_cast<unsigned long long>(report->bad_rows),
                 report->interactions_path.c_str(), report->items_written,
                 report->items_path.c_str(), elapsed(), FormatIsoUtc(options.start).c_str(),
                 FormatIsoUtc(report->period_end).c_str());
    for (size_t k = 0; k < datagen::kBadRowKindCount; ++k) {
      const std::string_view name = datagen::BadRowKindName(static_cast<datagen::BadRowKind>(k));
      std::fprintf(stderr, "datagen: bad rows %.*s: %llu\n", static_cast<int>(name.size()),
                   name.data(), static_cast<unsigned long long>(report->bad_rows_by_kind[k]));
    }
    return 0;
  };
  return c;
}

}  // namespace recserve::app
