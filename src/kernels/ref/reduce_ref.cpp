#include "kernels/ref/reduce_ref.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

namespace octet::kernels {
namespace {

// The reduction with size-1 dims dropped and neighbouring dims of the same kind (kept/reduced)
// merged, so that the innermost loop runs over the longest contiguous stretch.
struct Canonical {
  std::vector<int64_t> dims;
  std::vector<uint8_t> reduced;
  int64_t in_n = 1;   // input elements
  int64_t out_n = 1;  // output elements
  int64_t count = 1;  // elements per output (0 when a reduced dim is 0)
};

Canonical canonicalize(const ReduceParams& p) {
  Canonical c;
  bool empty_kept = false, empty_reduced = false;
  for (size_t d = 0; d < p.dims.size(); ++d)
    if (p.dims[d] == 0) (p.reduce[d] ? empty_reduced : empty_kept) = true;
  for (size_t d = 0; d < p.dims.size(); ++d) {
    const int64_t n = p.dims[d];
    const uint8_t r = p.reduce[d] ? 1 : 0;
    if (n == 1) continue;
    // Products are bounded by the input size, or by the output size when the input is empty;
    // the caller has allocated both.
    if (r && !empty_kept && !empty_reduced) c.count *= n;
    if (!r && !empty_kept) c.out_n *= n;
    if (!c.dims.empty() && c.reduced.back() == r) c.dims.back() *= n;
    else {
      c.dims.push_back(n);
      c.reduced.push_back(r);
    }
  }
  if (empty_kept) c.out_n = 0;
  if (empty_reduced) c.count = 0;
  c.in_n = (empty_kept || empty_reduced) ? 0 : c.out_n * c.count;
  return c;
}

// Calls f(in_offset, out_offset, len, inner_reduced) for each run of `len` consecutive input
// elements along the innermost canonical dim. When inner_reduced, the whole run reduces into
// out_offset; otherwise element i of the run belongs to out_offset + i.
template <class F>
void for_each_run(const Canonical& c, F&& f) {
  if (c.in_n == 0) return;
  const size_t k = c.dims.size();
  if (k == 0) {  // a single element
    f(int64_t{0}, int64_t{0}, int64_t{1}, false);
    return;
  }
  std::vector<int64_t> out_stride(k, 0);
  for (size_t d = k, s = 1; d-- > 0;) {
    if (!c.reduced[d]) {
      out_stride[d] = static_cast<int64_t>(s);
      s *= static_cast<size_t>(c.dims[d]);
    }
  }
  const int64_t len = c.dims[k - 1];
  const bool inner_reduced = c.reduced[k - 1] != 0;
  std::vector<int64_t> idx(k, 0);
  int64_t out_off = 0;
  for (int64_t in_off = 0; in_off < c.in_n; in_off += len) {
    f(in_off, out_off, len, inner_reduced);
    for (size_t d = k - 1; d-- > 0;) {  // odometer over the outer dims
      out_off += out_stride[d];
      if (++idx[d] < c.dims[d]) break;
      out_off -= out_stride[d] * c.dims[d];
      idx[d] = 0;
    }
  }
}

// Accumulates acc[o] = add(acc[o], x, o) over the inputs of each output o, then y[o] = fin(acc[o], o).
template <class T, class Acc, class Add, class Fin>
void accumulate(const T* x, T* y, const Canonical& c, Acc init, Add add, Fin fin) {
  std::vector<Acc> acc(static_cast<size_t>(c.out_n), init);
  for_each_run(c, [&](int64_t in_off, int64_t out_off, int64_t len, bool inner_reduced) {
    const T* px = x + in_off;
    if (inner_reduced) {
      Acc a = acc[out_off];
      for (int64_t i = 0; i < len; ++i) a = add(a, px[i], out_off);
      acc[out_off] = a;
    } else {
      for (int64_t i = 0; i < len; ++i) acc[out_off + i] = add(acc[out_off + i], px[i], out_off + i);
    }
  });
  for (int64_t o = 0; o < c.out_n; ++o) y[o] = fin(acc[o], o);
}

template <class T>
bool is_nan_value(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  else return false;
}

// double -> T: a plain rounding for floats; for integers truncation toward zero, saturating,
// NaN -> 0 (C++ leaves out-of-range conversions undefined).
template <class T>
T from_double(double v) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(v);
  } else {
    if (std::isnan(v)) return T{0};
    if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
    if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  }
}

