// Error types shared by every layer. Input from outside (model files, data files, CLI arguments)
// is reported with octet::Error, whose message names the file, node or tensor and the rule broken.
// Internal invariants use OCTET_CHECK, which is always on (never compiled out like assert).
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace octet {

// A problem with the user's input: a model, a data file, an argument. Never a bug in octet.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Valid input that uses a feature octet does not implement (an op variant, an element type).
// Callers that survey many models (conformance) report these as skipped rather than failed.
class Unsupported : public Error {
 public:
  explicit Unsupported(const std::string& what) : Error(what) {}
};

// A broken internal invariant: a bug in octet.
class InternalError : public std::logic_error {
 public:
  explicit InternalError(const std::string& what) : std::logic_error(what) {}
};

namespace detail {
inline void concat_into(std::ostringstream&) {}
template <class T, class... Rest>
void concat_into(std::ostringstream& os, const T& first, const Rest&... rest) {
  os << first;
  concat_into(os, rest...);
}
}  // namespace detail

// Builds a message from streamable parts: str_cat("tensor '", name, "' has rank ", r).
template <class... Parts>
std::string str_cat(const Parts&... parts) {
  std::ostringstream os;
  detail::concat_into(os, parts...);
  return os.str();
}

}  // namespace octet

#define OCTET_CHECK(cond, ...)                                                               \
  do {                                                                                       \
    if (!(cond))                                                                             \
      throw ::octet::InternalError(::octet::str_cat(__FILE__, ":", __LINE__, ": check '",    \
                                                    #cond, "' failed: ", ##__VA_ARGS__));    \
  } while (0)
