// The error handling every octet program's main() shares (see commands.h).
#include <iostream>
#include <new>

#include "ir/error.h"
#include "tools/octet/commands.h"

namespace octet::cli {

int run_command(const Command& command, const char* program) {
  try {
    return command ? command() : 2;
  } catch (const octet::Error& e) {
    std::cerr << program << ": error: " << e.what() << "\n";
    return 1;
  } catch (const octet::InternalError& e) {
    std::cerr << program << ": internal error (a bug in octet, please report): " << e.what() << "\n";
    return 3;
  } catch (const std::bad_alloc&) {
    std::cerr << program << ": error: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << program << ": internal error: " << e.what() << "\n";
    return 3;
  }
}

}  // namespace octet::cli
