// Tests for image-folder data sets (open_image_folder, ImageOptions, parse_image_options and
// open_dataset's images: and plain-folder specs). Images are written here: PNGs with libpng's
// simplified write API (lossless, so pixels are checked exactly), JPEGs with TurboJPEG's
// tjCompress2 (checked within a tolerance). Resize results are checked against values worked by
// hand on tiny images.
#include <gtest/gtest.h>
#include <png.h>
#include <stdlib.h>
#include <turbojpeg.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <random>

#include "data/dataset.h"
#include "../temp_dir.h"
#include "ir/file_util.h"

namespace octet::data {
namespace {

std::string make_temp_dir() { return testing::make_temp_dir("octet_image_test"); }

std::string make_subdir(const std::string& dir, const std::string& name) {
  const std::string path = join_path(dir, name);
  std::filesystem::create_directories(path);
  return path;
}

void expect_error(const std::function<void()>& fn, std::initializer_list<std::string> fragments) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one mentioning '" << *fragments.begin() << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "'" << f << "' not in: " << msg;
  }
}

// Interleaved 8-bit pixels [h, w, c].
struct Image {
  int64_t h = 0, w = 0, c = 0;
  std::vector<uint8_t> px;
  uint8_t at(int64_t y, int64_t x, int64_t ch) const { return px[static_cast<size_t>((y * w + x) * c + ch)]; }
};

// A pattern that differs per image (`seed`), position and channel.
Image pattern(int64_t h, int64_t w, int64_t c, int seed) {
  Image im{h, w, c, {}};
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int64_t ch = 0; ch < c; ++ch) im.px.push_back(static_cast<uint8_t>((seed * 29 + y * 37 + x * 11 + ch * 80) % 256));
  return im;
}

// A smooth pattern, which JPEG keeps within a few levels at quality 100.
Image smooth(int64_t h, int64_t w, int64_t c, int seed) {
  Image im{h, w, c, {}};
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int64_t ch = 0; ch < c; ++ch) im.px.push_back(static_cast<uint8_t>(20 + seed * 10 + y * 4 + x * 6 + ch * 50));
  return im;
}

Image gray(int64_t h, int64_t w, std::vector<uint8_t> px) { return Image{h, w, 1, std::move(px)}; }

void write_png(const std::string& path, const Image& im) {
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  img.width = static_cast<png_uint_32>(im.w);
  img.height = static_cast<png_uint_32>(im.h);
  img.format = im.c == 1 ? PNG_FORMAT_GRAY : im.c == 2 ? PNG_FORMAT_GA : im.c == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_RGBA;
  ASSERT_NE(png_image_write_to_file(&img, path.c_str(), 0, im.px.data(), 0, nullptr), 0) << path << ": " << img.message;
}

std::string jpeg_bytes(const Image& im, int quality = 100) {
  tjhandle h = tjInitCompress();
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  const int rc = tjCompress2(h, im.px.data(), static_cast<int>(im.w), 0, static_cast<int>(im.h),
                             im.c == 1 ? TJPF_GRAY : TJPF_RGB, &buf, &size, im.c == 1 ? TJSAMP_GRAY : TJSAMP_444,
                             quality, TJFLAG_ACCURATEDCT);
  EXPECT_EQ(rc, 0) << tjGetErrorStr2(h);
  std::string out(reinterpret_cast<char*>(buf), size);
  tjFree(buf);
  tjDestroy(h);
  return out;
}

void write_jpeg(const std::string& path, const Image& im) { write_file_atomic(path, jpeg_bytes(im)); }

// Sample k of a batch as [c][h][w] (nchw) values.
float nchw_at(const Batch& b, int64_t k, const Shape& s, int64_t c, int64_t y, int64_t x) {
  return b.inputs.data<float>()[((k * s[0] + c) * s[1] + y) * s[2] + x];
}

