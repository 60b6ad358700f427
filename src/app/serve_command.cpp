#include "app/commands.h"

namespace recserve::app {

Command AddServeCommand(CLI::App& root) {
  Command c;
  c.cli = root.add_subcommand("serve", "(not available yet)");
  c.cli->allow_extras();
  c.run = [] { return NotAvailableYet("serve", "5"); };
  return c;
}

}  // namespace recserve::app
