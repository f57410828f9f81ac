// Folders of PNG and JPEG images as data sets: layout, options and error rules are documented at
// open_image_folder and ImageOptions in data/dataset.h.
//
// Opening reads only each file's header (the first kProbeBytes, or the whole file when the header
// lies further in); get() decodes, converts channels, resizes on the reference Resize kernel,
// normalises and lays out. Decoding holds no shared state, so get() may run on several threads.
#include <png.h>
#include <turbojpeg.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>

#include "data/dataset.h"
#include "data/image_folder.h"
#include "ir/file_util.h"
#include "kernels/ref/resize_ref.h"

namespace octet::data {

namespace {

constexpr size_t kProbeBytes = 16 * 1024;
// Decoded pixels per image, a bound on memory for a header that claims a huge image.
constexpr int64_t kMaxPixels = int64_t{1} << 28;
// Bound on an output side given in the options.
constexpr int64_t kMaxSide = 65536;

enum class Codec { Png, Jpeg };

// What a header says about an image.
struct ImageInfo {
  Codec codec = Codec::Png;
  int64_t height = 0, width = 0;
  int64_t channels = 0;  // 1 or 3, not counting an alpha channel
  bool alpha = false;    // PNG only: decoded with the alpha channel, which is then dropped
};

struct ImageFile {
  std::string path;
  int64_t label = kNoLabel;
  ImageInfo info;
};

// Decoded 8-bit pixels, row-major [height, width, channels], alpha already dropped.
struct Pixels {
  std::vector<uint8_t> data;
  int64_t height = 0, width = 0, channels = 0;
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_image_name(const std::string& name) {
  if (name.empty() || name[0] == '.') return false;
  const std::string l = lower(name);
  return ends_with(l, ".png") || ends_with(l, ".jpg") || ends_with(l, ".jpeg");
}

bool is_image_file(const std::string& dir, const std::string& name) {
  return is_image_name(name) && !is_directory(join_path(dir, name));
}

// The first `limit` bytes of a file; `whole` says whether that is all of it.
std::string read_prefix(const std::string& path, size_t limit, bool* whole) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw Error(str_cat(path, ": cannot open image: ", std::strerror(errno)));
  std::string bytes(limit, '\0');
  const size_t got = std::fread(bytes.data(), 1, limit, f.get());
  if (std::ferror(f.get())) throw Error(str_cat(path, ": cannot read image: ", std::strerror(errno)));
  bytes.resize(got);
  *whole = got < limit || std::fgetc(f.get()) == EOF;
  return bytes;
}

Codec sniff(const std::string& bytes, const std::string& path) {
  static const char kPng[] = "\x89PNG\r\n\x1a\n";
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), kPng, 8) == 0) return Codec::Png;
  if (bytes.size() >= 3 && static_cast<uint8_t>(bytes[0]) == 0xFF && static_cast<uint8_t>(bytes[1]) == 0xD8 &&
      static_cast<uint8_t>(bytes[2]) == 0xFF)
    return Codec::Jpeg;
  if (bytes.empty()) throw Error(str_cat(path, ": image file is empty"));
  throw Error(str_cat(path, ": not a PNG or JPEG file (its first bytes are neither signature)"));
}

// png_image owns libpng state in `opaque`; png_image_free is safe to call more than once.
struct PngImage {
  png_image image;
  PngImage() {
    std::memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
  }
  ~PngImage() { png_image_free(&image); }
  PngImage(const PngImage&) = delete;
  PngImage& operator=(const PngImage&) = delete;
};

struct TjHandle {
  tjhandle h = tjInitDecompress();
  TjHandle() = default;
  ~TjHandle() {
    if (h) tjDestroy(h);
  }
  TjHandle(const TjHandle&) = delete;
  TjHandle& operator=(const TjHandle&) = delete;
};

tjhandle checked(const TjHandle& t, const std::string& path) {
  if (!t.h) throw Error(str_cat(path, ": cannot start the JPEG decoder: ", tjGetErrorStr2(nullptr)));
  return t.h;
}