TEST(ImageFolder, LabelledPngFolderSortedByClassAndFile) {
  const std::string dir = make_temp_dir();
  const std::string cat = make_subdir(dir, "cat"), dog = make_subdir(dir, "dog");
  make_subdir(dir, "zebra");  // a class with no images keeps its index
  make_subdir(dir, ".hidden");
  const Image a = pattern(3, 4, 3, 1), b = pattern(3, 4, 3, 2), c = pattern(3, 4, 3, 3);
  write_png(join_path(cat, "b.png"), b);
  write_png(join_path(cat, "a.PNG"), a);  // letter case of the extension does not matter
  write_png(join_path(dog, "c.png"), c);
  write_file_atomic(join_path(dog, "notes.txt"), "ignored");
  write_file_atomic(join_path(dir, "README.md"), "ignored");
  for (const std::string& spec : {"images:" + dir, dir}) {
    SCOPED_TRACE(spec);
    auto ds = open_dataset(spec);
    EXPECT_EQ(ds->name(), "images:" + dir);
    ASSERT_EQ(ds->size(), 3);
    EXPECT_TRUE(ds->labelled());
    EXPECT_EQ(ds->num_classes(), 3);
    EXPECT_EQ(ds->class_names(), std::vector<std::string>({"cat", "dog", "zebra"}));
    const Shape s = ds->sample_shape();
    ASSERT_EQ(s, Shape({3, 3, 4}));  // nchw
    Batch batch = ds->get({2, 0, 1});
    ASSERT_EQ(batch.inputs.shape(), Shape({3, 3, 3, 4}));
    const int64_t want_labels[] = {1, 0, 0};
    const Image* want_images[] = {&c, &a, &b};  // a.PNG sorts before b.png
    for (int64_t k = 0; k < 3; ++k) {
      EXPECT_EQ(batch.labels.data<int64_t>()[k], want_labels[k]);
      for (int64_t ch = 0; ch < 3; ++ch)
        for (int64_t y = 0; y < 3; ++y)
          for (int64_t x = 0; x < 4; ++x)
            ASSERT_EQ(nchw_at(batch, k, s, ch, y, x), want_images[k]->at(y, x, ch) / 255.f)
                << "sample " << k << " at " << ch << "," << y << "," << x;
    }
  }
}

TEST(ImageFolder, FlatFolderIsUnlabelledAndMixesPngAndJpeg) {
  const std::string dir = make_temp_dir();
  const Image g1 = pattern(2, 3, 1, 4), g2 = smooth(2, 3, 1, 5);
  write_png(join_path(dir, "1.png"), g1);
  write_jpeg(join_path(dir, "2.jpg"), g2);
  write_png(join_path(dir, "3.jpeg"), g1);  // a PNG named .jpeg: the content decides
  make_subdir(dir, "empty");                // a subfolder without images is ignored
  auto ds = open_dataset(dir);
  ASSERT_EQ(ds->size(), 3);
  EXPECT_FALSE(ds->labelled());
  EXPECT_EQ(ds->num_classes(), 0);
  EXPECT_TRUE(ds->class_names().empty());
  EXPECT_EQ(ds->sample_shape(), Shape({1, 2, 3}));
  Batch b = ds->get({0, 1, 2});
  for (int k = 0; k < 3; ++k) EXPECT_EQ(b.labels.data<int64_t>()[k], kNoLabel);
  for (int64_t i = 0; i < 6; ++i) {
    EXPECT_EQ(b.inputs.data<float>()[i], g1.px[static_cast<size_t>(i)] / 255.f) << i;
    EXPECT_NEAR(b.inputs.data<float>()[6 + i], g2.px[static_cast<size_t>(i)] / 255.f, 2.5f / 255.f) << i;
    EXPECT_EQ(b.inputs.data<float>()[12 + i], g1.px[static_cast<size_t>(i)] / 255.f) << i;
  }
}

TEST(ImageFolder, RgbJpegWithinTolerance) {
  const std::string dir = make_temp_dir();
  const Image im = smooth(8, 8, 3, 1);
  write_jpeg(join_path(dir, "a.jpg"), im);
  auto ds = open_image_folder(dir);
  const Shape s = ds->sample_shape();
  ASSERT_EQ(s, Shape({3, 8, 8}));
  Batch b = ds->get({0});
  float worst = 0;
  for (int64_t ch = 0; ch < 3; ++ch)
    for (int64_t y = 0; y < 8; ++y)
      for (int64_t x = 0; x < 8; ++x)
        worst = std::max(worst, std::fabs(nchw_at(b, 0, s, ch, y, x) - im.at(y, x, ch) / 255.f));
  EXPECT_LE(worst, 3.f / 255.f);  // quality 100, 4:4:4: a few levels of YCbCr rounding at most
}

