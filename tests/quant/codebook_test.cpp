#include "quant/codebook.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

namespace octet::quant {
namespace {

Tensor gaussian(const Shape& shape, uint32_t seed, float stddev = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, stddev);
  Tensor t(DType::Float32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

// Mean squared difference, computed here rather than with weight_error.
double mse_of(const Tensor& a, const Tensor& b) {
  double s = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double d = static_cast<double>(a.data<float>()[i]) - b.data<float>()[i];
    s += d * d;
  }
  return s / static_cast<double>(a.numel());
}

TEST(NearestIndex, TiesGoToTheLowerEntry) {
  const std::vector<float> t = {-1.f, 1.f, 3.f};
  EXPECT_EQ(nearest_index(t.data(), 3, 0.f), 0);     // midway between -1 and 1
  EXPECT_EQ(nearest_index(t.data(), 3, 1e-7f), 1);
  EXPECT_EQ(nearest_index(t.data(), 3, 2.f), 1);     // midway between 1 and 3
  EXPECT_EQ(nearest_index(t.data(), 3, 2.0001f), 2);
  EXPECT_EQ(nearest_index(t.data(), 3, -50.f), 0);
  EXPECT_EQ(nearest_index(t.data(), 3, 50.f), 2);
  const std::vector<float> padded = {0.f, 1.f, 1.f, 1.f};  // padding copies are never chosen
  EXPECT_EQ(nearest_index(padded.data(), 4, 5.f), 1);
  EXPECT_EQ(nearest_index(padded.data(), 4, 0.7f), 1);
  const std::vector<float> one = {2.f};
  EXPECT_EQ(nearest_index(one.data(), 1, -3.f), 0);
}

TEST(KMeansCodebook, HandWorkedThreeValuesTwoCodes) {
  // {0, 0, 1, 10} with K = 2: the optimum is {0, 0, 1} -> 1/3 and {10} -> 10 (SSE 2/3; splitting
  // {0,0} | {1,10} costs 40.5), and every k-means++ start reaches it.
  for (uint32_t seed : {0u, 1u, 2u, 3u, 4u}) {
    const Tensor w = Tensor::from_vector<float>({4}, {0.f, 0.f, 1.f, 10.f});
    const Codebook cb = kmeans_codebook(w, 1, -1, seed);
    ASSERT_EQ(cb.centroids.size(), 2u);
    EXPECT_EQ(cb.centroids[0], 1.f / 3.f) << "seed " << seed;
    EXPECT_EQ(cb.centroids[1], 10.f);
    EXPECT_EQ(cb.indices, (std::vector<uint8_t>{0, 0, 0, 1}));
  }
}

TEST(KMeansCodebook, FindsFourWellSeparatedClusters) {
  const uint32_t seed = 1234;
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  const std::vector<float> centres = {-10.f, -2.f, 5.f, 20.f};
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> noise(-0.5f, 0.5f);
  std::vector<float> values;
  std::vector<double> sums(4, 0.0);
  for (int i = 0; i < 400; ++i) {
    const int c = i % 4;
    values.push_back(centres[c] + noise(rng));
    sums[c] += values.back();
  }
  std::shuffle(values.begin(), values.end(), rng);
  const Tensor w = Tensor::from_vector<float>({20, 20}, values);
  const Codebook cb = kmeans_codebook(w, 2, -1, seed);
  ASSERT_EQ(cb.centroids.size(), 4u);
  for (int c = 0; c < 4; ++c) {
    EXPECT_NEAR(cb.centroids[c], centres[c], 0.1);
    EXPECT_NEAR(cb.centroids[c], sums[c] / 100.0, 1e-4);  // the exact cluster mean
  }
  // Every value is assigned to the centre it was drawn around.
  for (int64_t i = 0; i < w.numel(); ++i) {
    const float x = w.data<float>()[i];
    const int true_cluster = static_cast<int>(
        std::min_element(centres.begin(), centres.end(),
                         [&](float a, float b) { return std::fabs(a - x) < std::fabs(b - x); }) -
        centres.begin());
    EXPECT_EQ(cb.indices[static_cast<size_t>(i)], true_cluster) << "element " << i;
  }
}

TEST(KMeansCodebook, DeterministicForASeed) {
  const uint32_t seed = 77;
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  const Tensor w = gaussian({8, 64}, seed);
  for (int64_t axis : {int64_t{-1}, int64_t{0}}) {
    const Codebook a = kmeans_codebook(w, 3, axis, seed);
    const Codebook b = kmeans_codebook(w, 3, axis, seed);
    EXPECT_EQ(a.centroids, b.centroids);
    EXPECT_EQ(a.indices, b.indices);
  }
}

TEST(KMeansCodebook, ErrorDoesNotGrowWithBits) {
  const uint32_t seed = 2024;
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  const Tensor w = gaussian({16, 3, 5, 5}, seed);
  for (int64_t axis : {int64_t{-1}, int64_t{0}}) {
    double prev = INFINITY;
    for (int bits : {2, 4, 6}) {
      const double e = mse_of(w, decode(kmeans_codebook(w, bits, axis, seed), w.shape()));
      EXPECT_LE(e, prev) << "bits " << bits << " axis " << axis;
      EXPECT_GT(e, 0.0);
      prev = e;
    }
  }
}

TEST(KMeansCodebook, ExactWhenDistinctValuesFitTheCodebook) {
  // 300 elements drawn from 256 distinct values: 8 bits reproduce them exactly.
  const uint32_t seed = 5;
  std::mt19937 rng(seed);
  std::vector<float> values(300);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i % 256) * 0.37f - 40.f;
  std::shuffle(values.begin(), values.end(), rng);
  const Tensor w = Tensor::from_vector<float>({3, 100}, values);
  const Tensor back = decode(kmeans_codebook(w, 8, -1, seed), w.shape());
  for (int64_t i = 0; i < w.numel(); ++i) ASSERT_EQ(back.data<float>()[i], w.data<float>()[i]);
}

TEST(KMeansCodebook, PerChannelTablesOnEitherAxis) {
  // Channel c (axis 0, shape [3, 40]) holds only {10c, 10c+1, 10c+2, 10c+3}: 2 bits per channel
  // are exact, one 2-bit table for all 12 values is not.
  std::vector<float> rows;
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 40; ++i) rows.push_back(static_cast<float>(10 * c + (i * 7) % 4));
  const Tensor w0 = Tensor::from_vector<float>({3, 40}, rows);
  const Codebook per_channel = kmeans_codebook(w0, 2, 0, 1);
  ASSERT_EQ(per_channel.centroids.size(), 12u);
  for (int c = 0; c < 3; ++c)
    for (int j = 0; j < 4; ++j) EXPECT_EQ(per_channel.centroids[c * 4 + j], 10.f * c + j);
  const Tensor back0 = decode(per_channel, w0.shape());
  for (int64_t i = 0; i < w0.numel(); ++i) ASSERT_EQ(back0.data<float>()[i], w0.data<float>()[i]);
  EXPECT_GT(mse_of(w0, decode(kmeans_codebook(w0, 2, -1, 1), w0.shape())), 0.01);

