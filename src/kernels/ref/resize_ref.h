// Reference kernels for Resize/Upsample: per-axis interpolation taps (ONNX Resize semantics,
// opsets 10..21) and their separable application.
//
// Layout: dense row-major tensors of any rank. Arithmetic: double throughout (coordinates,
// weights and accumulation); the caller converts to the output type. Taps of one output index
// are summed in ascending input-index order, axes are applied innermost first: this matches the
// order of ONNX's reference implementation, so float32 results agree to the last bit in
// practice.
#pragma once

#include <cstdint>
#include <vector>

namespace octet::kernels {

enum class ResizeMode { Nearest, Linear, Cubic };

enum class ResizeCoord {
  HalfPixel,
  HalfPixelSymmetric,
  PytorchHalfPixel,
  AlignCorners,
  Asymmetric,
  TfHalfPixelForNN,  // Resize-11 only
  TfCropAndResize,
};

enum class ResizeNearest {
  RoundPreferFloor,
  RoundPreferCeil,
  Floor,
  Ceil,
  // Resize-10 and Upsample: floor when upsampling, ceil when downsampling (onnxruntime's
  // "simple" mode, which the ONNX test data for those opsets follow).
  Legacy,
};

struct ResizeParams {
  ResizeMode mode = ResizeMode::Nearest;
  ResizeCoord coord = ResizeCoord::HalfPixel;
  ResizeNearest nearest = ResizeNearest::RoundPreferFloor;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  bool antialias = false;  // linear/cubic only: widen the filter by 1/scale when downsampling
};

struct ResizeAxis {
  int64_t in_size = 0;
  int64_t out_size = 0;
  double scale = 1.0;  // out/in as the coordinate transform sees it (the scales value, or sizes/in)
  double roi_start = 0.0, roi_end = 1.0;  // normalized crop box, TfCropAndResize only
};

// Interpolation taps along one axis. Output index x reads input indices idx[begin[x]..begin[x+1])
// with the matching weights; indices are already clamped into [0, in_size). outside[x] != 0
// marks an output index outside the crop box (TfCropAndResize), which takes the extrapolation
// value and has no taps. Nearest mode gives exactly one tap of weight 1 per inside index.
struct ResizeTaps {
  std::vector<int64_t> begin;
  std::vector<int64_t> idx;
  std::vector<double> weight;
  std::vector<uint8_t> outside;
};

ResizeTaps resize_axis_taps(const ResizeAxis& axis, const ResizeParams& p);

// True when the taps copy the axis unchanged (in == out, one unit tap at x for every x).
bool resize_taps_identity(const ResizeTaps& t, int64_t in_size);

// Applies taps[k] along axis k of `in` (shape in_dims), innermost axis first, writing `out`
// (shape: in_dims with each in_size replaced by its taps' output count). Identity axes are
// skipped. Output indices outside the crop box get `extrapolation`.
void resize_separable_ref(const double* in, const std::vector<int64_t>& in_dims,
                          const std::vector<ResizeTaps>& taps, double extrapolation, double* out);

}  // namespace octet::kernels