TEST(ImageFolder, LayoutNhwcTransposesNchw) {
  const std::string dir = make_temp_dir();
  const Image im = pattern(2, 3, 3, 7);
  write_png(join_path(dir, "a.png"), im);
  auto nhwc = open_dataset("images:" + dir + "?layout=nhwc");
  ASSERT_EQ(nhwc->sample_shape(), Shape({2, 3, 3}));
  Batch b = nhwc->get({0});
  for (size_t i = 0; i < im.px.size(); ++i) EXPECT_EQ(b.inputs.data<float>()[i], im.px[i] / 255.f) << i;
  ImageOptions o;
  o.layout = "nhwc";
  EXPECT_EQ(open_dataset(dir, o)->sample_shape(), Shape({2, 3, 3}));  // options for a plain folder
}

TEST(ImageFolder, ChannelConversionsAndAlpha) {
  const std::string dir = make_temp_dir();
  write_png(join_path(dir, "a.png"), Image{1, 2, 3, {255, 0, 0, 10, 20, 30}});
  write_png(join_path(dir, "b.png"), gray(1, 2, {7, 200}));
  write_png(join_path(dir, "c.png"), Image{1, 2, 4, {1, 2, 3, 0, 40, 50, 60, 128}});  // RGBA
  write_png(join_path(dir, "d.png"), Image{1, 2, 2, {90, 0, 91, 255}});               // gray + alpha
  // As stored the channel counts differ (3, 1, 3, 1): an error naming the first that differs.
  expect_error([&] { open_image_folder(dir); }, {"b.png", "1 channel", "a.png", "channels=3"});

  ImageOptions rgb;
  rgb.channels = 3;
  auto ds = open_image_folder(dir, rgb);
  Batch b = ds->get({0, 1, 2, 3});  // [4, 3, 1, 2]
  const float* p = b.inputs.data<float>();
  // a: unchanged.
  EXPECT_EQ(p[0], 1.f);
  EXPECT_EQ(p[1], 10 / 255.f);
  EXPECT_EQ(p[5], 30 / 255.f);
  // b: gray copied to R, G and B.
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(p[6 + 2 * c], 7 / 255.f);
    EXPECT_EQ(p[6 + 2 * c + 1], 200 / 255.f);
  }
  // c: alpha dropped, not composited (pixel 0 has alpha 0 and keeps its colour).
  const float c_want[] = {1, 40, 2, 50, 3, 60};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(p[12 + i], c_want[i] / 255.f) << i;
  // d: gray + alpha, alpha dropped, copied to three channels.
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(p[18 + 2 * c], 90 / 255.f);
    EXPECT_EQ(p[18 + 2 * c + 1], 91 / 255.f);
  }

  ImageOptions g;
  g.channels = 1;
  Batch bg = open_image_folder(dir, g)->get({0, 1});  // [2, 1, 1, 2]
  EXPECT_NEAR(bg.inputs.data<float>()[0], 0.299f, 1e-6f);  // pure red
  EXPECT_NEAR(bg.inputs.data<float>()[1], (0.299f * 10 + 0.587f * 20 + 0.114f * 30) / 255.f, 1e-6f);
  EXPECT_EQ(bg.inputs.data<float>()[2], 7 / 255.f);
}

TEST(ImageFolder, PalettePngIsExpanded) {
  const std::string dir = make_temp_dir();
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  img.width = 3;
  img.height = 1;
  img.format = PNG_FORMAT_RGB_COLORMAP;
  img.colormap_entries = 2;
  const uint8_t colormap[] = {10, 20, 30, 200, 150, 100};
  const uint8_t indices[] = {1, 0, 1};
  ASSERT_NE(png_image_write_to_file(&img, join_path(dir, "p.png").c_str(), 0, indices, 0, colormap), 0) << img.message;
  auto ds = open_image_folder(dir);
  ASSERT_EQ(ds->sample_shape(), Shape({3, 1, 3}));
  Batch b = ds->get({0});
  const float want[] = {200, 10, 200, 150, 20, 150, 100, 30, 100};  // nchw: R row, G row, B row
  for (int i = 0; i < 9; ++i) EXPECT_EQ(b.inputs.data<float>()[i], want[i] / 255.f) << i;
}

