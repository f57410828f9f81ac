// Per-thread scratch buffers for the fast ops (im2col columns, packed activations): grown on
// demand, kept for the thread's life, 64-byte aligned. Slot i is one independent buffer, so an op
// can hold several at once; a buffer is valid until the same thread asks for the same slot again.
#pragma once

#include <cstddef>
#include <cstdint>

namespace octet::fast {

constexpr int kScratchSlots = 6;
// The slot an op fills on the calling thread, before it hands out tasks, with a converted copy of
// its whole input that every task then reads (fast::as_u8); the tasks themselves use slots 0-3.
constexpr int kInputSlot = 4;
// The same for a buffer the op builds from that input for its tasks to read (the INT8 direct
// convolution's HWC copy, qconv.cpp), which must survive the calling thread's own tasks.
constexpr int kSharedSlot = 5;

void* scratch_bytes(int slot, size_t bytes);
inline float* scratch_floats(int slot, size_t n) { return static_cast<float*>(scratch_bytes(slot, n * sizeof(float))); }

}  // namespace octet::fast
