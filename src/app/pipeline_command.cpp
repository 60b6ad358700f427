#include "app/commands.h"

namespace recserve::app {

Command AddPipelineCommand(CLI::App& root) {
  Command c;
  c.cli = root.add_subcommand("pipeline", "(not available yet)");
  c.cli->allow_extras();
  c.run = [] { return NotAvailableYet("pipeline", "3"); };
  return c;
}

}  // namespace recserve::app
