// MatMulInteger, QLinearMatMul, ConvInteger and QLinearConv through the op registry:
// hand-computed values (requantization ties, saturation at both ends, per-row/per-column and
// per-channel parameters, batched broadcasting, groups, auto_pad), errors and shape inference.
#include <limits>

#include "../test_util.h"

namespace octet {
namespace {

using testing::attr_int;
using testing::attr_ints;
using testing::attr_string;
using testing::make_node;
using testing::run_op;

Tensor f32(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(std::move(s), v); }
Tensor u8(Shape s, std::vector<uint8_t> v) { return Tensor::from_vector<uint8_t>(std::move(s), v); }
Tensor s8(Shape s, std::vector<int8_t> v) { return Tensor::from_vector<int8_t>(std::move(s), v); }
Tensor i32(Shape s, std::vector<int32_t> v) {
  return Tensor::from_vector<int32_t>(std::move(s), v);
}
Tensor fs(float v) { return Tensor::scalar<float>(v); }

template <class T>
void expect_values(const Tensor& t, DType dtype, const Shape& shape, const std::vector<T>& want) {
  ASSERT_EQ(t.dtype(), dtype) << dtype_name(t.dtype());
  ASSERT_EQ(t.shape(), shape) << shape_str(t.shape());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(t.data<T>()[i], want[i]) << "element " << i;
}

template <class F>
void expect_error(F&& f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning '" << part << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

Tensor run(const std::string& op, const std::vector<Tensor>& in,
           std::map<std::string, Attribute> attrs = {}) {
  std::vector<std::string> names;
  for (size_t i = 0; i < in.size(); ++i)
    names.push_back(in[i].defined() ? "in" + std::to_string(i) : "");
  return run_op(make_node(op, names, {"y"}, std::move(attrs)), in, 21).at(0);
}

TensorType infer(const Node& n, const std::vector<TensorType>& in) {
  const OpDef* def = OpRegistry::global().find(n.op_type);
  EXPECT_TRUE(def && def->infer);
  InferContext ctx{n, 21, {}, {}, {}};
  for (const TensorType& t : in) ctx.inputs.push_back(t.dtype == DType::Undefined ? nullptr : &t);
  ctx.constants.assign(in.size(), nullptr);
  ctx.outputs.resize(n.outputs.size());
  def->infer(ctx);
  return ctx.outputs.at(0);
}

TEST(MatMulIntegerOp, OnnxExample) {
  Tensor a = u8({4, 3}, {11, 7, 3, 10, 6, 2, 9, 5, 1, 8, 4, 0});
  Tensor b = u8({3, 2}, {1, 4, 2, 5, 3, 6});
  expect_values<int32_t>(run("MatMulInteger", {a, b, u8({1}, {12}), u8({1}, {0})}), DType::Int32,
                         {4, 2}, {-38, -83, -44, -98, -50, -113, -56, -128});
  // Zero points are optional.
  expect_values<int32_t>(run("MatMulInteger", {a, b}), DType::Int32, {4, 2},
                         {11 + 14 + 9, 44 + 35 + 18, 10 + 12 + 6, 40 + 30 + 12});
}

TEST(MatMulIntegerOp, PerRowAndPerColumnZeroPointsMixedSigns) {
  Tensor a = u8({2, 2}, {1, 2, 3, 4});
  Tensor b = s8({2, 2}, {1, 0, 0, 1});
  // A - [1, 2] per row = [[0, 1], [1, 2]]; B - [0, 1] per column = [[1, -1], [0, 0]].
  expect_values<int32_t>(run("MatMulInteger", {a, b, u8({2}, {1, 2}), s8({2}, {0, 1})}),
                         DType::Int32, {2, 2}, {0, 0, 1, -1});
  // The same as N-D zero points [2, 1] and [1, 2].
  expect_values<int32_t>(run("MatMulInteger", {a, b, u8({2, 1}, {1, 2}), s8({1, 2}, {0, 1})}),
                         DType::Int32, {2, 2}, {0, 0, 1, -1});
}

TEST(MatMulIntegerOp, BatchedBroadcastAndVectors) {
  // a [2, 1, 2] x b [2, 1] -> [2, 1, 1]; per-batch row zero points [2, 1, 1].
  Tensor a = s8({2, 1, 2}, {1, 2, 3, 4});
  Tensor b = s8({2, 1}, {10, 100});
  expect_values<int32_t>(run("MatMulInteger", {a, b}), DType::Int32, {2, 1, 1}, {210, 430});
  // a - zp: [0, 1] and [-1, 0]
  expect_values<int32_t>(run("MatMulInteger", {a, b, s8({2, 1, 1}, {1, 4})}), DType::Int32,
                         {2, 1, 1}, {100, -10});
  // b batched [3, 2, 1] against a 2-D a [1, 2] -> [3, 1, 1].
  Tensor bb = u8({3, 2, 1}, {1, 1, 2, 2, 3, 0});
  expect_values<int32_t>(run("MatMulInteger", {u8({1, 2}, {5, 7}), bb}), DType::Int32, {3, 1, 1},
                         {12, 24, 15});
  // 1-D operands: [2] x [2, 3] -> [3]; [2, 2] x [2] -> [2]; [2] x [2] -> [].
  expect_values<int32_t>(run("MatMulInteger", {u8({2}, {1, 2}), u8({2, 3}, {1, 2, 3, 4, 5, 6})}),
                         DType::Int32, {3}, {9, 12, 15});
  expect_values<int32_t>(run("MatMulInteger", {u8({2, 2}, {1, 2, 3, 4}), u8({2}, {1, 1})}),
                         DType::Int32, {2}, {3, 7});
  expect_values<int32_t>(run("MatMulInteger", {u8({2}, {1, 2}), u8({2}, {3, 4})}), DType::Int32, {},
                         {11});
}

TEST(MatMulIntegerOp, Errors) {
  expect_error(
      [] {
        run("MatMulInteger", {u8({2, 3}, {1, 2, 3, 4, 5, 6}), u8({2, 2}, {1, 2, 3, 4})});
      },
      "inner dimensions");
  expect_error(
      [] {
        run("MatMulInteger", {u8({2, 2}, {1, 2, 3, 4}), u8({2, 2}, {1, 2, 3, 4}), s8({}, {0})});
      },
      "a_zero_point has type INT8");
  expect_error(
      [] {
        run("MatMulInteger",
            {u8({2, 2}, {1, 2, 3, 4}), u8({2, 2}, {1, 2, 3, 4}), u8({3}, {0, 0, 0})});
      },
      "neither a scalar nor per-row");
  expect_error(
      [] {
        run("MatMulInteger", {i32({1, 1}, {1}), u8({1, 1}, {1})});
      },
      "must be INT8 or UINT8");
  expect_error(
      [] {
        run("MatMulInteger", {Tensor(DType::UInt8, {2, 2, 2}), Tensor(DType::UInt8, {3, 2, 2})});
      },
      "cannot be broadcast");
}

TEST(MatMulIntegerOp, AccumulatorOverflowIsAnError) {
  const int64_t k = 33026;
  Tensor a(DType::UInt8, {1, k}), b(DType::UInt8, {k, 1});
  for (int64_t i = 0; i < k; ++i) a.data<uint8_t>()[i] = b.data<uint8_t>()[i] = 255;
  expect_error([&] { run("MatMulInteger", {a, b}); }, "does not fit INT32 (K = 33026");
}

TEST(QLinearMatMulOp, OnnxExample2D) {
  Tensor a = u8({2, 4}, {208, 236, 0, 238, 3, 214, 255, 29});
  Tensor b = u8({4, 3}, {152, 51, 244, 60, 26, 255, 0, 127, 246, 127, 254, 247});
  Tensor y = run("QLinearMatMul", {a, f32({1}, {0.0066f}), u8({1}, {113}), b, f32({1}, {0.00705f}),
                                   u8({1}, {114}), f32({1}, {0.0107f}), u8({1}, {118})});
  expect_values<uint8_t>(y, DType::UInt8, {2, 3}, {168, 115, 255, 1, 66, 151});
}

TEST(QLinearMatMulOp, RequantizationTiesAndSaturation) {
  // acc = 2 * 5 = 10 and 2 * 7 = 14; multiplier 1 * 0.25 / 1: 2.5 -> 2, 3.5 -> 4.
  Tensor a = u8({1, 1}, {2});
  Tensor b = u8({1, 2}, {5, 7});
  expect_values<uint8_t>(
      run("QLinearMatMul", {a, fs(1), u8({}, {0}), b, fs(0.25f), u8({}, {0}), fs(1), u8({}, {3})}),
      DType::UInt8, {1, 2}, {5, 7});
  // int8 output saturating at both ends.
  Tensor as = s8({2, 1}, {100, -100});
  expect_values<int8_t>(run("QLinearMatMul", {as, fs(1), s8({}, {0}), s8({1, 1}, {100}), fs(1),
                                              s8({}, {0}), fs(1), s8({}, {0})}),
                        DType::Int8, {2, 1}, {127, -128});
  // uint8 output from int8 inputs, saturating at 0 and 255.
  expect_values<uint8_t>(run("QLinearMatMul", {as, fs(1), s8({}, {0}), s8({1, 1}, {100}), fs(1),
                                               s8({}, {0}), fs(1), u8({}, {128})}),
                         DType::UInt8, {2, 1}, {255, 0});
}

TEST(QLinearMatMulOp, PerRowAndPerColumnScales) {
  // a [2, 1] = 3 with per-row scales [1, 2]; b [1, 2] = [1, 1] with per-column scales [1, 4].
  Tensor y = run("QLinearMatMul",
                 {u8({2, 1}, {3, 3}), f32({2}, {1, 2}), u8({2}, {0, 0}), u8({1, 2}, {1, 1}),
                  f32({2}, {1, 4}), u8({2}, {0, 0}), fs(1), u8({}, {0})});
  expect_values<uint8_t>(y, DType::UInt8, {2, 2}, {3, 12, 6, 24});
  // Batched with per-column scales of shape [2, 1, 2] (one set per batch).
  Tensor yb = run("QLinearMatMul",
                  {u8({2, 1, 1}, {2, 2}), fs(1), u8({}, {0}), u8({2, 1, 2}, {1, 1, 1, 1}),
                   f32({2, 1, 2}, {1, 2, 3, 4}), u8({2, 1, 2}, {0, 0, 0, 0}), fs(1), u8({}, {0})});
  expect_values<uint8_t>(yb, DType::UInt8, {2, 1, 2}, {2, 4, 6, 8});
}

TEST(QLinearMatMulOp, Errors) {
  Tensor a = u8({1, 1}, {1});
  expect_error(
      [&] {
        run("QLinearMatMul",
            {a, fs(1), u8({}, {0}), a, fs(1), u8({}, {0}), f32({2}, {1, 1}), u8({}, {0})});
      },
      "y_scale must be a scalar");
  Tensor fp8(DType::Float8E4M3FN, {1, 1});
  expect_error(
      [&] {
        run("QLinearMatMul", {fp8, fs(1), fp8, a, fs(1), u8({}, {0}), fs(1), u8({}, {0})});
      },
      "FLOAT8E4M3FN");
  expect_error(
      [&] {
        run("QLinearMatMul", {a, fs(1), u8({}, {0}), a, fs(1), u8({}, {0}), fs(1), i32({}, {0})});
      },
      "y_zero_point must be INT8 or UINT8");
}

TEST(ConvIntegerOp, OnnxExamplesAndPadding) {
  Tensor x = u8({1, 1, 3, 3}, {2, 3, 4, 5, 6, 7, 8, 9, 10});
  Tensor w = u8({1, 1, 2, 2}, {1, 1, 1, 1});
  expect_values<int32_t>(run("ConvInteger", {x, w, u8({}, {1})}), DType::Int32, {1, 1, 2, 2},
                         {12, 16, 24, 28});
  expect_values<int32_t>(
      run("ConvInteger", {x, w, u8({}, {1})}, {{"pads", attr_ints({1, 1, 1, 1})}}), DType::Int32,
      {1, 1, 4, 4}, {1, 3, 5, 3, 5, 12, 16, 9, 11, 24, 28, 15, 7, 15, 17, 9});
}

TEST(ConvIntegerOp, AutoPadAndPerChannelWeightZeroPoint) {
  Tensor x = u8({1, 1, 4}, {1, 2, 3, 4});
  Tensor w = u8({1, 1, 3}, {1, 1, 1});
  auto conv = [&](const std::string& pad) {
    return run("ConvInteger", {x, w},
               {{"auto_pad", attr_string(pad)}, {"strides", attr_ints({2})}});
  };
  expect_values<int32_t>(conv("SAME_UPPER"), DType::Int32, {1, 1, 2}, {6, 7});
  expect_values<int32_t>(conv("SAME_LOWER"), DType::Int32, {1, 1, 2}, {3, 9});
  expect_values<int32_t>(conv("VALID"), DType::Int32, {1, 1, 1}, {6});
  // Two output channels with w_zero_point [1, 2]: taps become [0, 0, 0] and [-1, -1, -1].
  Tensor w2 = u8({2, 1, 3}, {1, 1, 1, 1, 1, 1});
  expect_values<int32_t>(run("ConvInteger", {x, w2, Tensor(), u8({2}, {1, 2})}), DType::Int32,
                         {1, 2, 2}, {0, 0, -6, -9});
}

TEST(ConvIntegerOp, Errors) {
  Tensor x = u8({1, 2, 3, 3}, std::vector<uint8_t>(18, 1));
  expect_error([&] { run("ConvInteger", {x, u8({1, 1, 2, 2}, {1, 1, 1, 1})}); }, "channels");
  expect_error(
      [&] {
        run("ConvInteger", {x, u8({1, 2, 4, 4}, std::vector<uint8_t>(32, 1))});
      },
      "larger than the padded input");
  expect_error(
      [&] {
        run("ConvInteger", {u8({2, 2}, {1, 2, 3, 4}), u8({2, 2}, {1, 2, 3, 4})});
      },
      "rank >= 3");
  expect_error(
      [&] {
        run("ConvInteger", {x, u8({1, 2, 1, 1}, {1, 1})}, {{"strides", attr_ints({0, 1})}});
      },
      "strides");
  expect_error(
      [&] {
        run("ConvInteger", {x, u8({1, 2, 1, 1}, {1, 1})}, {{"pads", attr_ints({1, 1})}});
      },
      "pads must have 4 values");
  const int64_t big = std::numeric_limits<int64_t>::max();
  expect_error(
      [&] {
        run("ConvInteger", {x, u8({1, 2, 1, 1}, {1, 1})},
            {{"pads", attr_ints({big, big, big, big})}});
      },
      "pads must be in [0, 2^31)");
  expect_error(
      [&] {
        run("ConvInteger", {x, u8({1, 2, 1, 1}, {1, 1})}, {{"dilations", attr_ints({big, 1})}});
      },
      "dilations must be in");
  expect_error(
      [&] {
        run("ConvInteger", {x, u8({1, 2, 1, 1}, {1, 1})}, {{"auto_pad", attr_string("SAME")}});
      },
      "auto_pad");
  expect_error(
      [&] {
        run("ConvInteger", {x, u8({3, 2, 1, 1}, {1, 1, 1, 1, 1, 1}), Tensor(), u8({2}, {0, 0})});
      },
      "one value per output channel (3)");
  expect_error(
      [&] {
        run("ConvInteger", {x, u8({1, 2, 1, 1}, {1, 1}), u8({2}, {0, 0})});
      },
      "x_zero_point must be a scalar");
}

TEST(QLinearConvOp, PerChannelScalesBiasAndTies) {
  // x - x_zp = [0, 10, 20, 30]; 1x1 kernels 2 and -3 with w_scale [0.25, 0.5]; multipliers
  // 0.5 * 0.25 / 1 = 0.125 and 0.25.
  Tensor x = u8({1, 1, 2, 2}, {10, 20, 30, 40});
  Tensor w = s8({2, 1, 1, 1}, {2, -3});
  std::vector<Tensor> in = {
      x,       fs(0.5f),     u8({}, {10}), w, f32({2}, {0.25f, 0.5f}), s8({2}, {0, 0}),
      fs(1.f), u8({}, {128})};
  // acc [0, 20, 40, 60] * 0.125 = 0, 2.5, 5, 7.5 -> 0, 2, 5, 8
  // acc [0, -30, -60, -90] * 0.25 = 0, -7.5, -15, -22.5 -> 0, -8, -15, -22
  expect_values<uint8_t>(run("QLinearConv", in), DType::UInt8, {1, 2, 2, 2},
                         {128, 130, 133, 136, 128, 120, 113, 106});
  in.push_back(i32({2}, {4, -2}));
  // acc + bias: [4, 24, 44, 64] * 0.125 = 0.5, 3, 5.5, 8 -> 0, 3, 6, 8
  //             [-2, -32, -62, -92] * 0.25 = -0.5, -8, -15.5, -23 -> 0, -8, -16, -23
  expect_values<uint8_t>(run("QLinearConv", in), DType::UInt8, {1, 2, 2, 2},
                         {128, 131, 134, 136, 128, 120, 112, 105});
  // A tiny y_scale saturates both ends.
  in[6] = fs(1e-3f);
  expect_values<uint8_t>(run("QLinearConv", in), DType::UInt8, {1, 2, 2, 2},
                         {255, 255, 255, 255, 0, 0, 0, 0});
}

TEST(QLinearConvOp, DepthwiseSameUpperInt8) {
  // Two channels (all 1, all 2), group 2, 3x3 kernels of ones, SAME_UPPER: each output counts the
  // valid neighbours; y = acc * (1 * 1 / 2) rounded half to even, int8 output with zp -10.
  std::vector<int8_t> xv(18);
  for (int i = 0; i < 18; ++i) xv[static_cast<size_t>(i)] = i < 9 ? 1 : 2;
  Tensor x = s8({1, 2, 3, 3}, xv);
  Tensor w = s8({2, 1, 3, 3}, std::vector<int8_t>(18, 1));
  Tensor y =
      run("QLinearConv", {x, fs(1), s8({}, {0}), w, fs(1), s8({}, {0}), fs(2), s8({}, {-10})},
          {{"group", attr_int(2)}, {"auto_pad", attr_string("SAME_UPPER")}});
  // channel 0 acc: 4 6 4 / 6 9 6 / 4 6 4 -> /2: 2 3 2 / 3 4.5->4 3 / 2 3 2
  // channel 1 acc doubled: 8 12 8 / 12 18 12 -> 4 6 4 / 6 9 6
  expect_values<int8_t>(y, DType::Int8, {1, 2, 3, 3},
                        {-8, -7, -8, -7, -6, -7, -8, -7, -8, -6, -4, -6, -4, -1, -4, -6, -4, -6});
}

TEST(QLinearConvOp, StridesDilationsAndErrors) {
  // x 1..16 as 4x4 (u8, zp 0), 2x2 kernel of ones dilated by 2, stride 2 -> only output (0,0):
  // taps (0,0), (0,2), (2,0), (2,2) = 1 + 3 + 9 + 11 = 24.
  std::vector<uint8_t> xv(16);
  for (int i = 0; i < 16; ++i) xv[static_cast<size_t>(i)] = static_cast<uint8_t>(i + 1);
  Tensor x = u8({1, 1, 4, 4}, xv);
  Tensor w = u8({1, 1, 2, 2}, {1, 1, 1, 1});
  std::vector<Tensor> in = {x, fs(1), u8({}, {0}), w, fs(1), u8({}, {0}), fs(1), u8({}, {0})};
  expect_values<uint8_t>(
      run("QLinearConv", in, {{"dilations", attr_ints({2, 2})}, {"strides", attr_ints({2, 2})}}),
      DType::UInt8, {1, 1, 1, 1}, {24});
  std::vector<Tensor> bad = in;
  bad[1] = f32({2}, {1, 1});
  expect_error([&] { run("QLinearConv", bad); }, "x_scale must be a scalar");
  bad = in;
  bad[4] = f32({3}, {1, 1, 1});
  expect_error([&] { run("QLinearConv", bad); }, "w_scale must be a scalar or 1-D");
  bad = in;
  bad.push_back(i32({2}, {0, 0}));
  expect_error([&] { run("QLinearConv", bad); }, "B must be 1-D with 1 values");
  bad = in;
  bad[2] = s8({}, {0});
  expect_error([&] { run("QLinearConv", bad); }, "x_zero_point has type INT8");
  expect_error(
      [&] {
        run("QLinearConv", in, {{"kernel_shape", attr_ints({3, 3})}});
      },
      "kernel_shape");
}

TEST(QuantLinalgInference, ShapesAndTypes) {
  TensorType x;
  x.dtype = DType::UInt8;
  x.has_shape = true;
  x.dims = {Dim::symbol("N"), Dim::known(3), Dim::known(224), Dim{}};
  const TensorType w = TensorType::of(DType::Int8, {8, 3, 3, 3});
  const TensorType f = TensorType::of(DType::Float32, {});
  const TensorType zu = TensorType::of(DType::UInt8, {});
  const TensorType zs = TensorType::of(DType::Int8, {});
  const Node qconv = make_node("QLinearConv", {"x", "xs", "xz", "w", "ws", "wz", "ys", "yz"}, {"y"},
                               {{"pads", attr_ints({1, 1, 1, 1})}, {"strides", attr_ints({2, 2})}});
  EXPECT_EQ(infer(qconv, {x, f, zu, w, f, zs, f, zs}).str(), "INT8[N,8,112,?]");
  const Node ci =
      make_node("ConvInteger", {"x", "w"}, {"y"}, {{"auto_pad", attr_string("SAME_LOWER")}});
  EXPECT_EQ(infer(ci, {x, w}).str(), "INT32[N,8,224,?]");
  expect_error([&] { infer(ci, {x, TensorType::of(DType::Int8, {8, 4, 3, 3})}); }, "channels");

  TensorType a;
  a.dtype = DType::Int8;
  a.has_shape = true;
  a.dims = {Dim::symbol("B"), Dim::known(4), Dim::known(3)};
  const TensorType b = TensorType::of(DType::UInt8, {3, 2});
  EXPECT_EQ(infer(make_node("MatMulInteger", {"a", "b"}, {"y"}), {a, b}).str(), "INT32[B,4,2]");
  EXPECT_EQ(infer(make_node("QLinearMatMul", {"a", "as", "az", "b", "bs", "bz", "ys", "yz"}, {"y"}),
                  {a, f, zs, b, f, zu, f, zu})
                .str(),
            "UINT8[B,4,2]");
  expect_error(
      [&] {
        infer(make_node("MatMulInteger", {"a", "b"}, {"y"}),
              {a, TensorType::of(DType::UInt8, {4, 2})});
      },
      "inner dimensions");
  expect_error(
      [&] {
        infer(make_node("MatMulInteger", {"a", "b"}, {"y"}),
              {TensorType::of(DType::Float32, {2, 2}), b});
      },
      "must be INT8 or UINT8");
}

}  // namespace
}  // namespace octet
