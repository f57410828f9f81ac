#include "ir/file_util.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "ir/error.h"

namespace octet {

static std::string errno_text() { return std::strerror(errno); }

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_directory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

static void check_readable_file(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw Error(str_cat(path, ": cannot open: ", errno_text()));
  if (S_ISDIR(st.st_mode)) throw Error(str_cat(path, ": is a folder, expected a file"));
}

std::string read_file(const std::string& path) {
  check_readable_file(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(str_cat(path, ": cannot open: ", errno_text()));
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw Error(str_cat(path, ": read error"));
  return data;
}

std::string read_file_range(const std::string& path, uint64_t offset, uint64_t length) {
  check_readable_file(path);
  struct stat st;
  ::stat(path.c_str(), &st);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (offset > size || length > size - offset)
    throw Error(str_cat(path, ": needs bytes ", offset, "..", offset + length, " but the file has ",
                        size, " bytes"));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(str_cat(path, ": cannot open: ", errno_text()));
  in.seekg(static_cast<std::streamoff>(offset));
  std::string data(static_cast<size_t>(length), '\0');
  in.read(data.data(), static_cast<std::streamsize>(length));
  if (static_cast<uint64_t>(in.gcount()) != length) throw Error(str_cat(path, ": short read"));
  return data;
}

std::vector<std::string> list_directory(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) throw Error(str_cat(dir, ": cannot open folder: ", errno_text()));
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::string dirname_of(const std::string& path) {
  auto pos = path.find_last_of('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

std::string basename_of(const std::string& path) {
  auto pos = path.find_last_of('/');
  return pos == std::string::npos ? path : path.substr(pos + 1);
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir == ".") return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

AtomicWriter::~AtomicWriter() {
  if (!committed_)
    for (const auto& f : files_) std::remove(f.first.c_str());
}

void AtomicWriter::write(const std::string& path, const std::string& data) {
  static std::atomic<int> counter{0};
  std::string tmp = str_cat(path, ".tmp-", ::getpid(), "-", counter++);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(str_cat(path, ": cannot write: ", errno_text()));
    files_.emplace_back(tmp, path);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.flush();
    if (!out) throw Error(str_cat(path, ": write failed: ", errno_text()));
  }
}

void AtomicWriter::commit() {
  for (const auto& [tmp, final_path] : files_)
    if (std::rename(tmp.c_str(), final_path.c_str()) != 0)
      throw Error(str_cat(final_path, ": cannot rename into place: ", errno_text()));
  committed_ = true;
}

void write_file_atomic(const std::string& path, const std::string& data) {
  AtomicWriter w;
  w.write(path, data);
  w.commit();
}

}  // namespace octet