// Fills `info` from a PNG header in `bytes`; false (with libpng's message) if libpng cannot
// read it, which for a prefix may only mean that the header continues past it.
bool png_header(const std::string& bytes, PngImage& png, ImageInfo* info, std::string* message) {
  if (!png_image_begin_read_from_memory(&png.image, bytes.data(), bytes.size())) {
    *message = png.image.message;
    return false;
  }
  info->codec = Codec::Png;
  info->height = png.image.height;
  info->width = png.image.width;
  info->channels = (png.image.format & PNG_FORMAT_FLAG_COLOR) ? 3 : 1;
  info->alpha = (png.image.format & PNG_FORMAT_FLAG_ALPHA) != 0;
  return true;
}

bool jpeg_header(const std::string& bytes, tjhandle tj, ImageInfo* info, std::string* message,
                 const std::string& path) {
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(tj, reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<unsigned long>(bytes.size()), &width, &height, &subsampling, &colorspace) != 0) {
    *message = tjGetErrorStr2(tj);
    return false;
  }
  // Data that ends before the frame header reads as a tables-only stream: success with size 0.
  if (width < 1 || height < 1) {
    *message = "no frame header (the data ends before the image size)";
    return false;
  }
  if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK)
    throw Error(str_cat(path, ": CMYK JPEG images are not supported; convert it to RGB"));
  info->codec = Codec::Jpeg;
  info->height = height;
  info->width = width;
  info->channels = colorspace == TJCS_GRAY ? 1 : 3;
  info->alpha = false;
  return true;
}

// Checks that hold for any header, once it has been read.
void check_info(const ImageInfo& info, const std::string& path, bool sixteen_bit) {
  if (sixteen_bit)
    throw Error(str_cat(path, ": 16-bit PNG images are not supported (libpng's simplified reader treats them ",
                        "as linear light); save it with 8 bits per channel"));
  if (info.height < 1 || info.width < 1)
    throw Error(str_cat(path, ": image is ", info.height, "x", info.width, ", which has no pixels"));
  if (info.height * info.width > kMaxPixels)
    throw Error(str_cat(path, ": image is ", info.height, "x", info.width, ", more than the ", kMaxPixels,
                        " pixels octet decodes"));
}

ImageInfo probe_image(const std::string& path) {
  bool whole = false;
  std::string bytes = read_prefix(path, kProbeBytes, &whole);
  const Codec codec = sniff(bytes, path);
  ImageInfo info;
  std::string message;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (attempt == 1) {
      if (whole) break;
      bytes = read_file(path);  // the header runs past the prefix (large EXIF or text chunks)
    }
    if (codec == Codec::Png) {
      PngImage png;
      if (png_header(bytes, png, &info, &message)) {
        check_info(info, path, (png.image.format & PNG_FORMAT_FLAG_LINEAR) != 0);
        return info;
      }
    } else {
      TjHandle tj;
      if (jpeg_header(bytes, checked(tj, path), &info, &message, path)) {
        check_info(info, path, false);
        return info;
      }
    }
  }
  throw Error(str_cat(path, ": corrupt ", codec == Codec::Png ? "PNG" : "JPEG", " header: ", message));
}