TEST(ImageFolder, MeanAndStdAreAppliedPerChannelAfterScaling) {
  const std::string dir = make_temp_dir();
  write_png(join_path(dir, "a.png"), Image{1, 1, 3, {51, 102, 255}});
  auto ds = open_dataset("images:" + dir + "?mean=0.5,0.25,0&std=0.5,2,0.25");
  Batch b = ds->get({0});
  EXPECT_NEAR(b.inputs.data<float>()[0], (0.2f - 0.5f) / 0.5f, 1e-6f);
  EXPECT_NEAR(b.inputs.data<float>()[1], (0.4f - 0.25f) / 2.f, 1e-6f);
  EXPECT_NEAR(b.inputs.data<float>()[2], 1.f / 0.25f, 1e-6f);
  // Only a mean: std 1.
  Batch m = open_dataset("images:" + dir + "?mean=1,1,1")->get({0});
  EXPECT_NEAR(m.inputs.data<float>()[0], 0.2f - 1.f, 1e-6f);
  expect_error([&] { open_dataset("images:" + dir + "?mean=0.5,0.5"); }, {"'mean'", "2 values for 3 channels"});
  expect_error([&] { open_dataset("images:" + dir + "?channels=1&std=1,1,1"); }, {"'std'", "3 values for 1 channel"});
}

// One gray PNG, resized with `query`; the output as plain floats times 255.
std::vector<float> resized(const Image& im, const std::string& query, Shape* shape) {
  const std::string dir = make_temp_dir();
  write_png(join_path(dir, "a.png"), im);
  auto ds = open_dataset("images:" + dir + "?" + query);
  *shape = ds->sample_shape();
  Batch b = ds->get({0});
  std::vector<float> out;
  for (int64_t i = 0; i < b.inputs.numel(); ++i) out.push_back(b.inputs.data<float>()[i] * 255.f);
  return out;
}

void expect_values(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-3f) << "at " << i;
}

TEST(ImageFolder, ResizeMatchesHandWorkedValues) {
  Shape s;
  // Bilinear 2x2 -> 4x4, half-pixel centres: each axis takes rows (1,0), (.75,.25), (.25,.75),
  // (0,1). Rows [0,60] and [120,240] become [0,15,45,60] and [120,150,210,240].
  expect_values(resized(gray(2, 2, {0, 60, 120, 240}), "size=4x4", &s),
                {0, 15, 45, 60, 30, 48.75f, 86.25f, 105, 90, 116.25f, 168.75f, 195, 120, 150, 210, 240});
  EXPECT_EQ(s, Shape({1, 4, 4}));
  // Bilinear 1x4 -> 1x2 shrinks by 2: the triangle filter spans 2 input pixels each side of the
  // centre (input x = 0.5 and 2.5): weights .75,.75,.25 for pixels 0,1,2 (the tap at -1 falls
  // outside and is dropped), renormalised by 1.75: (3*0 + 3*40 + 80)/7 and (40 + 3*80 + 3*200)/7.
  expect_values(resized(gray(1, 4, {0, 40, 80, 200}), "size=1x2", &s), {200.f / 7, 880.f / 7});
  // Bilinear 1x3 -> 1x2, scale 2/3: centre 0.25, weights tri(2/3 * d) = 5/6 and 1/2 for pixels 0
  // and 1, renormalised: .625 and .375. [0, 80, 160] -> [30, 130].
  expect_values(resized(gray(1, 3, {0, 80, 160}), "size=1x2", &s), {30, 130});
  // Nearest: the pixel at floor((x + 0.5) * in / out).
  expect_values(resized(gray(1, 4, {0, 40, 80, 200}), "size=1x2&resize=nearest", &s), {40, 200});
  expect_values(resized(gray(2, 2, {0, 60, 120, 240}), "size=4x4&resize=nearest", &s),
                {0, 0, 60, 60, 0, 0, 60, 60, 120, 120, 240, 240, 120, 120, 240, 240});
  // size=N is NxN; a same-size image is unchanged.
  expect_values(resized(gray(2, 2, {0, 60, 120, 240}), "size=2", &s), {0, 60, 120, 240});
}

