#include "app/commands.h"

namespace recserve::app {

Command AddDatagenCommand(CLI::App& root) {
  Command c;
  c.cli = root.add_subcommand("datagen", "(not available yet)");
  c.cli->allow_extras();
  c.run = [] { return NotAvailableYet("datagen", "2"); };
  return c;
}

}  // namespace recserve::app