Pixels decode_image(const ImageFile& file) {
  const std::string& path = file.path;
  const std::string bytes = read_file(path);
  const Codec codec = sniff(bytes, path);
  ImageInfo info;
  std::string message;
  auto changed = [&] {
    return Error(str_cat(path, ": image changed since the data set was opened (was ",
                         file.info.codec == Codec::Png ? "PNG " : "JPEG ", file.info.height, "x", file.info.width,
                         "x", file.info.channels, ")"));
  };
  Pixels px;
  px.height = file.info.height;
  px.width = file.info.width;
  px.channels = file.info.channels;
  const int64_t stored = px.channels + (file.info.alpha ? 1 : 0);
  std::vector<uint8_t> raw(static_cast<size_t>(px.height * px.width * stored));
  if (codec == Codec::Png) {
    PngImage png;
    if (!png_header(bytes, png, &info, &message))
      throw Error(str_cat(path, ": corrupt PNG header: ", message));
    if (codec != file.info.codec || info.height != px.height || info.width != px.width ||
        info.channels != px.channels || info.alpha != file.info.alpha || (png.image.format & PNG_FORMAT_FLAG_LINEAR))
      throw changed();
    png.image.format = (px.channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY) | (info.alpha ? PNG_FORMAT_FLAG_ALPHA : 0);
    OCTET_CHECK(PNG_IMAGE_SIZE(png.image) == raw.size(), "PNG buffer size");
    if (!png_image_finish_read(&png.image, nullptr, raw.data(), 0, nullptr))
      throw Error(str_cat(path, ": corrupt PNG image data: ", png.image.message));
  } else {
    TjHandle tj;
    const tjhandle h = checked(tj, path);
    if (!jpeg_header(bytes, h, &info, &message, path)) throw Error(str_cat(path, ": corrupt JPEG header: ", message));
    if (codec != file.info.codec || info.height != px.height || info.width != px.width || info.channels != px.channels)
      throw changed();
    // Warnings (truncated data, corrupt entropy-coded segments) leave a partly gray image:
    // stop on them and report the file as corrupt.
    if (tjDecompress2(h, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()),
                      raw.data(), static_cast<int>(px.width), 0, static_cast<int>(px.height),
                      px.channels == 3 ? TJPF_RGB : TJPF_GRAY,
                      TJFLAG_ACCURATEDCT | TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS) != 0)
      throw Error(str_cat(path, ": corrupt JPEG image data: ", tjGetErrorStr2(h)));
  }
  if (stored == px.channels) {
    px.data = std::move(raw);
  } else {  // drop alpha
    const int64_t n = px.height * px.width;
    px.data.resize(static_cast<size_t>(n * px.channels));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t c = 0; c < px.channels; ++c)
        px.data[static_cast<size_t>(i * px.channels + c)] = raw[static_cast<size_t>(i * stored + c)];
  }
  return px;
}

// Everything get() needs to turn decoded pixels into one sample.
struct Plan {
  int64_t height = 0, width = 0, channels = 0;  // output
  kernels::ResizeParams resize;
  std::vector<double> mean, inv_std;  // one per output channel
  bool nchw = true;
};

// [0,1] values in `channels` channels, [height, width, channels].
std::vector<double> to_unit_channels(const Pixels& px, int64_t channels) {
  const int64_t n = px.height * px.width;
  std::vector<double> out(static_cast<size_t>(n * channels));
  const uint8_t* src = px.data.data();
  for (int64_t i = 0; i < n; ++i) {
    double* dst = out.data() + i * channels;
    if (px.channels == channels) {
      for (int64_t c = 0; c < channels; ++c) dst[c] = src[i * channels + c] / 255.0;
    } else if (px.channels == 1) {  // gray to RGB
      for (int64_t c = 0; c < channels; ++c) dst[c] = src[i] / 255.0;
    } else {  // RGB to gray: ITU-R BT.601 luma
      const uint8_t* rgb = src + i * 3;
      dst[0] = (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]) / 255.0;
    }
  }
  return out;
}

void make_sample(const Pixels& px, const Plan& plan, float* out) {
  std::vector<double> hwc = to_unit_channels(px, plan.channels);
  if (px.height != plan.height || px.width != plan.width) {
    auto taps = [&](int64_t in, int64_t out_size, const kernels::ResizeParams& p) {
      kernels::ResizeAxis axis;
      axis.in_size = in;
      axis.out_size = out_size;
      axis.scale = static_cast<double>(out_size) / static_cast<double>(in);
      return kernels::resize_axis_taps(axis, p);
    };
    kernels::ResizeParams copy;  // nearest at scale 1: the identity, for the channel axis
    const std::vector<kernels::ResizeTaps> all = {taps(px.height, plan.height, plan.resize),
                                                  taps(px.width, plan.width, plan.resize),
                                                  taps(plan.channels, plan.channels, copy)};
    std::vector<double> resized(static_cast<size_t>(plan.height * plan.width * plan.channels));
    kernels::resize_separable_ref(hwc.data(), {px.height, px.width, plan.channels}, all, 0.0, resized.data());
    hwc.swap(resized);
  }
  const int64_t n = plan.height * plan.width;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < plan.channels; ++c) {
      const double v = (hwc[static_cast<size_t>(i * plan.channels + c)] - plan.mean[static_cast<size_t>(c)]) *
                       plan.inv_std[static_cast<size_t>(c)];
      out[plan.nchw ? c * n + i : i * plan.channels + c] = static_cast<float>(v);
    }
}

