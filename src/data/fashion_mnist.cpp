// Fashion-MNIST's IDX files, gzipped (as Debian's dataset-fashion-mnist installs them) or plain.
// zlib's gz* functions read both transparently. The payload is read in chunks, so a header that
// claims billions of images makes octet read what is there and report the truncation rather than
// allocate what the header asks for.
#include <zlib.h>

#include <cstring>

#include "data/dataset.h"
#include "ir/file_util.h"

namespace octet::data {

namespace {

constexpr uint32_t kImagesMagic = 0x00000803;  // unsigned byte, 3 dims
constexpr uint32_t kLabelsMagic = 0x00000801;  // unsigned byte, 1 dim
constexpr uint32_t kMaxSide = 4096;
constexpr int64_t kNumClasses = 10;

// Reads at most `limit` bytes of the decompressed file.
std::string read_gz(const std::string& path, uint64_t limit) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw Error(str_cat(path, ": cannot open"));
  std::string out;
  constexpr unsigned kChunk = 1u << 20;
  while (out.size() < limit) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(kChunk, limit - out.size()));
    const size_t old = out.size();
    out.resize(old + want);
    const int got = gzread(f, &out[old], static_cast<unsigned>(want));
    if (got < 0) {
      int code = 0;
      std::string msg = gzerror(f, &code);
      gzclose(f);
      throw Error(str_cat(path, ": cannot decompress: ", msg));
    }
    out.resize(old + static_cast<size_t>(got));
    if (got == 0) break;
  }
  // A stream cut short is reported by gzread as end of data with Z_BUF_ERROR set.
  int code = 0;
  const char* msg = gzerror(f, &code);
  if (code != Z_OK && code != Z_STREAM_END) {
    std::string text = msg ? msg : "";
    gzclose(f);
    throw Error(str_cat(path, ": cannot decompress: ", text, " (truncated or corrupt gzip file?)"));
  }
  gzclose(f);
  return out;
}

uint32_t be32(const std::string& s, size_t off) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data()) + off;
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// Finds `name`.gz, else `name` uncompressed, in `dir`.
std::string find_idx(const std::string& dir, const std::string& name) {
  std::string gz = join_path(dir, name + ".gz");
  if (file_exists(gz)) return gz;
  std::string plain = join_path(dir, name);
  if (file_exists(plain)) return plain;
  throw Error(str_cat(gz, ": missing Fashion-MNIST file (install Debian's dataset-fashion-mnist, ",
                      "or set OCTET_FASHION_MNIST_DIR to a folder holding ", name, ".gz)"));
}

// Reads an IDX file with `ndims` dims after `magic`; returns the dims and the payload.
std::string read_idx(const std::string& path, uint32_t magic, size_t ndims, std::vector<uint32_t>& dims) {
  const size_t header = 4 + 4 * ndims;
  // The limit is one byte past what the header allows, so trailing data is detected.
  std::string head = read_gz(path, header);
  if (head.size() < header)
    throw Error(str_cat(path, ": truncated IDX header (", head.size(), " of ", header, " bytes)"));
  if (be32(head, 0) != magic)
    throw Error(str_cat(path, ": bad IDX magic number ", hex32(be32(head, 0)), ", expected ",
                        hex32(magic), magic == kImagesMagic ? " (images)" : " (labels)"));
  dims.clear();
  uint64_t payload = 1;
  for (size_t d = 0; d < ndims; ++d) {
    dims.push_back(be32(head, 4 + 4 * d));
    payload *= dims.back();  // <= 2^32 * 4096 * 4096 = 2^56: cannot overflow
  }
  if (ndims == 3)
    for (size_t d = 1; d < 3; ++d)
      if (dims[d] < 1 || dims[d] > kMaxSide)
        throw Error(str_cat(path, ": image ", d == 1 ? "rows" : "columns", " = ", dims[d],
                            " is out of range 1..", kMaxSide));
  std::string all = read_gz(path, header + payload + 1);
  if (all.size() < header + payload)
    throw Error(str_cat(path, ": truncated IDX file: the header promises ", dims[0],
                        ndims == 3 ? " images" : " labels", " (", header + payload, " bytes) but it has ",
                        all.size(), " bytes"));
  if (all.size() > header + payload)
    throw Error(str_cat(path, ": IDX file has trailing data after the ", dims[0],
                        ndims == 3 ? " images" : " labels", " its header declares"));
  return all.substr(header);
}

}  // namespace

std::unique_ptr<Dataset> open_fashion_mnist(const std::string& dir, const std::string& split) {
  if (split != "train" && split != "test")
    throw Error(str_cat("fashion-mnist: unknown split '", split, "' (train or test)"));
  if (!is_directory(dir))
    throw Error(str_cat(dir, ": Fashion-MNIST folder does not exist (install Debian's ",
                        "dataset-fashion-mnist, or set OCTET_FASHION_MNIST_DIR)"));
  const std::string prefix = split == "train" ? "train" : "t10k";
  const std::string image_path = find_idx(dir, prefix + "-images-idx3-ubyte");
  const std::string label_path = find_idx(dir, prefix + "-labels-idx1-ubyte");

  std::vector<uint32_t> idims, ldims;
  std::string pixels = read_idx(image_path, kImagesMagic, 3, idims);
  std::string label_bytes = read_idx(label_path, kLabelsMagic, 1, ldims);
  if (idims[0] != ldims[0])
    throw Error(str_cat(image_path, " has ", idims[0], " images but ", label_path, " has ", ldims[0],
                        " labels (the counts must agree)"));
  if (idims[0] == 0) throw Error(str_cat(image_path, ": holds no images"));

  const int64_t n = idims[0], rows = idims[1], cols = idims[2];
  Tensor samples(DType::UInt8, {n, 1, rows, cols});
  std::memcpy(samples.raw(), pixels.data(), pixels.size());
  std::vector<int64_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    labels[static_cast<size_t>(i)] = static_cast<uint8_t>(label_bytes[static_cast<size_t>(i)]);
    if (labels[static_cast<size_t>(i)] >= kNumClasses)
      throw Error(str_cat(label_path, ": label ", labels[static_cast<size_t>(i)], " of sample ", i,
                          " is out of range 0..", kNumClasses - 1));
  }
  std::vector<std::string> classes = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return std::make_unique<InMemoryDataset>("fashion-mnist:" + split, std::move(samples),
                                           std::move(labels), std::move(classes));
}

}  // namespace octet::data