template <class T>
void reduce_max_min(const T* x, T* y, const Canonical& c, bool is_max) {
  T identity;
  if constexpr (std::is_same_v<T, bool>) identity = !is_max;
  else if constexpr (std::is_floating_point_v<T>)
    identity = is_max ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
  else identity = is_max ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
  auto fin = [](T a, int64_t) { return a; };
  // Once the accumulator is NaN no comparison is true, so it stays NaN.
  if (is_max)
    accumulate(x, y, c, identity, [](T a, T v, int64_t) { return (v > a || is_nan_value(v)) ? v : a; }, fin);
  else
    accumulate(x, y, c, identity, [](T a, T v, int64_t) { return (v < a || is_nan_value(v)) ? v : a; }, fin);
}

template <class T>
void reduce_log_sum_exp(const T* x, T* y, const Canonical& c) {
  // Pass 1: the largest finite element per output (0 if none; infinities then pass through exp).
  std::vector<double> shift(static_cast<size_t>(c.out_n), -std::numeric_limits<double>::infinity());
  for_each_run(c, [&](int64_t in_off, int64_t out_off, int64_t len, bool inner_reduced) {
    for (int64_t i = 0; i < len; ++i) {
      const double v = static_cast<double>(x[in_off + i]);
      double& m = shift[inner_reduced ? out_off : out_off + i];
      if (std::isfinite(v) && v > m) m = v;
    }
  });
  for (double& m : shift)
    if (std::isinf(m)) m = 0.0;
  // Pass 2: log(sum(exp(x - shift))) + shift; an empty sum gives log(0) = -inf.
  accumulate(
      x, y, c, 0.0,
      [&](double a, T v, int64_t o) { return a + std::exp(static_cast<double>(v) - shift[o]); },
      [&](double a, int64_t o) { return from_double<T>(std::log(a) + shift[o]); });
}

template <class T>
void reduce_float(const T* x, T* y, const Canonical& c, ReduceOp op) {
  const double n = static_cast<double>(c.count);
  auto plain = [](double a, int64_t) { return static_cast<T>(a); };
  auto add = [](double a, T v, int64_t) { return a + static_cast<double>(v); };
  auto add_sq = [](double a, T v, int64_t) { return a + static_cast<double>(v) * static_cast<double>(v); };
  switch (op) {
    case ReduceOp::Sum: return accumulate(x, y, c, 0.0, add, plain);
    case ReduceOp::Mean:  // 0 / 0 = NaN on an empty set
      return accumulate(x, y, c, 0.0, add, [n](double a, int64_t) { return static_cast<T>(a / n); });
    case ReduceOp::Prod:
      return accumulate(
          x, y, c, 1.0, [](double a, T v, int64_t) { return a * static_cast<double>(v); }, plain);
    case ReduceOp::L1:
      return accumulate(
          x, y, c, 0.0, [](double a, T v, int64_t) { return a + std::fabs(static_cast<double>(v)); },
          plain);
    case ReduceOp::L2:
      return accumulate(x, y, c, 0.0, add_sq, [](double a, int64_t) { return static_cast<T>(std::sqrt(a)); });
    case ReduceOp::SumSquare: return accumulate(x, y, c, 0.0, add_sq, plain);
    case ReduceOp::LogSum:
      return accumulate(x, y, c, 0.0, add, [](double a, int64_t) { return static_cast<T>(std::log(a)); });
    case ReduceOp::LogSumExp: return reduce_log_sum_exp(x, y, c);
    case ReduceOp::Max: return reduce_max_min(x, y, c, true);
    case ReduceOp::Min: return reduce_max_min(x, y, c, false);
  }
}