TEST(ImageFolder, SizesMustAgreeUnlessResized) {
  const std::string dir = make_temp_dir();
  write_png(join_path(dir, "a.png"), pattern(4, 4, 3, 1));
  write_png(join_path(dir, "b.png"), pattern(4, 4, 3, 2));
  write_png(join_path(dir, "c.png"), pattern(6, 5, 3, 3));
  expect_error([&] { open_dataset(dir); }, {"c.png", "6x5", "a.png", "4x4", "size=HxW"});
  auto ds = open_dataset("images:" + dir + "?size=2x3&layout=nhwc");
  EXPECT_EQ(ds->sample_shape(), Shape({2, 3, 3}));
  EXPECT_EQ(ds->get({0, 1, 2}).inputs.shape(), Shape({3, 2, 3, 3}));
  // Options from the spec override those passed in.
  ImageOptions o;
  o.height = o.width = 7;
  o.channels = 1;
  EXPECT_EQ(open_dataset("images:" + dir + "?size=2x3", o)->sample_shape(), Shape({1, 2, 3}));
}

TEST(ImageFolder, LargeHeaderBeyondTheProbePrefix) {
  // Two 60 kB APP15 segments push the JPEG's frame header past the first 16 kB.
  const std::string dir = make_temp_dir();
  const Image im = smooth(4, 4, 1, 0);
  const std::string jpeg = jpeg_bytes(im);
  std::string app;
  for (int k = 0; k < 2; ++k) {
    const int len = 60000;
    app += "\xFF\xEF";
    app.push_back(static_cast<char>(len >> 8));
    app.push_back(static_cast<char>(len & 0xff));
    app += std::string(len - 2, 'x');
  }
  write_file_atomic(join_path(dir, "big.jpg"), jpeg.substr(0, 2) + app + jpeg.substr(2));
  auto ds = open_image_folder(dir);
  EXPECT_EQ(ds->sample_shape(), Shape({1, 4, 4}));
  EXPECT_NEAR(ds->get({0}).inputs.data<float>()[5], im.px[5] / 255.f, 2.5f / 255.f);
}

TEST(ImageFolder, CorruptAndTruncatedFilesNameTheFile) {
  const std::string good_png_dir = make_temp_dir();
  write_png(join_path(good_png_dir, "x.png"), pattern(16, 16, 3, 1));
  const std::string png = read_file(join_path(good_png_dir, "x.png"));
  const std::string jpeg = jpeg_bytes(pattern(16, 16, 3, 1), 90);

  auto folder_with = [](const std::string& name, const std::string& bytes) {
    const std::string dir = make_temp_dir();
    write_png(join_path(dir, "a.png"), pattern(16, 16, 3, 2));
    write_file_atomic(join_path(dir, name), bytes);
    return dir;
  };
  // Not an image at all.
  std::string dir = folder_with("b.png", "this is text, not a PNG");
  expect_error([&] { open_dataset(dir); }, {"b.png", "not a PNG or JPEG"});
  dir = folder_with("b.jpg", "");
  expect_error([&] { open_dataset(dir); }, {"b.jpg", "empty"});
  // Header cut short: reported when the folder is opened.
  dir = folder_with("b.png", png.substr(0, 20));
  expect_error([&] { open_dataset(dir); }, {"b.png", "corrupt PNG header"});
  dir = folder_with("b.jpg", jpeg.substr(0, 10));
  expect_error([&] { open_dataset(dir); }, {"b.jpg", "corrupt JPEG header"});
  // Image data cut short or damaged: the header is fine, so opening works and get() fails.
  dir = folder_with("b.png", png.substr(0, png.size() / 2));
  auto ds = open_dataset(dir);
  EXPECT_NO_THROW(ds->get({0}));
  expect_error([&] { ds->get({1}); }, {"b.png", "corrupt PNG image data"});
  std::string bad_crc = png;
  bad_crc[bad_crc.size() / 2] = static_cast<char>(bad_crc[bad_crc.size() / 2] ^ 0x55);
  dir = folder_with("b.png", bad_crc);
  expect_error([&] { open_dataset(dir)->get({1}); }, {"b.png", "corrupt PNG image data"});
  dir = folder_with("b.jpg", jpeg.substr(0, jpeg.size() * 2 / 3));
  expect_error([&] { open_dataset(dir)->get({1}); }, {"b.jpg", "corrupt JPEG image data"});
  // A file replaced by another size after opening.
  dir = folder_with("b.png", png);
  ds = open_dataset(dir);
  write_png(join_path(dir, "b.png"), pattern(3, 3, 3, 0));
  expect_error([&] { ds->get({1}); }, {"b.png", "changed since"});
  expect_error([&] { ds->get({2}); }, {"sample index 2", "0..1"});
}

