// QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear through the op registry: hand-computed
// values (ties, saturation at both ends, per-axis with negative axes, blocked with a remainder
// block, INT4/UINT4/16-bit ranges, FLOAT16 in and out), type resolution, errors, and shape
// inference. The integer matmul and conv ops are in ops_quant_linalg_test.cpp.
#include <cmath>
#include <limits>

#include "../test_util.h"
#include "kernels/ref/round.h"

namespace octet {
namespace {

using testing::attr_int;
using testing::make_node;
using testing::run_op;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

Tensor f32(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(std::move(s), v); }
Tensor u8(Shape s, std::vector<uint8_t> v) { return Tensor::from_vector<uint8_t>(std::move(s), v); }
Tensor s8(Shape s, std::vector<int8_t> v) { return Tensor::from_vector<int8_t>(std::move(s), v); }
// An INT4/UINT4 tensor (unpacked, one element per byte).
Tensor s4(Shape s, std::vector<int8_t> v) {
  Tensor t(DType::Int4, std::move(s));
  for (size_t i = 0; i < v.size(); ++i) t.data<int8_t>()[i] = v[i];
  return t;
}
Tensor u4(Shape s, std::vector<uint8_t> v) {
  Tensor t(DType::UInt4, std::move(s));
  for (size_t i = 0; i < v.size(); ++i) t.data<uint8_t>()[i] = v[i];
  return t;
}

template <class T>
void expect_values(const Tensor& t, DType dtype, const Shape& shape, const std::vector<T>& want) {
  ASSERT_EQ(t.dtype(), dtype) << dtype_name(t.dtype());
  ASSERT_EQ(t.shape(), shape) << shape_str(t.shape());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(t.data<T>()[i], want[i]) << "element " << i;
}

// Expects an octet::Error whose message contains `part`.
template <class F>
void expect_error(F&& f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning '" << part << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

Tensor quantize(const std::vector<Tensor>& in, std::map<std::string, Attribute> attrs = {},
                int64_t opset = 21) {
  std::vector<std::string> names = {"x", "s", "zp"};
  names.resize(in.size());
  return run_op(make_node("QuantizeLinear", names, {"y"}, std::move(attrs)), in, opset).at(0);
}
Tensor dequantize(const std::vector<Tensor>& in, std::map<std::string, Attribute> attrs = {},
                  int64_t opset = 21) {
  std::vector<std::string> names = {"x", "s", "zp"};
  names.resize(in.size());
  return run_op(make_node("DequantizeLinear", names, {"y"}, std::move(attrs)), in, opset).at(0);
}

TensorType infer(const Node& n, const std::vector<TensorType>& in, size_t out = 0) {
  const OpDef* def = OpRegistry::global().find(n.op_type);
  EXPECT_TRUE(def && def->infer);
  InferContext ctx{n, 21, {}, {}, {}};
  for (const TensorType& t : in) ctx.inputs.push_back(t.dtype == DType::Undefined ? nullptr : &t);
  ctx.constants.assign(in.size(), nullptr);
  ctx.outputs.resize(n.outputs.size());
  def->infer(ctx);
  return ctx.outputs.at(out);
}

TEST(QuantizeLinearOp, PerTensorOnnxExampleSaturatesBothEnds) {
  Tensor y = quantize({f32({6}, {0, 2, 3, 1000, -254, -1000}), Tensor::scalar<float>(2.f),
                       Tensor::scalar<uint8_t>(128)},
                      {}, 13);
  expect_values<uint8_t>(y, DType::UInt8, {6}, {128, 129, 130, 255, 1, 0});
}

TEST(QuantizeLinearOp, TiesRoundToEven) {
  // x / 2 = 0.5, 1.5, 2.5, -0.5, -1.5, -2.5
  Tensor y = quantize(
      {f32({6}, {1, 3, 5, -1, -3, -5}), Tensor::scalar<float>(2.f), Tensor::scalar<int8_t>(0)});
  expect_values<int8_t>(y, DType::Int8, {6}, {0, 2, 2, 0, -2, -2});
}

TEST(QuantizeLinearOp, DefaultOutputIsUInt8WithZeroPointZero) {
  Tensor y = quantize({f32({3}, {-1, 1.5f, 300}), Tensor::scalar<float>(1.f)});
  expect_values<uint8_t>(y, DType::UInt8, {3}, {0, 2, 255});
}

TEST(QuantizeLinearOp, PerAxisWithNegativeAxis) {
  // x [1, 3, 2] quantized along axis -2 (= 1): ONNX's quantizelinear_axis example, reshaped.
  Tensor x = f32({1, 3, 2}, {-162, 10, -100, 232, -20, -50});
  Tensor s = f32({3}, {2, 4, 5});
  Tensor zp = u8({3}, {84, 24, 196});
  expect_values<uint8_t>(quantize({x, s, zp}, {{"axis", attr_int(-2)}}), DType::UInt8, {1, 3, 2},
                         {3, 89, 0, 82, 192, 186});
  expect_values<uint8_t>(quantize({x, s, zp}, {{"axis", attr_int(1)}}), DType::UInt8, {1, 3, 2},
                         {3, 89, 0, 82, 192, 186});
  // Default axis is 1.
  expect_values<uint8_t>(quantize({x, s, zp}), DType::UInt8, {1, 3, 2}, {3, 89, 0, 82, 192, 186});
  // Last axis with two scales.
  expect_values<int8_t>(quantize({f32({2, 2}, {4, 4, -4, -4}), f32({2}, {1, 4}), s8({2}, {0, -1})},
                                 {{"axis", attr_int(-1)}}),
                        DType::Int8, {2, 2}, {4, 0, -4, -2});
}

TEST(QuantizeLinearOp, BlockedWithRemainderBlock) {
  // x [2, 5], block_size 2 along axis 1: scale [2, 3], the last block has one column.
  Tensor x = f32({2, 5}, {1, 2, 3, 4, 5, 10, 20, 30, 40, 50});
  Tensor s = f32({2, 3}, {1, 2, 5, 10, 20, 50});
  Tensor zp = s8({2, 3}, {0, 1, -1, 0, 0, 100});
  Tensor y = quantize({x, s, zp}, {{"axis", attr_int(1)}, {"block_size", attr_int(2)}});
  // row 0: 1, 2, 1.5->2 +1, 2 +1, 1 -1; row 1: 1, 2, 1.5->2, 2, 1 +100
  expect_values<int8_t>(y, DType::Int8, {2, 5}, {1, 2, 3, 3, 0, 1, 2, 2, 2, 101});
  // Blocked along axis 0 (negative) of a [3, 2] input with block 2: scale [2, 2].
  Tensor y0 = quantize({f32({3, 2}, {8, 8, 8, 8, 8, 8}), f32({2, 2}, {1, 2, 4, 8})},
                       {{"axis", attr_int(-2)}, {"block_size", attr_int(2)}});
  expect_values<uint8_t>(y0, DType::UInt8, {3, 2}, {8, 4, 8, 4, 2, 1});
  // A block larger than the axis (here the largest int64) is one block: a scale per row.
  Tensor y1 = quantize(
      {f32({2, 3}, {2, 4, 6, 2, 4, 6}), f32({2, 1}, {1, 2})},
      {{"axis", attr_int(1)}, {"block_size", attr_int(std::numeric_limits<int64_t>::max())}});
  expect_values<uint8_t>(y1, DType::UInt8, {2, 3}, {2, 4, 6, 1, 2, 3});
}

TEST(QuantizeLinearOp, Int4AndUInt4Saturate) {
  Tensor x = f32({6}, {-20, -8.5f, -7.5f, 6.5f, 7.5f, 20});
  Tensor y = quantize({x, Tensor::scalar<float>(1.f), s4({}, {0})});
  expect_values<int8_t>(y, DType::Int4, {6}, {-8, -8, -8, 6, 7, 7});
  Tensor yu = quantize({x, Tensor::scalar<float>(1.f), u4({}, {8})});
  expect_values<uint8_t>(yu, DType::UInt4, {6}, {0, 0, 0, 14, 15, 15});
  // output_dtype without a zero point (opset 21): INT4 = 22.
  Tensor yo = quantize({x, Tensor::scalar<float>(1.f)}, {{"output_dtype", attr_int(22)}});
  expect_values<int8_t>(yo, DType::Int4, {6}, {-8, -8, -8, 6, 7, 7});
}

TEST(QuantizeLinearOp, SixteenBitTargets) {
  Tensor x = f32({3}, {-1e6f, 2.5f, 1e6f});
  expect_values<int16_t>(quantize({x, Tensor::scalar<float>(1.f), Tensor::scalar<int16_t>(0)}),
                         DType::Int16, {3}, {-32768, 2, 32767});
  expect_values<uint16_t>(quantize({x, Tensor::scalar<float>(1.f), Tensor::scalar<uint16_t>(1)}),
                          DType::UInt16, {3}, {0, 3, 65535});
  expect_values<uint16_t>(
      quantize({x, Tensor::scalar<float>(1.f)}, {{"output_dtype", attr_int(4)}}), DType::UInt16,
      {3}, {0, 2, 65535});
}

TEST(QuantizeLinearOp, Float16AndInt32Inputs) {
  Tensor xh(DType::Float16, {3});
  xh.data<Half>()[0] = Half(2.5f);
  xh.data<Half>()[1] = Half(-3.5f);
  xh.data<Half>()[2] = Half(100.f);
  Tensor sh(DType::Float16, {});
  sh.data<Half>()[0] = Half(0.5f);
  expect_values<int8_t>(quantize({xh, sh, Tensor::scalar<int8_t>(0)}), DType::Int8, {3},
                        {5, -7, 127});
  Tensor xi = Tensor::from_vector<int32_t>({3}, {5, -7, 1000});
  expect_values<int8_t>(
      quantize({xi, Tensor::scalar<float>(2.f), Tensor::scalar<int8_t>(1)}, {}, 10), DType::Int8,
      {3}, {3, -3, 127});
}

TEST(QuantizeLinearOp, DegenerateScalesNeverCrash) {
  // NaN quotients (NaN x, 0/0, NaN scale) get round.h's NaN rule, whatever it is.
  const uint8_t nq = static_cast<uint8_t>(kernels::quantize_value(kNaN, 1.f, 9, 0, 255));
  Tensor x = f32({4}, {1, -1, 0, kNaN});
  expect_values<uint8_t>(quantize({x, Tensor::scalar<float>(0.f), Tensor::scalar<uint8_t>(9)}),
                         DType::UInt8, {4}, {255, 0, nq, nq});
  expect_values<uint8_t>(quantize({x, Tensor::scalar<float>(kNaN), Tensor::scalar<uint8_t>(9)}),
                         DType::UInt8, {4}, {nq, nq, nq, nq});
  expect_values<uint8_t>(quantize({x, Tensor::scalar<float>(-1.f), Tensor::scalar<uint8_t>(9)}),
                         DType::UInt8, {4}, {8, 10, 9, nq});
  // Empty input.
  EXPECT_EQ(quantize({f32({0, 3}, {}), Tensor::scalar<float>(1.f)}).shape(), (Shape{0, 3}));
}

TEST(QuantizeLinearOp, Errors) {
  Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  expect_error([&] { quantize({x, f32({2}, {1, 1})}, {{"axis", attr_int(1)}}); }, "per-axis");
  expect_error([&] { quantize({x, f32({3}, {1, 1, 1})}, {{"axis", attr_int(2)}}); }, "axis 2");
  expect_error([&] { quantize({x, f32({3}, {1, 1, 1}), u8({2}, {0, 0})}); }, "zero point shape");
  expect_error(
      [&] {
        quantize({x, f32({2, 3}, {1, 1, 1, 1, 1, 1})}, {{"block_size", attr_int(2)}});
      },
      "needs a scale of shape [2,2]");
  expect_error(
      [&] {
        quantize({x, f32({2, 2}, {1, 1, 1, 1})}, {{"block_size", attr_int(-1)}});
      },
      "block_size");
  expect_error([&] { quantize({f32({}, {1}), f32({2}, {1, 1})}); }, "scalar");
  expect_error(
      [&] {
        quantize({x, Tensor::scalar<float>(1.f), u8({}, {0})}, {{"output_dtype", attr_int(3)}});
      },
      "differs from y_zero_point");
  expect_error(
      [&] {
        quantize({x, Tensor::scalar<float>(1.f)}, {{"output_dtype", attr_int(17)}});
      },
      "FLOAT8E4M3FN");
  Tensor fp8zp(DType::Float8E5M2, {});
  expect_error([&] { quantize({x, Tensor::scalar<float>(1.f), fp8zp}); }, "FLOAT8E5M2");
  expect_error(
      [&] {
        quantize({x, Tensor::scalar<float>(1.f), Tensor::scalar<int32_t>(0)});
      },
      "cannot quantize to INT32");
  expect_error(
      [&] {
        quantize({Tensor::from_vector<int64_t>({1}, {1}), Tensor::scalar<float>(1.f)});
      },
      "x must be");
  expect_error([&] { quantize({x, Tensor::scalar<bool>(true)}); }, "y_scale must be");
}

TEST(DequantizeLinearOp, PerTensorAndDefaultZeroPoint) {
  expect_values<float>(dequantize({u8({4}, {0, 3, 128, 255}), Tensor::scalar<float>(2.f),
                                   Tensor::scalar<uint8_t>(128)},
                                  {}, 13),
                       DType::Float32, {4}, {-256, -250, 0, 254});
  expect_values<float>(dequantize({s8({3}, {-128, 0, 127}), Tensor::scalar<float>(0.5f)}),
                       DType::Float32, {3}, {-64, 0, 63.5f});
}

TEST(DequantizeLinearOp, PerAxisAndBlocked) {
  // ONNX's dequantizelinear_axis example, reduced to one spatial position per channel.
  Tensor x = u8({1, 3, 2}, {0, 3, 128, 255, 0, 255});
  Tensor s = f32({3}, {1, 2, 4});
  Tensor zp = u8({3}, {0, 128, 0});
  expect_values<float>(dequantize({x, s, zp}, {{"axis", attr_int(-2)}}), DType::Float32, {1, 3, 2},
                       {0, 3, 0, 254, 0, 1020});
  // Blocked along axis 1 of [2, 3] with block 2: scale/zp [2, 2].
  Tensor xb = s8({2, 3}, {10, 10, 10, 10, 10, 10});
  Tensor sb = f32({2, 2}, {1, 2, 3, 4});
  Tensor zb = s8({2, 2}, {0, 5, 10, -10});
  expect_values<float>(
      dequantize({xb, sb, zb}, {{"axis", attr_int(1)}, {"block_size", attr_int(2)}}),
      DType::Float32, {2, 3}, {10, 10, 10, 0, 0, 80});
}

TEST(DequantizeLinearOp, Int4Int16Int32AndHalfScale) {
  expect_values<float>(
      dequantize({s4({4}, {-8, -1, 0, 7}), Tensor::scalar<float>(1.f), s4({}, {-8})}),
      DType::Float32, {4}, {0, 7, 8, 15});
  expect_values<float>(dequantize({u4({2}, {0, 15}), Tensor::scalar<float>(1.f), u4({}, {15})}),
                       DType::Float32, {2}, {-15, 0});
  expect_values<float>(dequantize({Tensor::from_vector<int16_t>({2}, {-32768, 32767}),
                                   Tensor::scalar<float>(1.f), Tensor::scalar<int16_t>(-1)}),
                       DType::Float32, {2}, {-32767, 32768});
  expect_values<float>(
      dequantize({Tensor::from_vector<int32_t>({2}, {-1000000, 7}), Tensor::scalar<float>(0.5f)},
                 {}, 10),
      DType::Float32, {2}, {-500000, 3.5f});
  Tensor sh(DType::Float16, {});
  sh.data<Half>()[0] = Half(0.5f);
  Tensor yh = dequantize({u8({2}, {3, 255}), sh, Tensor::scalar<uint8_t>(0)});
  ASSERT_EQ(yh.dtype(), DType::Float16);
  EXPECT_EQ(static_cast<float>(yh.data<Half>()[0]), 1.5f);
  EXPECT_EQ(static_cast<float>(yh.data<Half>()[1]), 127.5f);
}

TEST(DequantizeLinearOp, Errors) {
  expect_error(
      [&] {
        dequantize({u8({2}, {1, 2}), Tensor::scalar<float>(1.f), Tensor::scalar<int8_t>(0)});
      },
      "x_zero_point has type INT8 but x has type UINT8");
  expect_error([&] { dequantize({f32({2}, {1, 2}), Tensor::scalar<float>(1.f)}); }, "x must be");
  Tensor fp8(DType::Float8E4M3FN, {2});
  expect_error([&] { dequantize({fp8, Tensor::scalar<float>(1.f)}); }, "FLOAT8E4M3FN");
  expect_error([&] { dequantize({u8({2, 2}, {1, 2, 3, 4}), f32({3}, {1, 1, 1})}); }, "per-axis");
  expect_error(
      [&] {
        dequantize({u8({2}, {1, 2}), Tensor::scalar<int32_t>(1)});
      },
      "output must be");
}

Tensor dynamic_quantize(const Tensor& x, Tensor* scale, Tensor* zp) {
  auto out = run_op(make_node("DynamicQuantizeLinear", {"x"}, {"y", "s", "zp"}), {x}, 11);
  *scale = out.at(1);
  *zp = out.at(2);
  return out.at(0);
}

TEST(DynamicQuantizeLinearOp, OnnxExamples) {
  Tensor s, zp;
  Tensor y = dynamic_quantize(f32({6}, {0, 2, -3, -2.5f, 1.34f, 0.5f}), &s, &zp);
  expect_values<uint8_t>(y, DType::UInt8, {6}, {153, 255, 0, 26, 221, 179});
  expect_values<float>(s, DType::Float32, {}, {5.f / 255.f});
  expect_values<uint8_t>(zp, DType::UInt8, {}, {153});
  y = dynamic_quantize(f32({6}, {-1, -2.1f, -1.3f, -2.5f, -3.34f, -4}), &s, &zp);
  expect_values<uint8_t>(y, DType::UInt8, {6}, {191, 121, 172, 96, 42, 0});
  expect_values<uint8_t>(zp, DType::UInt8, {}, {255});
  y = dynamic_quantize(f32({2, 3}, {1, 2.1f, 1.3f, 2.5f, 3.34f, 4}), &s, &zp);
  expect_values<uint8_t>(y, DType::UInt8, {2, 3}, {64, 134, 83, 159, 213, 255});
  expect_values<uint8_t>(zp, DType::UInt8, {}, {0});
}

TEST(DynamicQuantizeLinearOp, AllZeroAndNaNInputs) {
  Tensor s, zp;
  Tensor y = dynamic_quantize(f32({3}, {0, 0, 0}), &s, &zp);
  expect_values<uint8_t>(y, DType::UInt8, {3}, {0, 0, 0});
  expect_values<float>(s, DType::Float32, {}, {1.f / 255.f});  // ONNX's reference; never 0
  // NaN is left out of the range [-1, 3] (zero point 64) and itself gets round.h's NaN rule.
  y = dynamic_quantize(f32({3}, {kNaN, -1, 3}), &s, &zp);
  const uint8_t nq = static_cast<uint8_t>(kernels::quantize_value(kNaN, 1.f, 64, 0, 255));
  expect_values<uint8_t>(y, DType::UInt8, {3}, {nq, 0, 255});
  expect_values<uint8_t>(zp, DType::UInt8, {}, {64});
  expect_error([&] { dynamic_quantize(u8({1}, {1}), &s, &zp); }, "x must be FLOAT");
}

TEST(QuantOpsInference, TypesAndShapes) {
  TensorType x;
  x.dtype = DType::Float32;
  x.has_shape = true;
  x.dims = {Dim::symbol("N"), Dim::known(3)};
  const TensorType scalar_f = TensorType::of(DType::Float32, {});
  const TensorType zp_s8 = TensorType::of(DType::Int8, {});
  TensorType y = infer(make_node("QuantizeLinear", {"x", "s", "zp"}, {"y"}), {x, scalar_f, zp_s8});
  EXPECT_EQ(y.dtype, DType::Int8);
  EXPECT_EQ(y.str(), "INT8[N,3]");
  y = infer(make_node("QuantizeLinear", {"x", "s"}, {"y"}), {x, scalar_f});
  EXPECT_EQ(y.dtype, DType::UInt8);
  y = infer(make_node("QuantizeLinear", {"x", "s"}, {"y"}, {{"output_dtype", attr_int(21)}}),
            {x, scalar_f});
  EXPECT_EQ(y.dtype, DType::UInt4);
  // FP8 passes inference (only running it fails).
  y = infer(make_node("QuantizeLinear", {"x", "s"}, {"y"}, {{"output_dtype", attr_int(17)}}),
            {x, scalar_f});
  EXPECT_EQ(y.dtype, DType::Float8E4M3FN);
  expect_error(
      [&] {
        infer(make_node("QuantizeLinear", {"x", "s"}, {"y"}),
              {TensorType::of(DType::Float32, {2, 3}), TensorType::of(DType::Float32, {2})});
      },
      "per-axis");

  TensorType q = TensorType::of(DType::UInt8, {4, 5});
  TensorType half_scale = TensorType::of(DType::Float16, {5});
  y = infer(make_node("DequantizeLinear", {"x", "s"}, {"y"}, {{"axis", attr_int(-1)}}),
            {q, half_scale});
  EXPECT_EQ(y.str(), "FLOAT16[4,5]");
  expect_error(
      [&] {
        infer(make_node("DequantizeLinear", {"x", "s", "zp"}, {"y"}), {q, scalar_f, zp_s8});
      },
      "x_zero_point has type INT8");

  const Node dyn = make_node("DynamicQuantizeLinear", {"x"}, {"y", "s", "zp"});
  EXPECT_EQ(infer(dyn, {x}, 0).str(), "UINT8[N,3]");
  EXPECT_EQ(infer(dyn, {x}, 1).str(), "FLOAT[]");
  EXPECT_EQ(infer(dyn, {x}, 2).str(), "UINT8[]");
}

}  // namespace
}  // namespace octet
