#include "app/commands.h"

namespace recserve::app {

Command AddSyncCommand(CLI::App& root) {
  Command c;
  c.cli = root.add_subcommand("sync", "(not available yet)");
  c.cli->allow_extras();
  c.run = [] { return NotAvailableYet("sync", "3"); };
  return c;
}

}  // namespace recserve::app