TEST(ImageFolder, MutatedFilesGiveAnImageOrAnError) {
  // Random byte flips and cuts of a PNG and a JPEG: opening and reading either works or throws
  // octet::Error; never a crash or another exception (run under ASan to see memory errors).
  const uint32_t seed = 20240607;
  std::printf("mutation seed %u\n", seed);
  std::mt19937 rng(seed);
  const std::string dir = make_temp_dir();
  write_png(join_path(dir, "x.png"), pattern(12, 10, 3, 1));
  const std::string originals[] = {read_file(join_path(dir, "x.png")), jpeg_bytes(smooth(12, 10, 3, 1), 80)};
  std::filesystem::remove(join_path(dir, "x.png"));
  int errors = 0, successes = 0;
  for (int round = 0; round < 300; ++round) {
    const bool png = round % 2 == 0;
    std::string bytes = originals[png ? 0 : 1];
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    if (rng() % 3 == 0) bytes.resize(rng() % bytes.size());
    const std::string path = join_path(dir, png ? "m.png" : "m.jpg");
    write_file_atomic(path, bytes);
    try {
      open_image_folder(dir)->get({0});
      ++successes;
    } catch (const Error&) {
      ++errors;
    }
    std::filesystem::remove(path);
  }
  EXPECT_GT(errors, 0);
  std::printf("%d mutated files decoded, %d rejected\n", successes, errors);
}

TEST(ImageFolder, SixteenBitPngIsAnError) {
  const std::string dir = make_temp_dir();
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  img.width = 2;
  img.height = 1;
  img.format = PNG_FORMAT_LINEAR_Y;
  const uint16_t px[] = {0, 65535};
  ASSERT_NE(png_image_write_to_file(&img, join_path(dir, "deep.png").c_str(), 0, px, 0, nullptr), 0) << img.message;
  expect_error([&] { open_dataset(dir); }, {"deep.png", "16-bit PNG", "8 bits"});
}

TEST(ImageFolder, RejectsBadFoldersNamingThem) {
  expect_error([] { open_dataset("images:/nonexistent/octet-images"); }, {"/nonexistent/octet-images", "does not exist"});
  expect_error([] { open_dataset("images:"); }, {"empty folder name"});
  expect_error([] { open_dataset("images:?size=3"); }, {"empty folder name"});
  const std::string empty = make_temp_dir();
  expect_error([&] { open_dataset("images:" + empty); }, {empty, "no images"});
  const std::string only_text = make_temp_dir();
  write_file_atomic(join_path(only_text, "a.txt"), "x");
  expect_error([&] { open_dataset("images:" + only_text); }, {only_text, "no images"});
  expect_error([&] { open_dataset("images:" + join_path(only_text, "a.txt")); }, {"a.txt", "is a file"});
  const std::string empty_classes = make_temp_dir();
  make_subdir(empty_classes, "cat");
  expect_error([&] { open_dataset("images:" + empty_classes); }, {empty_classes, "no images", "class folders"});
  // Both layouts at once.
  const std::string mixed = make_temp_dir();
  write_png(join_path(mixed, "top.png"), pattern(2, 2, 1, 0));
  write_png(join_path(make_subdir(mixed, "cat"), "in.png"), pattern(2, 2, 1, 0));
  expect_error([&] { open_dataset(mixed); }, {mixed, "top.png", "'cat'", "one layout"});
  // A folder with labels.txt or .npy files stays an npy folder, and image options are refused there.
  const std::string npy_like = make_temp_dir();
  write_png(join_path(npy_like, "a.png"), pattern(2, 2, 1, 0));
  write_file_atomic(join_path(npy_like, "labels.txt"), "a.npy 0\n");
  expect_error([&] { open_dataset(npy_like); }, {"a.npy", "missing"});
  ImageOptions o;
  o.height = o.width = 4;
  expect_error([&] { open_dataset(npy_like, o); }, {npy_like, "image options", "not an image folder"});
  expect_error([&] { open_dataset("fashion-mnist", o); }, {"fashion-mnist", "image options"});
}

