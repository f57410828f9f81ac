// `octet train ...` as seen from the octet program: listed in its help, run by exec'ing
// build/octet-train, the one program linked with libtorch (see commands.h for why).
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "tools/octet/commands.h"

namespace octet::cli {

void add_train_listing(CLI::App& app) {
  // Never parsed here: main() hands "train" to exec_train before parsing. Registered so that
  // `octet --help` lists it.
  app.add_subcommand("train", kTrainDescription)->allow_extras();
}

int exec_train(int argc, char** argv) {
  std::string self(4096, '\0');
  const ssize_t n = ::readlink("/proc/self/exe", self.data(), self.size() - 1);
  std::string program = "octet-train";
  if (n > 0) {
    self.resize(static_cast<size_t>(n));
    program = self.substr(0, self.rfind('/') + 1) + program;
  }
  std::vector<char*> args;
  args.push_back(program.data());
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  ::execv(program.c_str(), args.data());
  std::cerr << "octet: error: cannot run " << program << " (octet train's program, built with libtorch"
            << " next to octet): " << std::strerror(errno) << "\n";
  return 1;
}

}  // namespace octet::cli
