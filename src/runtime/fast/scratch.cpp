#include "runtime/fast/scratch.h"

#include <cstdlib>
#include <memory>
#include <new>

#include "ir/error.h"

namespace octet::fast {
namespace {

struct Buffer {
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  std::unique_ptr<void, Free> data;
  size_t size = 0;
};

}  // namespace

void* scratch_bytes(int slot, size_t bytes) {
  OCTET_CHECK(slot >= 0 && slot < kScratchSlots, "scratch slot ", slot);
  thread_local Buffer buffers[kScratchSlots];
  Buffer& b = buffers[slot];
  if (b.size < bytes) {
    const size_t size = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, size);
    if (!p) throw std::bad_alloc();
    b.data.reset(p);
    b.size = size;
  }
  return b.data.get();
}

}  // namespace octet::fast