TEST(ImageOptions, ParsesTheSpecGrammar) {
  const ImageOptions o =
      parse_image_options("size=224x160&channels=3&mean=0.485,0.456,0.406&std=0.229,0.224,0.225&layout=nhwc&resize=nearest");
  EXPECT_EQ(o.height, 224);
  EXPECT_EQ(o.width, 160);
  EXPECT_EQ(o.channels, 3);
  EXPECT_EQ(o.mean, std::vector<float>({0.485f, 0.456f, 0.406f}));
  EXPECT_EQ(o.std, std::vector<float>({0.229f, 0.224f, 0.225f}));
  EXPECT_EQ(o.layout, "nhwc");
  EXPECT_EQ(o.resize, "nearest");
  ImageOptions base;
  base.channels = 1;
  base.layout = "nhwc";
  const ImageOptions kept = parse_image_options("size=5", base);
  EXPECT_EQ(kept.height, 5);
  EXPECT_EQ(kept.width, 5);
  EXPECT_EQ(kept.channels, 1);
  EXPECT_EQ(kept.layout, "nhwc");
  EXPECT_EQ(parse_image_options("").layout, "nchw");
}

TEST(ImageOptions, RejectsBadKeysAndValuesNamingTheKey) {
  expect_error([] { parse_image_options("colour=red"); }, {"'colour'", "unknown", "size, channels"});
  expect_error([] { parse_image_options("size=224x224&size=3"); }, {"'size'", "twice"});
  expect_error([] { parse_image_options("size"); }, {"'size'", "KEY=VALUE"});
  expect_error([] { parse_image_options("size=0x5"); }, {"'size'", "'0x5'"});
  expect_error([] { parse_image_options("size=ax5"); }, {"'size'", "'ax5'"});
  expect_error([] { parse_image_options("size=100000x5"); }, {"'size'", "100000x5"});
  expect_error([] { parse_image_options("channels=2"); }, {"'channels'", "'2'", "1 (gray) or 3"});
  expect_error([] { parse_image_options("layout=chw"); }, {"'layout'", "'chw'"});
  expect_error([] { parse_image_options("resize=bicubic"); }, {"'resize'", "'bicubic'"});
  expect_error([] { parse_image_options("mean=0.5,x"); }, {"'mean'", "'x'"});
  expect_error([] { parse_image_options("mean=0.5,"); }, {"'mean'", "''"});
  expect_error([] { parse_image_options("mean=nan"); }, {"'mean'", "'nan'"});
  expect_error([] { parse_image_options("std=0.5,0"); }, {"'std'", "positive"});
  expect_error([] { parse_image_options("std=-1"); }, {"'std'", "positive"});
  // Options given as a struct are checked the same way when a folder is opened.
  const std::string dir = make_temp_dir();
  write_png(join_path(dir, "a.png"), pattern(2, 2, 3, 0));
  ImageOptions o;
  o.height = 4;  // width left 0
  expect_error([&] { open_image_folder(dir, o); }, {"images:" + dir, "'size'", "4x0"});
  o = ImageOptions();
  o.resize = "cubic";
  expect_error([&] { open_image_folder(dir, o); }, {"'resize'", "'cubic'"});
  o = ImageOptions();
  o.channels = 4;
  expect_error([&] { open_image_folder(dir, o); }, {"'channels'", "4"});
  expect_error([&] { open_dataset("images:" + dir + "?channels=3&bogus=1"); },
               {"data set 'images:" + dir + "?channels=3&bogus=1'", "'bogus'", "unknown"});
}

}  // namespace
}  // namespace octet::data
