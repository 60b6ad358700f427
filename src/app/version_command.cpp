#include <iostream>

#include "app/commands.h"

namespace recserve::app {

Command AddVersionCommand(CLI::App& root) {
  Command c;
  c.cli = root.add_subcommand("version", "Print the version and exit");
  c.run = [] {
    std::cout << "recserve " << RECSERVE_VERSION << "\n";
    return 0;
  };
  return c;
}

int NotAvailableYet(const char* name, const char* issue) {
  std::cerr << "recserve " << name << ": not available yet (tracked in issue " << issue
            << "); see README.md for what works today\n";
  return 2;
}

}  // namespace recserve::app
