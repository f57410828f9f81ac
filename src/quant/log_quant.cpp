#include "quant/log_quant.h"

#include <algorithm>
#include <cmath>

namespace octet::quant {

namespace {

constexpr int32_t kMinExponent = -149;  // 2^-149: the smallest positive (subnormal) float
constexpr int32_t kMaxExponent = 127;   // 2^127: the largest power of two a float holds

void check_pow2_bits(int bits, const std::string& tensor_name) {
  if (bits < 2 || bits > 8)
    throw Error(str_cat("power-of-two quantization of tensor '", tensor_name, "': bits is ", bits,
                        ", must be in 2..8 (1 bit leaves no code for a power of two)"));
}

// Magnitudes of one group, ascending: [0, 2^emin, ..., 2^emax] (W + 1 entries). Exponents below
// kMinExponent give 0 (std::ldexp underflow), duplicating the zero entry harmlessly.
std::vector<float> magnitudes(int32_t window, int32_t emax) {
  std::vector<float> mag(static_cast<size_t>(window) + 1, 0.f);
  for (int32_t m = 1; m <= window; ++m) mag[static_cast<size_t>(m)] = std::ldexp(1.0f, emax - window + m);
  return mag;
}

// Code of x in the group's table (layout in log_quant.h): zero at index W, +-magnitude m at W +- m.
// Nearest in the linear domain, ties to the smaller magnitude (nearest_index ties low).
uint8_t encode_value(const std::vector<float>& mag, int32_t window, float x) {
  const int64_t m = nearest_index(mag.data(), static_cast<int64_t>(mag.size()), std::fabs(x));
  if (m == 0) return static_cast<uint8_t>(window);
  return static_cast<uint8_t>(x < 0 ? window - m : window + m);
}

// The group's full table of 2^bits entries, ascending.
std::vector<float> group_table(int bits, int32_t window, int32_t emax) {
  const std::vector<float> mag = magnitudes(window, emax);
  std::vector<float> table(size_t{1} << bits);
  table[static_cast<size_t>(window)] = 0.f;
  for (int32_t m = 1; m <= window; ++m) {
    const float v = mag[static_cast<size_t>(m)];
    table[static_cast<size_t>(window + m)] = v;
    table[static_cast<size_t>(window - m)] = v > 0 ? -v : 0.f;  // no -0 for underflowed entries
  }
  table.back() = mag.back();  // the spare code: a copy of the largest value, never indexed
  return table;
}

double group_sq_error(const std::vector<float>& xs, int32_t window, int32_t emax, int bits) {
  const std::vector<float> mag = magnitudes(window, emax);
  const std::vector<float> table = group_table(bits, window, emax);
  double e = 0;
  for (float x : xs) {
    const double d = static_cast<double>(x) - table[encode_value(mag, window, x)];
    e += d * d;
  }
  return e;
}

// ceil(log2 m) for a positive finite float m, exactly (frexp: m = f * 2^ex, f in [0.5, 1)).
int32_t ceil_log2(float m) {
  int ex = 0;
  const float f = std::frexp(m, &ex);
  return f == 0.5f ? ex - 1 : ex;
}

}  // namespace

Pow2Params choose_pow2_params(const Tensor& w, int bits, int64_t axis, const std::string& tensor_name) {
  check_pow2_bits(bits, tensor_name);
  check_codebook_input(w, axis, tensor_name);
  const ChannelLayout layout = channel_layout(w.shape(), axis, tensor_name);
  Pow2Params p;
  p.bits = bits;
  p.axis = axis;
  std::vector<std::vector<float>> groups(static_cast<size_t>(layout.channels));
  const float* x = w.data<float>();
  for (int64_t i = 0; i < w.numel(); ++i) groups[static_cast<size_t>(layout.group_of(i))].push_back(x[i]);
  for (const auto& xs : groups) {
    float m = 0;
    for (float v : xs) m = std::max(m, std::fabs(v));
    if (m == 0) {
      p.max_exponent.push_back(0);
      continue;
    }
    const int32_t c = std::min(ceil_log2(m), kMaxExponent);
    int32_t best = c;
    if (c - 1 >= kMinExponent &&
        group_sq_error(xs, p.window(), c - 1, bits) < group_sq_error(xs, p.window(), c, bits))
      best = c - 1;
    p.max_exponent.push_back(best);
  }
  return p;
}

Codebook pow2_codebook(const Tensor& w, const Pow2Params& params, const std::string& tensor_name) {
  check_pow2_bits(params.bits, tensor_name);
  check_codebook_input(w, params.axis, tensor_name);
  const ChannelLayout layout = channel_layout(w.shape(), params.axis, tensor_name);
  if (static_cast<int64_t>(params.max_exponent.size()) != layout.channels)
    throw Error(str_cat("power-of-two quantization of tensor '", tensor_name, "': ",
                        params.max_exponent.size(), " max exponents for ", layout.channels,
                        " group(s)"));
  for (int32_t e : params.max_exponent)
    if (e < kMinExponent || e > kMaxExponent)
      throw Error(str_cat("power-of-two quantization of tensor '", tensor_name,
                          "': max exponent ", e, " is outside [", kMinExponent, ", ", kMaxExponent,
                          "] (the powers of two a float holds)"));
  const int32_t window = params.window();
  Codebook cb;
  cb.bits = params.bits;
  cb.axis = params.axis;
  std::vector<std::vector<float>> mags;
  for (int32_t emax : params.max_exponent) {
    const std::vector<float> table = group_table(params.bits, window, emax);
    cb.centroids.insert(cb.centroids.end(), table.begin(), table.end());
    mags.push_back(magnitudes(window, emax));
  }
  cb.indices.resize(static_cast<size_t>(w.numel()));
  const float* x = w.data<float>();
  for (int64_t i = 0; i < w.numel(); ++i)
    cb.indices[static_cast<size_t>(i)] =
        encode_value(mags[static_cast<size_t>(layout.group_of(i))], window, x[i]);
  return cb;
}

Codebook pow2_codebook(const Tensor& w, int bits, int64_t axis, const std::string& tensor_name) {
  return pow2_codebook(w, choose_pow2_params(w, bits, axis, tensor_name), tensor_name);
}

}  // namespace octet::quant