  // The same data transposed to [40, 3] with the channel on axis 1 (MatMul's [K, N] layout).
  std::vector<float> cols(120);
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 40; ++i) cols[i * 3 + c] = rows[c * 40 + i];
  const Tensor w1 = Tensor::from_vector<float>({40, 3}, cols);
  const Tensor back1 = decode(kmeans_codebook(w1, 2, 1, 1), w1.shape());
  for (int64_t i = 0; i < w1.numel(); ++i) ASSERT_EQ(back1.data<float>()[i], w1.data<float>()[i]);
}

TEST(KMeansCodebook, BeatsLinearOnGaussianWeights) {
  const uint32_t seed = 99;
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  const Tensor w = gaussian({32, 128}, seed, 0.05f);
  for (int64_t axis : {int64_t{-1}, int64_t{0}})
    for (int bits : {3, 4}) {
      const double km = mse_of(w, decode(kmeans_codebook(w, bits, axis, seed), w.shape()));
      const double lin = mse_of(w, linear_symmetric_fake_quant(w, bits, axis));
      EXPECT_LE(km, lin) << "bits " << bits << " axis " << axis;
      const WeightQuantizerComparison cmp = compare_weight_quantizers(w, bits, axis, seed, "w");
      EXPECT_LE(cmp.kmeans.mse, cmp.linear.mse);
      EXPECT_NEAR(cmp.linear.mse, lin, 1e-12);
      EXPECT_TRUE(std::isfinite(cmp.pow2.sqnr_db));
    }
}

