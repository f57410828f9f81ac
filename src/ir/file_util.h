// File helpers used by every reader and writer: whole-file reads with clear errors, and atomic
// writes (temporary file in the same folder, renamed into place) so no half-written output is
// ever left behind.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace octet {

// Reads a whole file; throws Error naming the path when it is missing, a folder or unreadable.
std::string read_file(const std::string& path);
// Reads `length` bytes at `offset`; throws Error if the file is shorter.
std::string read_file_range(const std::string& path, uint64_t offset, uint64_t length);
bool file_exists(const std::string& path);
// Names in a folder (no "." or ".."), sorted; throws Error naming the folder if it cannot be read.
std::vector<std::string> list_directory(const std::string& dir);
bool is_directory(const std::string& path);
std::string dirname_of(const std::string& path);   // "." for a bare name
std::string basename_of(const std::string& path);
std::string join_path(const std::string& dir, const std::string& name);

// Collects writes to several files and makes them appear together: each file is written to a
// temporary name next to its target; commit() renames them all into place. If commit() is never
// reached (an exception), the destructor removes the temporaries.
class AtomicWriter {
 public:
  AtomicWriter() = default;
  AtomicWriter(const AtomicWriter&) = delete;
  AtomicWriter& operator=(const AtomicWriter&) = delete;
  ~AtomicWriter();
  // Writes `data` to a temporary file for `path`; throws Error naming the path on failure.
  void write(const std::string& path, const std::string& data);
  void commit();

 private:
  std::vector<std::pair<std::string, std::string>> files_;  // (temporary, final)
  bool committed_ = false;
};

// Convenience: one file, atomically.
void write_file_atomic(const std::string& path, const std::string& data);

}  // namespace octet
