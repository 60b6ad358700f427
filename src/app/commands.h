#pragma once
// One function per subcommand, each in its own file (src/app/<name>_command.cpp). Each adds its
// CLI11 subcommand with its flags to `root` and returns how to run it once parsed.

#include <CLI/CLI.hpp>

#include <functional>
#include <vector>

namespace recserve::app {

struct Command {
  CLI::App* cli = nullptr;
  std::function<int()> run;  // exit code: 0 success, 1 failure, 2 usage/not available
};

Command AddVersionCommand(CLI::App& root);
Command AddDatagenCommand(CLI::App& root);
Command AddPipelineCommand(CLI::App& root);
Command AddSyncCommand(CLI::App& root);
Command AddEventsExportCommand(CLI::App& root);
Command AddEvaluateCommand(CLI::App& root);
Command AddStageCommand(CLI::App& root);
Command AddServeCommand(CLI::App& root);

// For subcommands whose implementation has not landed yet: prints a clear message to stderr and
// returns exit code 2.
int NotAvailableYet(const char* name, const char* issue);

}  // namespace recserve::app
