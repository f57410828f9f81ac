// quant_math: ONNX's own QuantizeLinear/DequantizeLinear node tests (the stored outputs are the
// oracle), hand-worked scales and zero points for every type and mode, rounding ties, saturation,
// per-channel and per-block indexing against an independent multi-index loop, and property checks
// on seeded random tensors.
#include "quant/quant_math.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <limits>
#include <random>
#include <tuple>
#include <vector>

#include "ir/file_util.h"
#include "onnx/model_io.h"

namespace octet::quant {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

QuantSpec make_spec(DType t, bool symmetric, bool narrow = false, bool reduce = false,
                    int64_t axis = -1, int64_t block = 0) {
  QuantSpec s;
  s.qtype = t;
  s.symmetric = symmetric;
  s.narrow_range = narrow;
  s.reduce_range = reduce;
  s.axis = axis;
  s.block_size = block;
  return s;
}

QuantParams make_params(DType t, std::vector<float> scale, std::vector<int32_t> zp,
                        int64_t axis = -1, int64_t block = 0) {
  QuantParams p;
  p.qtype = t;
  p.scale = std::move(scale);
  p.zero_point = std::move(zp);
  p.axis = axis;
  p.block_size = block;
  return p;
}

Tensor f32(Shape shape, std::vector<float> v) { return Tensor::from_vector<float>(std::move(shape), v); }

std::vector<double> values(const Tensor& t) {
  std::vector<double> out(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) out[static_cast<size_t>(i)] = t.get_as_double(i);
  return out;
}

// Bitwise float equality (NaN equal to NaN of the same bits).
bool same_bits(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

bool has_float8_or_4_name(const std::string& name) {
  for (const char* tok : {"e4m3", "e5m2", "float8", "float4", "e2m1"})
    if (name.find(tok) != std::string::npos) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// ONNX node tests

std::vector<std::string> node_test_dirs() {
  std::vector<std::string> dirs = {"/usr/share/libonnx-testdata/data/node"};
  // Newer ONNX releases (opset 21+: blocked, INT4/UINT4, INT16/UINT16 cases) where installed:
  // the onnx package in the project's venv (.venv, made by scripts/setup.sh), and any folders in
  // OCTET_ONNX_NODE_TEST_DIRS (colon-separated).
  const std::string venv_lib = OCTET_SOURCE_DIR "/.venv/lib";
  if (is_directory(venv_lib))
    for (const std::string& py : list_directory(venv_lib))
      dirs.push_back(join_path(venv_lib, py + "/site-packages/onnx/backend/test/data/node"));
  if (const char* env = std::getenv("OCTET_ONNX_NODE_TEST_DIRS")) {
    std::string s = env;
    size_t start = 0;
    while (start <= s.size()) {
      size_t end = s.find(':', start);
      if (end == std::string::npos) end = s.size();
      if (end > start) dirs.push_back(s.substr(start, end - start));
      start = end + 1;
    }
  }
  return dirs;
}

bool read_varint(const std::string& b, size_t* pos, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && *pos < b.size(); shift += 7) {
    const uint8_t c = static_cast<uint8_t>(b[(*pos)++]);
    *v |= static_cast<uint64_t>(c & 0x7f) << shift;
    if (!(c & 0x80)) return true;
  }
  return false;
}

// Newer ONNX releases store these cases at opset 24, which octet's loader refuses (it knows up to
// 21). QuantizeLinear/DequantizeLinear 23 and 24 differ from 21 only by new element types
// (FLOAT4E2M1, FLOAT8E8M0), QuantizeLinear's `precision` and DequantizeLinear's `output_dtype`
// attributes; for the integer cases that use none of them the semantics are opset 21's. This
// rewrites the default-domain opset_import versions (ModelProto field 8, OperatorSetIdProto
// field 2) of the serialized model to 21 in place: both are one-byte varints, so no length
// changes. Returns false if the bytes do not parse as expected.
bool lower_default_opset_to_21(std::string* model) {
  const std::string& b = *model;
  size_t pos = 0;
  while (pos < b.size()) {
    uint64_t key, len;
    if (!read_varint(b, &pos, &key)) return false;
    const uint64_t field = key >> 3, wire = key & 7;
    if (wire == 0) {
      if (!read_varint(b, &pos, &len)) return false;
      continue;
    }
    if (wire == 1 || wire == 5) {
      pos += wire == 1 ? 8 : 4;
      continue;
    }
    if (wire != 2 || !read_varint(b, &pos, &len) || len > b.size() - pos) return false;
    const size_t end = pos + static_cast<size_t>(len);
    if (field == 8) {  // OperatorSetIdProto { 1: domain, 2: version }
      std::string domain;
      size_t version_at = std::string::npos;
      uint64_t version = 0;
      for (size_t q = pos; q < end;) {
        uint64_t k, v;
        if (!read_varint(b, &q, &k)) return false;
        if ((k >> 3) == 1 && (k & 7) == 2) {
          if (!read_varint(b, &q, &v) || v > end - q) return false;
          domain = b.substr(q, static_cast<size_t>(v));
          q += static_cast<size_t>(v);
        } else if ((k >> 3) == 2 && (k & 7) == 0) {
          version_at = q;
          if (!read_varint(b, &q, &version)) return false;
        } else {
          return false;
        }
      }
      if ((domain.empty() || domain == "ai.onnx") && version_at != std::string::npos &&
          version > 21 && version < 128)
        (*model)[version_at] = static_cast<char>(21);
    }
    pos = end;
  }
  return true;
}

Model load_node_test_model(const std::string& dir) {
  const std::string path = join_path(dir, "model.onnx");
  try {
    return load_model(path);
  } catch (const Error& e) {
    if (std::string(e.what()).find("newer than octet supports") == std::string::npos) throw;
  }
  std::string bytes = read_file(path);
  if (!lower_default_opset_to_21(&bytes)) throw Error(path + ": could not rewrite its opset");
  Model m = load_model_from_bytes(bytes, path, dir);
  for (const auto& n : m.graph.nodes)
    if (n->has_attr("precision") || (n->op_type == "DequantizeLinear" && n->has_attr("output_dtype")))
      throw Error(path + ": uses an attribute added after opset 21");
  return m;
}

bool in_my_set(DType t) {
  return t == DType::Int8 || t == DType::UInt8 || t == DType::Int16 || t == DType::UInt16 ||
         t == DType::Int4 || t == DType::UInt4;
}

// Runs one case; returns "" when it ran and matched, "SKIP: why" when outside quant_math's types,
// else the failure.
std::string run_node_case(const std::string& dir, bool* ran) {
  *ran = false;
  const Model m = load_node_test_model(dir);
  if (m.graph.nodes.size() != 1) return str_cat("expected one node, got ", m.graph.nodes.size());
  const Node& node = *m.graph.nodes[0];
  const bool is_q = node.op_type == "QuantizeLinear";
  if (!is_q && node.op_type != "DequantizeLinear") return "unexpected op " + node.op_type;
  const std::string set = join_path(dir, "test_data_set_0");
  const Tensor x = load_tensor_pb(join_path(set, "input_0.pb"));
  const Tensor scale = load_tensor_pb(join_path(set, "input_1.pb"));
  Tensor zp;
  if (node.inputs.size() > 2 && !node.inputs[2].empty()) zp = load_tensor_pb(join_path(set, "input_2.pb"));
  const Tensor want = load_tensor_pb(join_path(set, "output_0.pb"));

  DType qtype;
  if (is_q) {
    const int64_t out_attr = node.attr_int("output_dtype", 0);
    qtype = zp.defined() ? zp.dtype() : (out_attr ? static_cast<DType>(out_attr) : DType::UInt8);
  } else {
    qtype = x.dtype();
  }
  if (!in_my_set(qtype)) return "SKIP: quantized type " + dtype_name(qtype);
  if (scale.dtype() != DType::Float32) return "SKIP: scale type " + dtype_name(scale.dtype());
  if (is_q && x.dtype() != DType::Float32) return "SKIP: x type " + dtype_name(x.dtype());
  (void)node.attr_int("saturate", 1);  // only meaningful for FP8 targets

  QuantParams p;
  p.qtype = qtype;
  p.block_size = node.attr_int("block_size", 0);
  for (int64_t i = 0; i < scale.numel(); ++i) p.scale.push_back(scale.data<float>()[i]);
  for (int64_t i = 0; i < scale.numel(); ++i)
    p.zero_point.push_back(zp.defined() ? static_cast<int32_t>(zp.get_as_double(i)) : 0);
  int64_t axis = node.attr_int("axis", 1);
  if (axis < 0) axis += static_cast<int64_t>(x.rank());
  p.axis = (scale.numel() == 1 && p.block_size == 0) ? -1 : axis;

  // The export shape must be the scale's ONNX shape (per tensor: any one-element shape).
  const Shape ss = scale_shape(x.shape(), p);
  if (scale.numel() == 1 ? shape_numel(ss) != 1 : ss != scale.shape())
    return str_cat("scale_shape ", shape_str(ss), " vs ONNX scale ", shape_str(scale.shape()));

  const Tensor got = is_q ? quantize(x, p) : dequantize(x, p);
  if (got.dtype() != want.dtype() || got.shape() != want.shape())
    return str_cat("got ", dtype_name(got.dtype()), shape_str(got.shape()), ", want ",
                   dtype_name(want.dtype()), shape_str(want.shape()));
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double g = got.get_as_double(i), w = want.get_as_double(i);
    if (!(g == w || (std::isnan(g) && std::isnan(w))))
      return str_cat("element ", i, ": got ", g, ", want ", w);
  }
  *ran = true;
  return "";
}

TEST(QuantMathOnnx, MatchesOnnxNodeTestsExactly) {
  int ran = 0, skipped = 0, folders = 0;
  for (const std::string& root : node_test_dirs()) {
    if (!is_directory(root)) continue;
    ++folders;
    for (const std::string& name : list_directory(root)) {
      if (name.rfind("test_quantizelinear", 0) != 0 && name.rfind("test_dequantizelinear", 0) != 0)
        continue;
      bool case_ran = false;
      std::string result;
      try {
        result = run_node_case(join_path(root, name), &case_ran);
      } catch (const std::exception& e) {
        result = std::string("threw: ") + e.what();
      }
      if (case_ran) {
        ++ran;
        continue;
      }
      // Only FP8/FP4 cases may be skipped; everything else must load and run.
      if (has_float8_or_4_name(name)) {
        ++skipped;
        std::cout << "[ skipped  ] " << root << "/" << name << ": " << result << "\n";
        continue;
      }
      ADD_FAILURE() << root << "/" << name << ": " << result;
    }
  }
  if (folders == 0) GTEST_SKIP() << "no ONNX node test data installed";
  std::cout << "ONNX node tests: " << ran << " ran and matched, " << skipped << " skipped, from "
            << folders << " folder(s)\n";
  // Debian's libonnx-testdata alone has 4 cases (quantize/dequantize, per tensor and per axis).
  EXPECT_GE(ran, 4);
}

// ---------------------------------------------------------------------------------------------
// Ranges and parameters, worked by hand

TEST(QuantMath, IntRangePerTypeAndMode) {
  auto r = [](DType t, bool narrow, bool reduce) {
    const IntRange x = int_range(make_spec(t, true, narrow, reduce));
    return std::vector<int32_t>{x.qmin, x.qmax};
  };
  using V = std::vector<int32_t>;
  EXPECT_EQ(r(DType::Int8, false, false), (V{-128, 127}));
  EXPECT_EQ(r(DType::Int8, true, false), (V{-127, 127}));
  EXPECT_EQ(r(DType::Int8, false, true), (V{-64, 64}));
  EXPECT_EQ(r(DType::Int8, true, true), (V{-64, 64}));
  EXPECT_EQ(r(DType::UInt8, false, false), (V{0, 255}));
  EXPECT_EQ(r(DType::UInt8, true, false), (V{0, 254}));
  EXPECT_EQ(r(DType::UInt8, false, true), (V{0, 127}));
  EXPECT_EQ(r(DType::UInt8, true, true), (V{0, 126}));
  EXPECT_EQ(r(DType::Int16, false, false), (V{-32768, 32767}));
  EXPECT_EQ(r(DType::Int16, true, false), (V{-32767, 32767}));
  EXPECT_EQ(r(DType::Int16, false, true), (V{-16384, 16384}));
  EXPECT_EQ(r(DType::UInt16, false, false), (V{0, 65535}));
  EXPECT_EQ(r(DType::UInt16, true, false), (V{0, 65534}));
  EXPECT_EQ(r(DType::Int4, false, false), (V{-8, 7}));
  EXPECT_EQ(r(DType::Int4, true, false), (V{-7, 7}));
  EXPECT_EQ(r(DType::Int4, false, true), (V{-4, 4}));
  EXPECT_EQ(r(DType::UInt4, false, false), (V{0, 15}));
  EXPECT_EQ(r(DType::UInt4, true, false), (V{0, 14}));
  EXPECT_EQ(r(DType::UInt4, false, true), (V{0, 7}));

  EXPECT_EQ(symmetric_zero_point(make_spec(DType::UInt8, true)), 128);
  EXPECT_EQ(symmetric_zero_point(make_spec(DType::UInt8, true, true)), 127);
  EXPECT_EQ(symmetric_zero_point(make_spec(DType::UInt8, true, false, true)), 64);
  EXPECT_EQ(symmetric_zero_point(make_spec(DType::UInt4, true)), 8);
  EXPECT_EQ(symmetric_zero_point(make_spec(DType::Int8, true)), 0);

  for (DType bad : {DType::Float32, DType::Int32, DType::Float8E4M3FN, DType::Bool}) {
    EXPECT_THROW(int_range(make_spec(bad, true)), Error) << dtype_name(bad);
    EXPECT_THROW(type_range(bad), Error) << dtype_name(bad);
    EXPECT_THROW(params_from_range(-1, 1, make_spec(bad, true), "t"), Error) << dtype_name(bad);
  }
}

struct RangeCase {
  const char* label;
  QuantSpec spec;
  float lo, hi;
  float scale;
  int32_t zp;
};

TEST(QuantMath, ParamsFromRangeHandWorked) {
  const std::vector<RangeCase> cases = {
      // symmetric: a = max(|lo|,|hi|), scale = a / min(qmax - zp, zp - qmin)
      {"int8 sym", make_spec(DType::Int8, true), -0.5f, 2.54f, 0.02f, 0},
      {"int8 sym narrow", make_spec(DType::Int8, true, true), -2.54f, 0.5f, 0.02f, 0},
      {"int8 sym reduce [-64,64]", make_spec(DType::Int8, true, false, true), -3.2f, 1.f, 0.05f, 0},
      {"uint8 sym zp 128", make_spec(DType::UInt8, true), -1.f, 2.54f, 0.02f, 128},
      {"uint8 sym narrow zp 127", make_spec(DType::UInt8, true, true), -2.54f, 1.f, 0.02f, 127},
      {"uint8 sym reduce zp 64", make_spec(DType::UInt8, true, false, true), -6.3f, 0.f, 0.1f, 64},
      {"int4 sym", make_spec(DType::Int4, true), -0.7f, 0.3f, 0.1f, 0},
      {"int4 sym narrow", make_spec(DType::Int4, true, true), -0.7f, 0.3f, 0.1f, 0},
      {"int16 sym", make_spec(DType::Int16, true), -1.f, 3.2767f, 1e-4f, 0},
      // asymmetric: scale = (hi - lo) / (qmax - qmin), zp = round(qmin - lo / scale)
      {"uint8 asym", make_spec(DType::UInt8, false), -1.f, 1.55f, 0.01f, 100},
      {"uint8 asym widened to 0", make_spec(DType::UInt8, false), 0.5f, 2.55f, 0.01f, 0},
      {"int8 asym", make_spec(DType::Int8, false), -1.f, 1.55f, 0.01f, -28},
      {"int8 asym all negative", make_spec(DType::Int8, false), -2.55f, -0.5f, 0.01f, 127},
      {"int8 asym narrow", make_spec(DType::Int8, false, true), -1.f, 1.54f, 0.01f, -27},
      {"uint8 asym reduce [0,127]", make_spec(DType::UInt8, false, false, true), -1.f, 0.27f, 0.01f, 100},
      {"int8 asym reduce [-64,64]", make_spec(DType::Int8, false, false, true), -0.64f, 0.64f, 0.01f, 0},
      {"uint4 asym", make_spec(DType::UInt4, false), -0.5f, 1.f, 0.1f, 5},
      {"uint16 asym", make_spec(DType::UInt16, false), -1.f, 5.5535f, 1e-4f, 10000},
      // zero point ties (exact in float): 0.625 / 0.25 = 2.5 -> 2, 0.875 / 0.25 = 3.5 -> 4
      {"uint4 zp tie down", make_spec(DType::UInt4, false), -0.625f, 3.125f, 0.25f, 2},
      {"uint4 zp tie up", make_spec(DType::UInt4, false), -0.875f, 2.875f, 0.25f, 4},
  };
  for (const RangeCase& c : cases) {
    bool degenerate = true;
    const QuantParams p = params_from_range(c.lo, c.hi, c.spec, c.label, &degenerate);
    ASSERT_EQ(p.scale.size(), 1u) << c.label;
    EXPECT_FLOAT_EQ(p.scale[0], c.scale) << c.label;
    EXPECT_EQ(p.zero_point[0], c.zp) << c.label;
    EXPECT_FALSE(degenerate) << c.label;
    EXPECT_EQ(p.qtype, c.spec.qtype);
    EXPECT_TRUE(p.per_tensor());
  }
  const QuantParams p = params_from_range(-1.f, 1.f, make_spec(DType::UInt4, true), "u4");
  EXPECT_FLOAT_EQ(p.scale[0], 1.f / 7.f);  // zp 8: min(15 - 8, 8 - 0) = 7 steps
  EXPECT_EQ(p.zero_point[0], 8);
}

TEST(QuantMath, ZeroRangeIsDegenerateButValid) {
  struct Z { QuantSpec spec; int32_t zp; };
  for (const Z& z : {Z{make_spec(DType::Int8, true), 0}, Z{make_spec(DType::UInt8, true), 128},
                     Z{make_spec(DType::UInt8, true, true), 127}, Z{make_spec(DType::UInt8, false), 0},
                     Z{make_spec(DType::Int8, false), 0}, Z{make_spec(DType::Int4, false), 0}}) {
    bool degenerate = false;
    const QuantParams p = params_from_range(0.f, 0.f, z.spec, "zeros", &degenerate);
    EXPECT_TRUE(degenerate) << dtype_name(z.spec.qtype);
    EXPECT_EQ(p.scale[0], 1.f);
    EXPECT_EQ(p.zero_point[0], z.zp) << dtype_name(z.spec.qtype);
    // All-zero data quantize to the zero point and come back as exactly 0.
    const Tensor x = f32({3}, {0.f, -0.f, 0.f});
    EXPECT_EQ(values(quantize(x, p)), (std::vector<double>(3, z.zp)));
    EXPECT_EQ(values(fake_quant(x, p)), (std::vector<double>(3, 0.0)));
  }
  std::vector<int64_t> deg;
  const QuantParams pc = params_from_ranges({-1.f, 0.f, 0.f}, {1.f, 0.f, 2.f},
                                            make_spec(DType::Int8, true, false, false, 0), "ch", &deg);
  EXPECT_EQ(deg, (std::vector<int64_t>{1}));
  EXPECT_EQ(pc.scale[1], 1.f);
}

TEST(QuantMath, NonFiniteOrInvertedRangeThrowsNamingTheTensor) {
  const QuantSpec s = make_spec(DType::Int8, true);
  for (auto [lo, hi] : {std::pair<float, float>{kNaN, 1.f}, {-1.f, kNaN}, {-kInf, 1.f}, {0.f, kInf}, {2.f, 1.f}}) {
    try {
      params_from_range(lo, hi, s, "conv3.output");
      ADD_FAILURE() << "no error for [" << lo << ", " << hi << "]";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("conv3.output"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(params_from_ranges({0.f, kNaN}, {1.f, 1.f}, make_spec(DType::Int8, true, false, false, 0), "w"), Error);
  EXPECT_THROW(params_from_ranges({0.f}, {1.f, 1.f}, make_spec(DType::Int8, true, false, false, 0), "w"), Error);
  EXPECT_THROW(params_from_ranges({0.f, 0.f}, {1.f, 1.f}, s, "per-tensor spec, 2 ranges"), Error);
  EXPECT_THROW(params_from_range(-1, 1, make_spec(DType::Int8, true, false, false, -1, 4), "blocked no axis"), Error);
}

TEST(QuantMath, TinyRangeNeverGivesASubnormalScale) {
  for (const QuantSpec& s : {make_spec(DType::Int8, true), make_spec(DType::UInt8, false),
                             make_spec(DType::Int16, false), make_spec(DType::UInt4, true)}) {
    for (auto [lo, hi] : {std::pair<float, float>{-1e-40f, 1e-40f}, {0.f, 1e-38f}, {-1e-45f, 0.f},
                          {-FLT_MIN, FLT_MIN}}) {
      bool degenerate = true;
      const QuantParams p = params_from_range(lo, hi, s, "tiny", &degenerate);
      EXPECT_EQ(p.scale[0], FLT_MIN) << lo << " " << hi;
      EXPECT_TRUE(std::isnormal(p.scale[0]));
      EXPECT_FALSE(degenerate);
      const IntRange r = int_range(s);
      EXPECT_GE(p.zero_point[0], r.qmin);
      EXPECT_LE(p.zero_point[0], r.qmax);
    }
  }
  // The largest finite range still gives a finite scale.
  const QuantParams big = params_from_range(-FLT_MAX, FLT_MAX, make_spec(DType::UInt4, false), "huge");
  EXPECT_TRUE(std::isfinite(big.scale[0]));
  EXPECT_FLOAT_EQ(big.scale[0], static_cast<float>(2.0 * FLT_MAX / 15));
}

// ---------------------------------------------------------------------------------------------
// Quantize / dequantize / fake quant, worked by hand

TEST(QuantMath, RoundsTiesToEvenAndSaturates) {
  const QuantParams p = make_params(DType::Int8, {1.f}, {0});
  const Tensor x = f32({11}, {2.5f, 3.5f, -2.5f, -3.5f, 0.5f, -0.5f, 1.5f, 200.f, -200.f, 127.5f, -128.5f});
  const Tensor q = quantize(x, p);
  EXPECT_EQ(q.dtype(), DType::Int8);
  EXPECT_EQ(values(q), (std::vector<double>{2, 4, -2, -4, 0, 0, 2, 127, -128, 127, -128}));
  EXPECT_EQ(values(dequantize(q, p)), (std::vector<double>{2, 4, -2, -4, 0, 0, 2, 127, -128, 127, -128}));
  // The clamp overload keeps a narrow range for values beyond the calibrated one.
  EXPECT_EQ(values(quantize(f32({2}, {-200.f, 200.f}), p, IntRange{-127, 127})), (std::vector<double>{-127, 127}));
  EXPECT_THROW(quantize(x, p, IntRange{-129, 127}), Error);
  EXPECT_THROW(quantize(x, p, IntRange{5, 4}), Error);

  // Division happens before the zero point: 5 / 2 = 2.5 -> 2, then + 10; saturation at 0 and 255.
  const QuantParams pu = make_params(DType::UInt8, {2.f}, {10});
  EXPECT_EQ(values(quantize(f32({5}, {5.f, 7.f, -100.f, 1000.f, -21.f}), pu)),
            (std::vector<double>{12, 14, 0, 255, 0}));
  // -21 / 2 = -10.5 -> -10 (even) + 10 = 0.

  const QuantParams p4 = make_params(DType::Int4, {0.5f}, {0});
  const Tensor q4 = quantize(f32({4}, {4.5f, -5.f, 1.25f, -1.25f}), p4);
  EXPECT_EQ(q4.dtype(), DType::Int4);
  EXPECT_EQ(values(q4), (std::vector<double>{7, -8, 2, -2}));  // 2.5 -> 2, -2.5 -> -2
  EXPECT_EQ(values(dequantize(q4, p4)), (std::vector<double>{3.5, -4, 1, -1}));
  const QuantParams pu4 = make_params(DType::UInt4, {1.f}, {3});
  EXPECT_EQ(values(quantize(f32({3}, {20.f, -20.f, 1.5f}), pu4)), (std::vector<double>{15, 0, 5}));
  const QuantParams p16 = make_params(DType::UInt16, {0.5f}, {30000});
  EXPECT_EQ(values(quantize(f32({3}, {1e6f, -1e6f, 1.25f}), p16)), (std::vector<double>{65535, 0, 30002}));

  // The raw per-tensor fake quant: 2.5 -> 2, saturation to the given [qmin, qmax].
  std::vector<float> xs = {2.5f, 3.5f, -2.5f, 300.f, -300.f}, ys(5);
  fake_quant(xs.data(), ys.data(), 5, 1.f, 0, -127, 127);
  EXPECT_EQ(ys, (std::vector<float>{2, 4, -2, 127, -127}));
  EXPECT_THROW(fake_quant(xs.data(), ys.data(), 5, 0.f, 0, -127, 127), Error);
  EXPECT_THROW(fake_quant(xs.data(), ys.data(), 5, kNaN, 0, -127, 127), Error);
}

TEST(QuantMath, RejectsBadParameters) {
  const Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_THROW(quantize(x, make_params(DType::Int8, {0.f}, {0})), Error);
  EXPECT_THROW(quantize(x, make_params(DType::Int8, {-1.f}, {0})), Error);
  EXPECT_THROW(quantize(x, make_params(DType::Int8, {kInf}, {0})), Error);
  EXPECT_THROW(quantize(x, make_params(DType::Int8, {1.f}, {})), Error);
  EXPECT_THROW(quantize(x, make_params(DType::Int8, {1.f}, {200})), Error);
  EXPECT_THROW(quantize(x, make_params(DType::Int32, {1.f}, {0})), Error);
  EXPECT_THROW(quantize(x, make_params(DType::Int8, {1.f, 1.f}, {0, 0}, 1)), Error);  // 3 channels
  EXPECT_THROW(quantize(x, make_params(DType::Int8, {1.f, 1.f}, {0, 0}, -1)), Error);  // no axis
  EXPECT_THROW(quantize(x, make_params(DType::Int8, {1.f, 1.f}, {0, 0}, 2)), Error);   // rank 2
  EXPECT_THROW(quantize(x, make_params(DType::Int8, {1, 1, 1}, {0, 0, 0}, 1, 2)), Error);  // want 4
  EXPECT_THROW(quantize(x.cast(DType::Float64), make_params(DType::Int8, {1.f}, {0})), Error);
  const Tensor q = quantize(x, make_params(DType::Int8, {1.f}, {0}));
  EXPECT_THROW(dequantize(q, make_params(DType::UInt8, {1.f}, {0})), Error);
}

// A 4-D weight [2, 3, 2, 2]: per channel on axis 0 and on axis 1. Scales by hand, and quantize
// checked against a multi-index loop and std::nearbyint (round half to even in the default mode).
TEST(QuantMath, PerChannelOnAxis0And1Of4DWeight) {
  std::vector<float> v(24);
  for (int o = 0; o < 2; ++o)
    for (int c = 0; c < 3; ++c)
      for (int k = 0; k < 4; ++k)
        v[static_cast<size_t>((o * 3 + c) * 4 + k)] =
            (o == 0 ? 1.f : -2.f) * static_cast<float>(c + 1) * 0.127f * static_cast<float>(k + 1) *
            (k % 2 ? -1.f : 1.f);
  const Tensor w = f32({2, 3, 2, 2}, v);
  // axis 0: max|w| = 3 * 0.508 = 1.524 and 3.048 -> scales 0.012, 0.024
  const QuantParams p0 = weight_params(w, make_spec(DType::Int8, true, false, false, 0), "w");
  ASSERT_EQ(p0.scale.size(), 2u);
  EXPECT_FLOAT_EQ(p0.scale[0], 0.012f);
  EXPECT_FLOAT_EQ(p0.scale[1], 0.024f);
  EXPECT_EQ(p0.axis, 0);
  EXPECT_EQ(scale_shape(w.shape(), p0), (Shape{2}));
  // axis 1: max over o of 2 * (c + 1) * 0.508 -> 1.016, 2.032, 3.048 over 127
  const QuantParams p1 = weight_params(w, make_spec(DType::Int8, true, false, false, 1), "w");
  ASSERT_EQ(p1.scale.size(), 3u);
  EXPECT_FLOAT_EQ(p1.scale[0], 0.008f);
  EXPECT_FLOAT_EQ(p1.scale[1], 0.016f);
  EXPECT_FLOAT_EQ(p1.scale[2], 0.024f);
  EXPECT_EQ(scale_shape(w.shape(), p1), (Shape{3}));
  for (const QuantParams* p : {&p0, &p1}) {
    const Tensor q = quantize(w, *p);
    const Tensor fq = fake_quant(w, *p);
    for (int o = 0; o < 2; ++o)
      for (int c = 0; c < 3; ++c)
        for (int k = 0; k < 4; ++k) {
          const size_t i = static_cast<size_t>((o * 3 + c) * 4 + k);
          const float s = p->scale[static_cast<size_t>(p->axis == 0 ? o : c)];
          const float want = std::fmin(127.f, std::fmax(-128.f, std::nearbyint(v[i] / s)));
          EXPECT_EQ(q.data<int8_t>()[i], static_cast<int8_t>(want)) << "axis " << p->axis << " i " << i;
          EXPECT_EQ(fq.data<float>()[i], want * s);
        }
  }
}

// Blocked on axis 1 of [2, 5] with block 2: blocks {0,1}, {2,3}, {4} (ragged); scale shape [2, 3].
TEST(QuantMath, PerBlockWithRaggedLastBlock) {
  const Tensor w = f32({2, 5}, {31.75f, -1.1f, 63.5f, 10.3f, -127.f,  //
                                0.f, 0.f, 0.3f, -12.7f, 0.7f});
  std::vector<int64_t> deg;
  const QuantParams p = weight_params(w, make_spec(DType::Int8, true, false, false, 1, 2), "fc.w", &deg);
  ASSERT_EQ(p.scale.size(), 6u);
  EXPECT_EQ(p.scale[0], 0.25f);  // 31.75 / 127
  EXPECT_EQ(p.scale[1], 0.5f);   // 63.5 / 127
  EXPECT_EQ(p.scale[2], 1.f);    // 127 / 127
  EXPECT_EQ(p.scale[3], 1.f);    // all-zero block: degenerate
  EXPECT_FLOAT_EQ(p.scale[4], 0.1f);
  EXPECT_FLOAT_EQ(p.scale[5], 0.7f / 127);
  EXPECT_EQ(deg, (std::vector<int64_t>{3}));
  EXPECT_EQ(p.block_size, 2);
  EXPECT_EQ(p.axis, 1);
  EXPECT_EQ(scale_shape(w.shape(), p), (Shape{2, 3}));
  const Tensor q = quantize(w, p);
  EXPECT_EQ(values(q), (std::vector<double>{127, -4, 127, 21, -127, 0, 0, 3, -127, 127}));
  const Tensor d = dequantize(q, p);
  for (int i : {0, 1, 2, 3, 4}) EXPECT_EQ(d.data<float>()[i], (std::vector<float>{31.75f, -1.f, 63.5f, 10.5f, -127.f})[i]);

  // Blocked on a middle axis, [3, 4, 2] axis 1 block 3 -> scale [3, 2, 2], element (o, a, i) uses
  // scale (o, a / 3, i): checked against that formula written out here.
  const QuantParams pb = make_params(DType::UInt8,
                                     {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f, 0.9f, 1.f, 1.1f, 1.2f},
                                     {0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110}, 1, 3);
  EXPECT_EQ(scale_shape({3, 4, 2}, pb), (Shape{3, 2, 2}));
  std::vector<float> xv(24);
  for (size_t i = 0; i < xv.size(); ++i) xv[i] = static_cast<float>(i) * 0.37f - 3.f;
  const Tensor qb = quantize(f32({3, 4, 2}, xv), pb);
  for (int o = 0; o < 3; ++o)
    for (int a = 0; a < 4; ++a)
      for (int i = 0; i < 2; ++i) {
        const size_t e = static_cast<size_t>((o * 4 + a) * 2 + i);
        const size_t k = static_cast<size_t>((o * 2 + a / 3) * 2 + i);
        const float want = std::fmin(255.f, std::fmax(0.f, std::nearbyint(xv[e] / pb.scale[k]) + pb.zero_point[k]));
        EXPECT_EQ(qb.data<uint8_t>()[e], static_cast<uint8_t>(want)) << "element " << e;
      }
}

TEST(QuantMath, WeightErrorsNameTheTensorAndIndex) {
  Tensor w = f32({2, 3}, {1, 2, 3, 4, 5, kNaN});
  for (bool mse : {false, true}) {
    try {
      const QuantSpec s = make_spec(DType::Int8, true, false, false, 0);
      mse ? weight_params_mse(w, s, "layer1.weight") : weight_params(w, s, "layer1.weight");
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("layer1.weight"), std::string::npos) << m;
      EXPECT_NE(m.find("element 5"), std::string::npos) << m;
      EXPECT_NE(m.find("[1,2]"), std::string::npos) << m;
    }
  }
  w.data<float>()[5] = -kInf;
  EXPECT_THROW(weight_params(w, make_spec(DType::Int8, true), "w"), Error);
  const Tensor ok = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_THROW(weight_params(ok, make_spec(DType::Int8, true, false, false, 2), "w"), Error);
  EXPECT_THROW(weight_params(ok.cast(DType::Float64), make_spec(DType::Int8, true), "w"), Error);
  EXPECT_THROW(weight_params(Tensor(DType::Float32, {0, 3}), make_spec(DType::Int8, true), "w"), Error);
}

TEST(QuantMath, MseClipsAnOutlierAndKeepsAnAllZeroChannel) {
  // 1000 values spread over [-1, 1] plus one outlier at 3: with int4 narrow (7 steps a side) the
  // max range gives a step of 3/7 and an error of ~1000 * step^2 / 12 = 15.3; clipping at 1 costs
  // ~1000 * (1/7)^2 / 12 + (3 - 1)^2 = 5.7, so the search must win by far.
  std::vector<float> v(1001);
  for (int i = 0; i < 1000; ++i) v[static_cast<size_t>(i)] = -1.f + 2.f * static_cast<float>(i) / 999.f;
  v[1000] = 3.f;
  const Tensor w = f32({1001}, v);
  const QuantSpec s = make_spec(DType::Int4, true, true);
  const QuantParams pmax = weight_params(w, s, "w"), pmse = weight_params_mse(w, s, "w");
  EXPECT_FLOAT_EQ(pmax.scale[0], 3.f / 7);
  EXPECT_LT(pmse.scale[0], pmax.scale[0]);
  auto err = [&](const QuantParams& p) {
    const Tensor fq = fake_quant(w, p, int_range(s));
    double e = 0;
    for (size_t i = 0; i < v.size(); ++i) e += std::pow(fq.data<float>()[i] - static_cast<double>(v[i]), 2);
    return e;
  };
  EXPECT_LT(err(pmse), 0.5 * err(pmax));
  // The clipped outlier saturates at the narrow range's +7, never beyond.
  EXPECT_EQ(quantize(w, pmse, int_range(s)).data<int8_t>()[1000], 7);

  std::vector<int64_t> deg;
  const Tensor w2 = f32({2, 2}, {0.f, 0.f, 1.f, -2.f});
  const QuantParams p2 = weight_params_mse(w2, make_spec(DType::Int8, true, false, false, 0), "w2", &deg);
  EXPECT_EQ(deg, (std::vector<int64_t>{0}));
  EXPECT_EQ(p2.scale[0], 1.f);
}

TEST(QuantMath, SqnrAndErrorInSteps) {
  const Tensor r = f32({4}, {1, 2, 3, 4});
  const Tensor t = f32({4}, {1.1f, 1.9f, 3.1f, 3.9f});
  // signal 30, noise ~0.04 (with float rounding of the test values)
  double noise = 0;
  for (int i = 0; i < 4; ++i) noise += std::pow(static_cast<double>(r.data<float>()[i]) - t.data<float>()[i], 2);
  EXPECT_NEAR(sqnr_db(r, t), 10 * std::log10(30 / 0.04), 1e-4);
  EXPECT_DOUBLE_EQ(sqnr_db(r, t), 10 * std::log10(30 / noise));
  EXPECT_EQ(sqnr_db(r, r), std::numeric_limits<double>::infinity());
  EXPECT_EQ(sqnr_db(f32({2}, {0, 0}), f32({2}, {0, 1})), -std::numeric_limits<double>::infinity());
  EXPECT_THROW(sqnr_db(r, f32({2, 2}, {1, 2, 3, 4})), Error);

  const QuantParams p = make_params(DType::Int8, {0.5f, 2.f}, {0, 0}, 0);
  EXPECT_DOUBLE_EQ(max_abs_error_in_steps(f32({2, 1}, {1, 1}), f32({2, 1}, {2, 0}), p), 2.0);
  EXPECT_DOUBLE_EQ(max_abs_error_in_steps(f32({2, 1}, {1, 1}), f32({2, 1}, {1.25f, 2}), p), 0.5);
}

// ---------------------------------------------------------------------------------------------
// Properties on random tensors

std::vector<QuantSpec> all_specs() {
  std::vector<QuantSpec> out;
  for (DType t : {DType::Int8, DType::UInt8, DType::Int16, DType::UInt16, DType::Int4, DType::UInt4})
    for (bool sym : {true, false})
      for (bool narrow : {false, true})
        for (bool reduce : {false, true}) out.push_back(make_spec(t, sym, narrow, reduce));
  return out;
}

// A fresh seed per run, or OCTET_TEST_SEED to replay a printed one.
uint32_t seed_for(const char* test) {
  const char* env = std::getenv("OCTET_TEST_SEED");
  const uint32_t seed = env ? static_cast<uint32_t>(std::strtoul(env, nullptr, 10)) : std::random_device{}();
  std::cout << test << ": seed " << seed << "\n";
  return seed;
}

TEST(QuantMathProperty, ErrorWithinHalfStepInsideRangeAndIdempotent) {
  const uint32_t seed = seed_for("ErrorWithinHalfStepInsideRangeAndIdempotent");
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (const QuantSpec& s : all_specs()) {
    for (int trial = 0; trial < 20; ++trial) {
      const float mag = std::pow(10.f, 4.f * u(rng));
      float lo = mag * u(rng), hi = mag * u(rng);
      if (lo > hi) std::swap(lo, hi);
      const QuantParams p = params_from_range(lo, hi, s, "x");
      std::vector<float> v(257);
      for (float& e : v) e = lo + (hi - lo) * (0.5f + 0.5f * u(rng));
      v[0] = lo;
      v[1] = hi;
      const Tensor x = f32({257}, v);
      const Tensor fq = fake_quant(x, p, int_range(s));
      // Half a step, plus float rounding: x / scale and (q - zp) * scale are each off by at most
      // 2^-24 relative (|x| * 2^-23 in all: a 16-bit quotient has only ~8 fractional bits, so a
      // near-tie can go the other way), and the scale itself is rounded to float, so the
      // (qmax - qmin) steps span the range only to within (qmax - qmin) * 2^-24 steps.
      const IntRange r = int_range(s);
      const double slack = std::ldexp(static_cast<double>(r.qmax - r.qmin), -23) * p.scale[0];
      for (size_t i = 0; i < v.size(); ++i)
        ASSERT_LE(std::fabs(static_cast<double>(fq.data<float>()[i]) - v[i]),
                  0.5 * p.scale[0] + slack + std::ldexp(std::fabs(v[i]), -22))
            << "seed " << seed << " " << dtype_name(s.qtype) << " sym " << s.symmetric << " narrow "
            << s.narrow_range << " reduce " << s.reduce_range << " range [" << lo << ", " << hi
            << "] x " << v[i];
      ASSERT_TRUE(same_bits(fake_quant(fq, p, int_range(s)), fq)) << "seed " << seed;
      // Symmetric: inside the range the spec's clamp never binds, the type-range version agrees.
      // (Asymmetric: an edge value can fall on a tie at qmin - 0.5, which only the clamp keeps.)
      if (s.symmetric) ASSERT_TRUE(same_bits(fake_quant(x, p), fq)) << "seed " << seed;
    }
  }
}

TEST(QuantMathProperty, FakeQuantIsDequantizeOfQuantizeBitForBit) {
  const uint32_t seed = seed_for("FakeQuantIsDequantizeOfQuantizeBitForBit");
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  const Shape shape = {3, 5, 4};
  for (DType t : {DType::Int8, DType::UInt8, DType::Int16, DType::UInt16, DType::Int4, DType::UInt4}) {
    const IntRange tr = type_range(t);
    std::uniform_int_distribution<int32_t> zd(tr.qmin, tr.qmax);
    // per tensor, per axis 1, blocked on axis 1 (block 2, ragged) and axis 2 (block 3)
    for (auto [axis, block, count] : {std::tuple<int64_t, int64_t, size_t>{-1, 0, 1}, {1, 0, 5},
                                      {1, 2, 3 * 3 * 4}, {2, 3, 3 * 5 * 2}}) {
      QuantParams p = make_params(t, {}, {}, axis, block);
      for (size_t k = 0; k < count; ++k) {
        p.scale.push_back(0.01f + std::fabs(u(rng)));
        p.zero_point.push_back(zd(rng));
      }
      std::vector<float> v(60);
      for (float& e : v) e = 50.f * u(rng) * static_cast<float>(tr.qmax - tr.qmin) / 15.f;
      v[7] = kNaN;
      v[8] = kInf;
      v[9] = -kInf;
      const Tensor x = f32(shape, v);
      const Tensor q = quantize(x, p);
      ASSERT_TRUE(same_bits(fake_quant(x, p), dequantize(q, p)))
          << "seed " << seed << " " << dtype_name(t) << " axis " << axis << " block " << block;
      // quantize(dequantize(q)) == q for every code
      Tensor codes(t, shape);
      for (int64_t i = 0; i < codes.numel(); ++i) {
        const int32_t c = zd(rng);
        if (dtype_is_signed(t)) {
          if (t == DType::Int16) codes.data<int16_t>()[i] = static_cast<int16_t>(c);
          else codes.data<int8_t>()[i] = static_cast<int8_t>(c);
        } else {
          if (t == DType::UInt16) codes.data<uint16_t>()[i] = static_cast<uint16_t>(c);
          else codes.data<uint8_t>()[i] = static_cast<uint8_t>(c);
        }
      }
      ASSERT_EQ(values(quantize(dequantize(codes, p), p)), values(codes))
          << "seed " << seed << " " << dtype_name(t) << " axis " << axis << " block " << block;
    }
  }
}

TEST(QuantMathProperty, MseParamsNeverWorseThanMaxParams) {
  const uint32_t seed = seed_for("MseParamsNeverWorseThanMaxParams");
  std::mt19937 rng(seed);
  std::student_t_distribution<float> heavy(3.f);  // heavy tails, as real weights have
  const Shape shape = {4, 3, 3, 3};
  for (DType t : {DType::Int8, DType::UInt8, DType::Int4, DType::UInt4})
    for (bool sym : {true, false})
      for (auto [axis, block] : {std::pair<int64_t, int64_t>{-1, 0}, {0, 0}, {1, 0}, {3, 2}}) {
        const QuantSpec s = make_spec(t, sym, sym, false, axis, block);
        std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
        const float shift = sym ? 0.f : 0.5f;
        for (float& e : v) e = 0.1f * (heavy(rng) + shift);
        const Tensor w = f32(shape, v);
        auto err = [&](const QuantParams& p) {
          const Tensor fq = fake_quant(w, p, int_range(s));
          double e = 0;
          for (size_t i = 0; i < v.size(); ++i)
            e += std::pow(static_cast<double>(fq.data<float>()[i]) - v[i], 2);
          return e;
        };
        const double emax = err(weight_params(w, s, "w")), emse = err(weight_params_mse(w, s, "w"));
        EXPECT_LE(emse, emax * (1 + 1e-12))
            << "seed " << seed << " " << dtype_name(t) << " sym " << sym << " axis " << axis;
      }
}

}  // namespace
}  // namespace octet::quant