TEST(KMeansCodebook, EmptyClusterIsReseeded) {
  // max_iters = 0 leaves the k-means++ start; more iterations never leave an entry unused when
  // there are more distinct values than entries (an empty cluster is re-seeded).
  const uint32_t seed = 3;
  const Tensor w = gaussian({1000}, seed);
  const Codebook cb = kmeans_codebook(w, 5, -1, seed, 100);
  std::set<uint8_t> used(cb.indices.begin(), cb.indices.end());
  EXPECT_EQ(used.size(), 32u);
  EXPECT_TRUE(std::is_sorted(cb.centroids.begin(), cb.centroids.end()));
}

TEST(KMeansCodebook, EmptyClusterReseededAtTheLargestError) {
  // Sorted: 2, 12, 12, 12, 15, 22, 23, 24, 24, 29; 2 bits. Seed 4365 starts k-means++ at
  // {2, 12, 15, 29} (the premise, checked with max_iters = 0). Worked by hand from there:
  //  round 1: {2} {12,12,12} {15,22 (tie at 22 goes low)} {23,24,24,29} -> 2, 12, 18.5, 25
  //  round 2: boundaries 15.25 and 21.75 leave 18.5 empty; the others move to 2, 12.75, 24.4;
  //           the largest error is 29 (4.6^2 = 21.16), so the empty entry is re-seeded there
  //  round 3: {2} {12,12,12,15} {22,23,24,24} {29} -> 2, 12.75, 23.25, 29, a fixed point.
  const Tensor w = Tensor::from_vector<float>(
      {10}, {12.f, 24.f, 15.f, 12.f, 23.f, 2.f, 24.f, 22.f, 29.f, 12.f});
  const uint32_t seed = 4365;
  EXPECT_EQ(kmeans_codebook(w, 2, -1, seed, 0).centroids, (std::vector<float>{2.f, 12.f, 15.f, 29.f}));
  EXPECT_EQ(kmeans_codebook(w, 2, -1, seed, 1).centroids, (std::vector<float>{2.f, 12.f, 18.5f, 25.f}));
  EXPECT_EQ(kmeans_codebook(w, 2, -1, seed, 2).centroids, (std::vector<float>{2.f, 12.75f, 24.4f, 29.f}));
  const Codebook cb = kmeans_codebook(w, 2, -1, seed);
  EXPECT_EQ(cb.centroids, (std::vector<float>{2.f, 12.75f, 23.25f, 29.f}));
  EXPECT_EQ(cb.indices, (std::vector<uint8_t>{1, 2, 1, 1, 2, 0, 2, 2, 3, 1}));
}

