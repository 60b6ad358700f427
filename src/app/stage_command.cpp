#include "app/commands.h"

namespace recserve::app {

Command AddStageCommand(CLI::App& root) {
  Command c;
  c.cli = root.add_subcommand("stage", "(not available yet)");
  c.cli->allow_extras();
  c.run = [] { return NotAvailableYet("stage", "7"); };
  return c;
}

}  // namespace recserve::app
