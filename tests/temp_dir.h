// Temporary folders for tests: made under /tmp, removed with their contents when the test program
// exits (also when a test fails), so no run leaves files behind.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace octet::testing {

// A new empty folder /tmp/<prefix>_XXXXXX.
inline std::string make_temp_dir(const std::string& prefix) {
  struct Created {
    std::vector<std::string> dirs;
    ~Created() {
      std::error_code ec;
      for (const auto& d : dirs) std::filesystem::remove_all(d, ec);
    }
  };
  static Created created;
  std::string tmpl = "/tmp/" + prefix + "_XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed for " + tmpl);
  created.dirs.push_back(tmpl);
  return tmpl;
}

}  // namespace octet::testing