class ImageFolderDataset : public Dataset {
 public:
  ImageFolderDataset(std::string name, std::vector<ImageFile> files, std::vector<std::string> classes, Plan plan)
      : name_(std::move(name)), files_(std::move(files)), classes_(std::move(classes)), plan_(std::move(plan)) {}

  std::string name() const override { return name_; }
  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  Shape sample_shape() const override {
    return plan_.nchw ? Shape{plan_.channels, plan_.height, plan_.width}
                      : Shape{plan_.height, plan_.width, plan_.channels};
  }
  int64_t num_classes() const override { return static_cast<int64_t>(classes_.size()); }
  std::vector<std::string> class_names() const override { return classes_; }

  Batch get(const std::vector<int64_t>& indices) const override {
    Shape shape = sample_shape();
    const int64_t per_sample = shape_numel(shape);
    shape.insert(shape.begin(), static_cast<int64_t>(indices.size()));
    Batch b{Tensor(DType::Float32, shape), Tensor(DType::Int64, {shape[0]})};
    for (size_t k = 0; k < indices.size(); ++k) {
      const int64_t i = indices[k];
      if (i < 0 || i >= size())
        throw Error(str_cat(name_, ": sample index ", i, " is out of range 0..", size() - 1));
      const ImageFile& f = files_[static_cast<size_t>(i)];
      make_sample(decode_image(f), plan_, b.inputs.data<float>() + static_cast<int64_t>(k) * per_sample);
      b.labels.data<int64_t>()[k] = f.label;
    }
    return b;
  }

 private:
  std::string name_;
  std::vector<ImageFile> files_;
  std::vector<std::string> classes_;
  Plan plan_;
};

// Checks the options that do not depend on the images; `channels` known: also mean/std lengths.
void validate_options(const ImageOptions& o) {
  auto bad = [](const std::string& key, const std::string& rule) {
    return Error(str_cat("image option '", key, "': ", rule));
  };
  const bool keep = o.height == 0 && o.width == 0;
  if (!keep && (o.height < 1 || o.width < 1 || o.height > kMaxSide || o.width > kMaxSide))
    throw bad("size", str_cat("height x width is ", o.height, "x", o.width, "; both must be in 1..", kMaxSide,
                              ", or both 0 to keep the stored size"));
  if (o.resize != "bilinear" && o.resize != "nearest")
    throw bad("resize", str_cat("'", o.resize, "' is not bilinear or nearest"));
  if (o.channels != 0 && o.channels != 1 && o.channels != 3)
    throw bad("channels", str_cat(o.channels, " is not 1 (gray) or 3 (RGB), or 0 for as stored"));
  if (o.layout != "nchw" && o.layout != "nhwc") throw bad("layout", str_cat("'", o.layout, "' is not nchw or nhwc"));
  for (float m : o.mean)
    if (!std::isfinite(m)) throw bad("mean", str_cat(m, " is not finite"));
  for (float s : o.std)
    if (!std::isfinite(s) || !(s > 0)) throw bad("std", str_cat(s, " is not a positive finite number"));
}

void check_per_channel(const std::vector<float>& values, const char* key, int64_t channels,
                       const std::string& reason) {
  if (!values.empty() && static_cast<int64_t>(values.size()) != channels)
    throw Error(str_cat("image option '", key, "': ", values.size(), " values for ", channels, " channel",
                        channels == 1 ? "" : "s", " (", reason, ")"));
}

