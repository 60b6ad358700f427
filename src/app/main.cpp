// recserve: one binary, subcommands for serving and for the offline pipeline.
#include <csignal>
#include <iostream>

#include "app/commands.h"
#include "observe/logging.h"

int main(int argc, char** argv) {
  using namespace recserve::app;
  CLI::App root{"recserve: a production recommendation service and its offline pipeline"};
  root.require_subcommand(1);
  root.set_version_flag("--version", std::string("recserve ") + RECSERVE_VERSION);

  std::vector<Command> commands = {
      AddServeCommand(root),        AddPipelineCommand(root), AddSyncCommand(root),
      AddEventsExportCommand(root), AddStageCommand(root),    AddEvaluateCommand(root),
      AddDatagenCommand(root),      AddVersionCommand(root),
  };
  try {
    root.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return root.exit(e);
  }
  // A peer that vanishes mid-write (redis-server killed during a sync or a cache call, a client
  // gone) must surface as an EPIPE error on that call, not kill the process: hiredis writes with
  // plain write(2), which raises SIGPIPE by default.
  std::signal(SIGPIPE, SIG_IGN);
  recserve::observe::SetUpLogging();
  for (const Command& c : commands) {
    if (c.cli->parsed()) return c.run();
  }
  std::cerr << "recserve: no subcommand given (see --help)\n";
  return 2;
}
