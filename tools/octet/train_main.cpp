// octet-train: the program behind `octet train` (see commands.h); run directly it takes the same
// arguments, without the word "train".
#include <CLI/CLI.hpp>

#include "tools/octet/commands.h"

int main(int argc, char** argv) {
  CLI::App app{octet::cli::kTrainDescription, "octet train"};
  octet::cli::Command command;
  octet::cli::add_train_options(app, command);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return octet::cli::run_command(command, "octet");
}