// The images of a folder, by the rules at open_image_folder.
std::vector<ImageFile> scan_folder(const std::string& dir, std::vector<std::string>* classes) {
  const std::vector<std::string> entries = list_directory(dir);
  std::vector<ImageFile> files;
  std::vector<std::string> class_dirs;
  for (const auto& e : entries) {
    if (e.empty() || e[0] == '.') continue;
    if (is_directory(join_path(dir, e))) class_dirs.push_back(e);
    else if (is_image_name(e)) files.push_back({join_path(dir, e), kNoLabel, {}});
  }
  if (!files.empty()) {
    for (const auto& c : class_dirs) {
      const std::string sub = join_path(dir, c);
      for (const auto& e : list_directory(sub))
        if (is_image_file(sub, e))
          throw Error(str_cat(dir, ": holds images at the top level (", basename_of(files.front().path),
                              ") and in the class folder '", c, "' (", e, "); use one layout: ",
                              "DIR/<class>/<image> (labelled) or DIR/<image> (unlabelled)"));
    }
    classes->clear();
    return files;
  }
  for (size_t label = 0; label < class_dirs.size(); ++label) {
    const std::string sub = join_path(dir, class_dirs[label]);
    for (const auto& e : list_directory(sub))
      if (is_image_file(sub, e)) files.push_back({join_path(sub, e), static_cast<int64_t>(label), {}});
  }
  if (files.empty())
    throw Error(str_cat(dir, ": no images (*.png, *.jpg, *.jpeg) in the folder",
                        class_dirs.empty() ? "" : " or its class folders"));
  *classes = class_dirs;
  return files;
}

}  // namespace

bool looks_like_image_folder(const std::string& dir) {
  const std::vector<std::string> entries = list_directory(dir);
  for (const auto& e : entries)
    if (e == "labels.txt" || ends_with(e, ".npy")) return false;
  for (const auto& e : entries)
    if (is_image_file(dir, e)) return true;
  for (const auto& e : entries) {
    const std::string sub = join_path(dir, e);
    if (e[0] == '.' || !is_directory(sub)) continue;
    for (const auto& f : list_directory(sub))
      if (is_image_file(sub, f)) return true;
  }
  return false;
}

std::unique_ptr<Dataset> open_image_folder(const std::string& dir, const ImageOptions& options) {
  if (dir.empty()) throw Error("image data set: empty folder name (use images:DIR)");
  if (!is_directory(dir)) {
    if (file_exists(dir)) throw Error(str_cat(dir, ": is a file; an image data set is a folder"));
    throw Error(str_cat(dir, ": image folder does not exist"));
  }
  try {
    validate_options(options);
    if (options.channels != 0) {
      check_per_channel(options.mean, "mean", options.channels, "channels=" + std::to_string(options.channels));
      check_per_channel(options.std, "std", options.channels, "channels=" + std::to_string(options.channels));
    }
  } catch (const Error& e) {
    throw Error(str_cat("images:", dir, ": ", e.what()));
  }
  std::vector<std::string> classes;
  std::vector<ImageFile> files = scan_folder(dir, &classes);
  for (auto& f : files) f.info = probe_image(f.path);

  const ImageFile& first = files.front();
  for (const auto& f : files) {
    if (options.channels == 0 && f.info.channels != first.info.channels)
      throw Error(str_cat(f.path, ": image has ", f.info.channels, " channel(s) but ", first.path, " has ",
                          first.info.channels, "; with channels as stored all images must agree (give ",
                          "channels=3 or channels=1 to convert)"));
    if (options.height == 0 && (f.info.height != first.info.height || f.info.width != first.info.width))
      throw Error(str_cat(f.path, ": image is ", f.info.height, "x", f.info.width, " but ", first.path, " is ",
                          first.info.height, "x", first.info.width, "; without a size option all images must ",
                          "have one size (give size=HxW to resize them)"));
  }
  Plan plan;
  plan.channels = options.channels != 0 ? options.channels : first.info.channels;
  plan.height = options.height != 0 ? options.height : first.info.height;
  plan.width = options.width != 0 ? options.width : first.info.width;
  const std::string stored_reason = str_cat(first.path, " has ", plan.channels, " and channels is as stored");
  try {
    check_per_channel(options.mean, "mean", plan.channels, stored_reason);
    check_per_channel(options.std, "std", plan.channels, stored_reason);
  } catch (const Error& e) {
    throw Error(str_cat("images:", dir, ": ", e.what()));
  }
  plan.mean.assign(static_cast<size_t>(plan.channels), 0.0);
  plan.inv_std.assign(static_cast<size_t>(plan.channels), 1.0);
  for (size_t c = 0; c < options.mean.size(); ++c) plan.mean[c] = options.mean[c];
  for (size_t c = 0; c < options.std.size(); ++c) plan.inv_std[c] = 1.0 / static_cast<double>(options.std[c]);
  plan.nchw = options.layout == "nchw";
  if (options.resize == "nearest") {
    plan.resize.mode = kernels::ResizeMode::Nearest;
    plan.resize.coord = kernels::ResizeCoord::HalfPixel;
    plan.resize.nearest = kernels::ResizeNearest::RoundPreferCeil;  // floor(x_ori + 0.5) = floor((x+0.5)*in/out)
  } else {
    plan.resize.mode = kernels::ResizeMode::Linear;
    plan.resize.coord = kernels::ResizeCoord::HalfPixel;
    plan.resize.antialias = true;        // widen the filter when shrinking, like PIL
    plan.resize.exclude_outside = true;  // and cut it off at the edges, renormalised, like PIL
  }
  return std::make_unique<ImageFolderDataset>("images:" + dir, std::move(files), std::move(classes), std::move(plan));
}

