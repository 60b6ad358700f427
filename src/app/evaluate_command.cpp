#include "app/commands.h"

namespace recserve::app {

Command AddEvaluateCommand(CLI::App& root) {
  Command c;
  c.cli = root.add_subcommand("evaluate", "(not available yet)");
  c.cli->allow_extras();
  c.run = [] { return NotAvailableYet("evaluate", "4"); };
  return c;
}

}  // namespace recserve::app