TEST(KMeansCodebook, RejectsBadInputNamingTheTensor) {
  Tensor w = Tensor::from_vector<float>({2, 2}, {1.f, NAN, 0.f, 2.f});
  try {
    kmeans_codebook(w, 2, -1, 0, 50, "conv1.weight");
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("conv1.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("element 1"), std::string::npos) << e.what();
  }
  w.data<float>()[1] = INFINITY;
  EXPECT_THROW(kmeans_codebook(w, 2, -1, 0, 50, "w"), Error);
  const Tensor ok = Tensor::from_vector<float>({2, 2}, {1.f, 3.f, 0.f, 2.f});
  EXPECT_THROW(kmeans_codebook(ok, 0, -1, 0), Error);
  EXPECT_THROW(kmeans_codebook(ok, 9, -1, 0), Error);
  EXPECT_THROW(kmeans_codebook(ok, 2, 2, 0), Error);
  EXPECT_THROW(kmeans_codebook(ok, 2, -2, 0), Error);
  EXPECT_THROW(kmeans_codebook(ok, 2, -1, 0, -1), Error);
  EXPECT_THROW(kmeans_codebook(Tensor::from_vector<int32_t>({2}, {1, 2}), 2, -1, 0), Error);
}

TEST(Decode, PerChannelLayoutByHand) {
  // Shape [2, 3], axis 1: three groups of K = 2.
  Codebook cb;
  cb.bits = 1;
  cb.axis = 1;
  cb.centroids = {-1.f, 1.f, -2.f, 2.f, -3.f, 3.f};
  cb.indices = {0, 1, 1, 1, 0, 0};
  const Tensor y = decode(cb, {2, 3});
  const std::vector<float> want = {-1.f, 2.f, 3.f, 1.f, -2.f, -3.f};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(y.data<float>()[i], want[i]) << i;
  cb.indices[2] = 2;  // not below K = 2
  EXPECT_THROW(decode(cb, {2, 3}), Error);
  cb.indices[2] = 1;
  EXPECT_THROW(decode(cb, {3, 2}), Error);  // 2 channels on axis 1, but 3 tables
  EXPECT_THROW(decode(cb, {2, 2}), Error);  // index count
}

TEST(WeightError, HandValues) {
  const Tensor w = Tensor::from_vector<float>({4}, {1.f, 2.f, 3.f, 4.f});
  const Tensor w_hat = Tensor::from_vector<float>({4}, {1.f, 2.f, 3.f, 5.f});
  const WeightErrorReport r = weight_error(w, w_hat);
  EXPECT_DOUBLE_EQ(r.mse, 0.25);
  EXPECT_NEAR(r.sqnr_db, 10.0 * std::log10(30.0), 1e-12);  // 14.771 dB
  EXPECT_DOUBLE_EQ(r.max_abs, 1.0);
  const WeightErrorReport exact = weight_error(w, w);
  EXPECT_EQ(exact.mse, 0.0);
  EXPECT_TRUE(std::isinf(exact.sqnr_db) && exact.sqnr_db > 0);
  EXPECT_THROW(weight_error(w, Tensor::from_vector<float>({2, 2}, {1.f, 2.f, 3.f, 4.f})), Error);
}

TEST(LinearSymmetricFakeQuant, HandValues) {
  const Tensor w = Tensor::from_vector<float>({4}, {-1.f, 0.5f, 0.26f, 1.f});
  // 2 bits: levels {-1, 0, 1}, scale 1; 0.5 rounds half to even -> 0.
  const Tensor q2 = linear_symmetric_fake_quant(w, 2, -1);
  EXPECT_EQ(q2.data<float>()[0], -1.f);
  EXPECT_EQ(q2.data<float>()[1], 0.f);
  EXPECT_EQ(q2.data<float>()[2], 0.f);
  EXPECT_EQ(q2.data<float>()[3], 1.f);
  // 3 bits: scale 1/3; 0.5*3 = 1.5 -> 2, 0.26*3 = 0.78 -> 1.
  const Tensor q3 = linear_symmetric_fake_quant(w, 3, -1);
  const float s = 1.f / 3.f;
  EXPECT_EQ(q3.data<float>()[1], 2.f * s);
  EXPECT_EQ(q3.data<float>()[2], 1.f * s);
  // Per channel [2, 2] on axis 0: rows {2, -1} and {0, 0} (all-zero row stays zero).
  const Tensor pc = Tensor::from_vector<float>({2, 2}, {2.f, -1.f, 0.f, 0.f});
  const Tensor qpc = linear_symmetric_fake_quant(pc, 2, 0);
  EXPECT_EQ(qpc.data<float>()[0], 2.f);
  EXPECT_EQ(qpc.data<float>()[1], 0.f);  // scale 2: -1/2 = -0.5 rounds half to even -> 0
  EXPECT_EQ(qpc.data<float>()[2], 0.f);
  EXPECT_THROW(linear_symmetric_fake_quant(w, 1, -1), Error);
}

}  // namespace
}  // namespace octet::quant