template <class T>
void reduce_integer(const T* x, T* y, const Canonical& c, ReduceOp op) {
  // 64-bit accumulator of T's signedness; additions and products wrap (done in uint64_t, where
  // overflow is defined) like numpy's fixed-width integers.
  using W = std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>;
  auto wadd = [](W a, W b) { return static_cast<W>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b)); };
  auto wmul = [](W a, W b) { return static_cast<W>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b)); };
  auto plain = [](W a, int64_t) { return static_cast<T>(a); };
  auto add = [&](W a, T v, int64_t) { return wadd(a, static_cast<W>(v)); };
  auto add_sq = [&](W a, T v, int64_t) { return wadd(a, wmul(static_cast<W>(v), static_cast<W>(v))); };
  const W n = static_cast<W>(c.count);
  switch (op) {
    case ReduceOp::Sum: return accumulate(x, y, c, W{0}, add, plain);
    case ReduceOp::Mean:
      return accumulate(x, y, c, W{0}, add,
                        [n](W a, int64_t) { return static_cast<T>(n == 0 ? W{0} : a / n); });
    case ReduceOp::Prod:
      return accumulate(x, y, c, W{1}, [&](W a, T v, int64_t) { return wmul(a, static_cast<W>(v)); }, plain);
    case ReduceOp::L1:
      return accumulate(x, y, c, W{0}, [&](W a, T v, int64_t) {
        W w = static_cast<W>(v);
        return wadd(a, w < W{0} ? static_cast<W>(uint64_t{0} - static_cast<uint64_t>(w)) : w);
      }, plain);
    case ReduceOp::L2:
      return accumulate(x, y, c, W{0}, add_sq,
                        [](W a, int64_t) { return from_double<T>(std::sqrt(static_cast<double>(a))); });
    case ReduceOp::SumSquare: return accumulate(x, y, c, W{0}, add_sq, plain);
    case ReduceOp::LogSum:
      return accumulate(x, y, c, W{0}, add,
                        [](W a, int64_t) { return from_double<T>(std::log(static_cast<double>(a))); });
    case ReduceOp::LogSumExp: return reduce_log_sum_exp(x, y, c);
    case ReduceOp::Max: return reduce_max_min(x, y, c, true);
    case ReduceOp::Min: return reduce_max_min(x, y, c, false);
  }
}

// Whether candidate v replaces the best value b so far (see ArgReduceParams).
template <class T>
bool arg_better(T v, T b, bool is_max, bool last) {
  const bool vn = is_nan_value(v), bn = is_nan_value(b);
  if (last) {
    if (vn) return true;
    if (bn) return false;
    return is_max ? v >= b : v <= b;
  }
  if (bn) return false;
  return vn || (is_max ? v > b : v < b);
}

}  // namespace

template <class T>
void reduce_ref(const T* x, T* y, const ReduceParams& p) {
  const Canonical c = canonicalize(p);
  if constexpr (std::is_same_v<T, bool>) {
    if (p.op == ReduceOp::Max) reduce_max_min(x, y, c, true);
    else if (p.op == ReduceOp::Min) reduce_max_min(x, y, c, false);
    // Other ops are not defined on bool; the caller rejects them.
  } else if constexpr (std::is_floating_point_v<T>) {
    reduce_float(x, y, c, p.op);
  } else {
    reduce_integer(x, y, c, p.op);
  }
}

template <class T>
void arg_reduce_ref(const T* x, int64_t* y, const ArgReduceParams& p) {
  for (int64_t o = 0; o < p.outer; ++o) {
    for (int64_t i = 0; i < p.inner; ++i) {
      const T* px = x + o * p.n * p.inner + i;
      int64_t best = 0;
      T bv = px[0];
      for (int64_t j = 1; j < p.n; ++j) {
        const T v = px[j * p.inner];
        if (arg_better(v, bv, p.is_max, p.select_last_index)) {
          best = j;
          bv = v;
        }
      }
      y[o * p.inner + i] = best;
    }
  }
}

#define OCTET_REDUCE_INSTANTIATE(T)                                        \
  template void reduce_ref<T>(const T*, T*, const ReduceParams&);          \
  template void arg_reduce_ref<T>(const T*, int64_t*, const ArgReduceParams&);
OCTET_REDUCE_INSTANTIATE(float)
OCTET_REDUCE_INSTANTIATE(double)
OCTET_REDUCE_INSTANTIATE(int8_t)
OCTET_REDUCE_INSTANTIATE(uint8_t)
OCTET_REDUCE_INSTANTIATE(int16_t)
OCTET_REDUCE_INSTANTIATE(uint16_t)
OCTET_REDUCE_INSTANTIATE(int32_t)
OCTET_REDUCE_INSTANTIATE(uint32_t)
OCTET_REDUCE_INSTANTIATE(int64_t)
OCTET_REDUCE_INSTANTIATE(uint64_t)
#undef OCTET_REDUCE_INSTANTIATE
template void reduce_ref<bool>(const bool*, bool*, const ReduceParams&);

int64_t minmax_finite_f32(const float* x, int64_t n, float* lo, float* hi) {
  if (n <= 0) return -1;
  float l = x[0], h = x[0];
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) return i;
    l = std::min(l, x[i]);
    h = std::max(h, x[i]);
  }
  *lo = l == 0.f ? 0.f : l;
  *hi = h == 0.f ? 0.f : h;
  return -1;
}

}  // namespace octet::kernels