// --- options from a spec suffix ---------------------------------------------------------------

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t end = s.find(sep, start);
    parts.push_back(s.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return parts;
    start = end + 1;
  }
}

bool parse_positive(const std::string& s, int64_t* out) {
  if (s.empty() || s.size() > 9) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return v > 0;
}

std::vector<float> parse_floats(const std::string& key, const std::string& value) {
  std::vector<float> out;
  for (const auto& item : split(value, ',')) {
    const char* begin = item.c_str();
    char* end = nullptr;
    errno = 0;
    const float v = std::strtof(begin, &end);
    if (item.empty() || end != begin + item.size() || errno == ERANGE || !std::isfinite(v))
      throw Error(str_cat("image option '", key, "': '", item, "' in '", value, "' is not a finite number"));
    out.push_back(v);
  }
  return out;
}

}  // namespace

ImageOptions parse_image_options(const std::string& options, ImageOptions base) {
  std::set<std::string> seen;
  if (options.empty()) return base;
  for (const auto& pair : split(options, '&')) {
    const size_t eq = pair.find('=');
    if (eq == std::string::npos)
      throw Error(str_cat("image options '", options, "': '", pair, "' is not KEY=VALUE"));
    const std::string key = pair.substr(0, eq), value = pair.substr(eq + 1);
    if (!seen.insert(key).second) throw Error(str_cat("image option '", key, "' is given twice"));
    auto bad = [&](const std::string& rule) {
      return Error(str_cat("image option '", key, "': '", value, "' ", rule));
    };
    if (key == "size") {
      const size_t x = value.find('x');
      int64_t h = 0, w = 0;
      bool ok;
      if (x == std::string::npos) {
        ok = parse_positive(value, &h);
        w = h;
      } else {
        ok = parse_positive(value.substr(0, x), &h) && parse_positive(value.substr(x + 1), &w);
      }
      if (!ok) throw bad("is not HxW or N with positive integers (e.g. 224x224)");
      base.height = h;
      base.width = w;
    } else if (key == "channels") {
      if (value != "1" && value != "3") throw bad("is not 1 (gray) or 3 (RGB)");
      base.channels = value == "1" ? 1 : 3;
    } else if (key == "mean") {
      base.mean = parse_floats(key, value);
    } else if (key == "std") {
      base.std = parse_floats(key, value);
    } else if (key == "layout") {
      if (value != "nchw" && value != "nhwc") throw bad("is not nchw or nhwc");
      base.layout = value;
    } else if (key == "resize") {
      if (value != "bilinear" && value != "nearest") throw bad("is not bilinear or nearest");
      base.resize = value;
    } else {
      throw Error(str_cat("image option '", key, "' is unknown (known: size, channels, mean, std, layout, resize)"));
    }
  }
  validate_options(base);
  return base;
}

}  // namespace octet::data
