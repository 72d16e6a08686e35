#include "data/check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include <opencv2/core.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/parallel.h"
#include "data/image_hash.h"
#include "data/image_io.h"

namespace imagefit {

namespace fs = std::filesystem;

size_t SplitSummary::images() const { return std::accumulate(counts.begin(), counts.end(), size_t(0)); }

double SplitSummary::imbalance() const {
  if (counts.empty()) return 0;
  const auto [lo, hi] = std::minmax_element(counts.begin(), counts.end());
  return *lo == 0 ? 0.0 : double(*hi) / double(*lo);
}

size_t CheckReport::unreadable() const {
  size_t n = skipped.size();
  for (const auto& f : files) n += !f.error.empty();
  return n;
}

size_t CheckReport::leaking_groups() const {
  return size_t(std::count_if(duplicates.begin(), duplicates.end(), [](const DuplicateGroup& g) { return g.across_splits; }));
}

bool CheckReport::has_problems() const { return unreadable() > 0 || leaking_groups() > 0 || !layout_problems.empty(); }

namespace {

// ---- What the first bytes of a file say it is (no decoding) ----

struct HeaderInfo {
  std::string format = "unknown";
  int width = 0, height = 0;
  int bit_depth = 0;  // bits a sample, when the header says
  bool alpha = false, cmyk = false, grayscale = false;
  int frames = 1;  // > 1: animated
};

uint32_t be16(const unsigned char* p) { return uint32_t(p[0]) << 8 | p[1]; }
uint32_t be32(const unsigned char* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
uint32_t le16(const unsigned char* p) { return uint32_t(p[1]) << 8 | p[0]; }
uint32_t le32(const unsigned char* p) { return uint32_t(p[3]) << 24 | uint32_t(p[2]) << 16 | uint32_t(p[1]) << 8 | p[0]; }

void sniff_jpeg(const std::vector<unsigned char>& b, HeaderInfo& h) {
  h.format = "jpeg";
  size_t pos = 2;
  while (pos + 4 <= b.size()) {
    if (b[pos] != 0xFF) return;
    const unsigned char marker = b[pos + 1];
    if (marker == 0xFF) {
      ++pos;
      continue;
    }
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
      pos += 2;
      continue;
    }
    const size_t length = be16(&b[pos + 2]);
    const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof && pos + 10 <= b.size()) {
      h.bit_depth = b[pos + 4];
      h.height = int(be16(&b[pos + 5]));
      h.width = int(be16(&b[pos + 7]));
      const int components = b[pos + 9];
      h.grayscale = components == 1;
      h.cmyk = components == 4;  // Adobe CMYK or YCCK
      return;
    }
    if (marker == 0xDA || length < 2) return;  // scan data before a frame header: malformed
    pos += 2 + length;
  }
}

void sniff_png(const std::vector<unsigned char>& b, HeaderInfo& h) {
  h.format = "png";
  size_t pos = 8;
  while (pos + 8 <= b.size()) {
    const uint32_t length = be32(&b[pos]);
    const unsigned char* type = &b[pos + 4];
    if (std::memcmp(type, "IHDR", 4) == 0 && pos + 8 + 13 <= b.size()) {
      h.width = int(std::min<uint32_t>(be32(&b[pos + 8]), INT32_MAX));
      h.height = int(std::min<uint32_t>(be32(&b[pos + 12]), INT32_MAX));
      h.bit_depth = b[pos + 16];
      const int color = b[pos + 17];
      h.alpha = color == 4 || color == 6;
      h.grayscale = color == 0 || color == 4;
    } else if (std::memcmp(type, "tRNS", 4) == 0) {
      h.alpha = true;  // palette or colour-key transparency
    } else if (std::memcmp(type, "acTL", 4) == 0 && pos + 12 <= b.size()) {
      h.frames = int(std::min<uint32_t>(be32(&b[pos + 8]), 1 << 20));  // APNG
    } else if (std::memcmp(type, "IDAT", 4) == 0) {
      return;  // everything of interest comes before the image data
    }
    if (length > b.size()) return;
    pos += 12 + size_t(length);
  }
}

void sniff_gif(const std::vector<unsigned char>& b, HeaderInfo& h) {
  h.format = "gif";
  if (b.size() < 13) return;
  h.width = int(le16(&b[6]));
  h.height = int(le16(&b[8]));
  size_t pos = 13;
  if (b[10] & 0x80) pos += size_t(3) << ((b[10] & 7) + 1);  // global colour table
  auto skip_sub_blocks = [&] {
    while (pos < b.size() && b[pos] != 0) pos += size_t(b[pos]) + 1;
    ++pos;
  };
  int frames = 0;
  while (pos < b.size()) {
    const unsigned char block = b[pos];
    if (block == 0x3B) break;  // trailer
    if (block == 0x21) {       // extension
      pos += 2;
      skip_sub_blocks();
    } else if (block == 0x2C) {  // image descriptor
      ++frames;
      if (pos + 10 > b.size()) break;
      const unsigned char flags = b[pos + 9];
      pos += 10;
      if (flags & 0x80) pos += size_t(3) << ((flags & 7) + 1);  // local colour table
      ++pos;                                                    // LZW minimum code size
      skip_sub_blocks();
    } else {
      break;
    }
  }
  h.frames = std::max(frames, 1);
}

void sniff_webp(const std::vector<unsigned char>& b, HeaderInfo& h) {
  h.format = "webp";
  if (b.size() < 30) return;
  if (std::memcmp(&b[12], "VP8X", 4) == 0) {
    const unsigned char flags = b[20];
    h.alpha = flags & 0x10;
    if (flags & 0x02) h.frames = 2;  // animated; the frame count needs a walk over the ANMF chunks
    h.width = int((le32(&b[24]) & 0xFFFFFF) + 1);
    h.height = int((le32(&b[27]) & 0xFFFFFF) + 1);
  } else if (std::memcmp(&b[12], "VP8L", 4) == 0 && b.size() >= 25) {
    const uint32_t bits = le32(&b[21]);
    h.width = int((bits & 0x3FFF) + 1);
    h.height = int(((bits >> 14) & 0x3FFF) + 1);
    h.alpha = (bits >> 28) & 1;
  } else if (std::memcmp(&b[12], "VP8 ", 4) == 0) {
    h.width = int(le16(&b[26]) & 0x3FFF);
    h.height = int(le16(&b[28]) & 0x3FFF);
  }
}

void sniff_tiff(const std::vector<unsigned char>& b, HeaderInfo& h) {
  h.format = "tiff";
  const bool le = b[0] == 'I';
  auto u16 = [&](size_t p) { return le ? le16(&b[p]) : be16(&b[p]); };
  auto u32 = [&](size_t p) { return le ? le32(&b[p]) : be32(&b[p]); };
  if (b.size() < 8) return;
  const size_t ifd = u32(4);
  if (ifd + 2 > b.size()) return;
  const size_t n = u16(ifd);
  for (size_t i = 0; i < n && ifd + 2 + 12 * (i + 1) <= b.size(); ++i) {
    const size_t e = ifd + 2 + 12 * i;
    const uint32_t tag = u16(e), type = u16(e + 2);
    const uint32_t value = type == 3 ? u16(e + 8) : u32(e + 8);  // SHORT or LONG, first value when inline
    if (tag == 256) h.width = int(value);
    else if (tag == 257) h.height = int(value);
    else if (tag == 258 && u32(e + 4) == 1) h.bit_depth = int(value);  // one sample: inline
    else if (tag == 258 && type == 3 && u32(e + 4) <= 2) h.bit_depth = int(value);
    else if (tag == 258 && type == 3 && u32(e + 4) > 2 && u32(e + 8) + 2 <= b.size()) h.bit_depth = int(u16(u32(e + 8)));
    else if (tag == 262) {
      h.cmyk = value == 5;  // separated
      h.grayscale = value <= 1;
    } else if (tag == 338) h.alpha = true;  // extra samples
  }
}

HeaderInfo sniff(const std::vector<unsigned char>& b) {
  HeaderInfo h;
  const size_t n = b.size();
  if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) sniff_jpeg(b, h);
  else if (n >= 8 && std::memcmp(b.data(), "\x89PNG\r\n\x1a\n", 8) == 0) sniff_png(b, h);
  else if (n >= 6 && (std::memcmp(b.data(), "GIF87a", 6) == 0 || std::memcmp(b.data(), "GIF89a", 6) == 0)) sniff_gif(b, h);
  else if (n >= 12 && std::memcmp(b.data(), "RIFF", 4) == 0 && std::memcmp(&b[8], "WEBP", 4) == 0) sniff_webp(b, h);
  else if (n >= 4 && (std::memcmp(b.data(), "II*\0", 4) == 0 || std::memcmp(b.data(), "MM\0*", 4) == 0)) sniff_tiff(b, h);
  else if (n >= 26 && b[0] == 'B' && b[1] == 'M') {
    h.format = "bmp";
    h.width = int(le32(&b[18]));
    h.height = std::abs(int(le32(&b[22])));  // negative: stored top-down
    h.bit_depth = int(le16(&b[28]));
  } else if (n >= 12 && std::memcmp(&b[4], "ftyp", 4) == 0) {
    const std::string brand(reinterpret_cast<const char*>(&b[8]), 4);
    h.format = brand == "avif" || brand == "avis" ? "avif" : brand.rfind("hei", 0) == 0 || brand == "mif1" ? "heic" : "unknown";
  }
  return h;
}

// The format a file's extension promises.
std::string format_of_extension(const std::string& path) {
  const std::string ext = lower_extension(path);
  if (ext == ".jpg" || ext == ".jpeg") return "jpeg";
  if (ext == ".tif" || ext == ".tiff") return "tiff";
  return ext.empty() ? "" : ext.substr(1);
}

std::string upper(std::string s) {
  for (auto& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// ---- Reading and probing one file ----

struct Probe {
  HeaderInfo header;
  uint64_t hash = 0;
  PictureSignature picture;
  bool has_picture = false;
};

bool read_whole(const std::string& path, std::vector<unsigned char>& out, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = std::string("cannot open file (") + std::strerror(errno) + ")";
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    error = std::string("cannot read file (") + std::strerror(errno) + ")";
    ::close(fd);
    return false;
  }
  out.resize(size_t(st.st_size));
  size_t got = 0;
  while (got < out.size()) {
    const ssize_t r = ::read(fd, out.data() + got, out.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      error = std::string("cannot read file (") + std::strerror(errno) + ")";
      ::close(fd);
      return false;
    }
    if (r == 0) break;  // shrank while reading
    got += size_t(r);
  }
  out.resize(got);
  ::close(fd);
  return true;
}

// Decode errors name the path first ("PATH: cannot decode ..."); the report names it already.
std::string without_path(const std::string& message, const std::string& path) {
  const std::string prefix = path + ": ";
  return message.compare(0, prefix.size(), prefix) == 0 ? message.substr(prefix.size()) : message;
}

void probe_file(CheckedFile& f, Probe& p, bool decode) {
  std::vector<unsigned char> bytes;
  if (!read_whole(f.path, bytes, f.error)) return;
  f.bytes = bytes.size();
  if (bytes.empty()) {
    f.error = "empty file, not an image";
    return;
  }
  p.hash = content_hash(bytes.data(), bytes.size());
  p.header = sniff(bytes);
  f.format = p.header.format;
  f.width = p.header.width;
  f.height = p.header.height;
  const std::string& fmt = f.format;
  const bool opencv_reads = fmt == "jpeg" || fmt == "png" || fmt == "bmp" || fmt == "webp" || fmt == "tiff";
  if (!decode) {
    if (!opencv_reads)
      f.error = fmt == "unknown" ? "not an image (the content is not JPEG, PNG, BMP, WebP or TIFF)"
                                 : "the content is " + upper(fmt) + ", which imagefit cannot decode";
    return;
  }
  try {
    const cv::Mat rgb = decode_image_rgb(bytes, f.path);
    f.width = rgb.cols;
    f.height = rgb.rows;
    p.picture = picture_signature(rgb);
    p.has_picture = true;
  } catch (const Error& e) {
    f.error = without_path(e.what(), f.path);
    if (!opencv_reads && fmt != "unknown") f.error += "; the content is " + upper(fmt) + ", which imagefit cannot decode";
  } catch (const cv::Exception& e) {
    f.error = "cannot decode image (" + e.err + ")";
  } catch (const std::bad_alloc&) {
    f.error = "cannot decode image (out of memory)";
  }
}

// ---- Findings ----

std::string dims(const CheckedFile& f) { return std::to_string(f.width) + "x" + std::to_string(f.height); }

void file_findings(const CheckedFile& f, const HeaderInfo& h, const CheckOptions& o, bool decoded,
                   std::vector<FileFinding>& out) {
  const std::string want = format_of_extension(f.path);
  if (h.format != "unknown" && !want.empty() && want != h.format)
    out.push_back({"extension", f.path, "named " + lower_extension(f.path) + ", but the content is " + upper(h.format)});
  if (!f.error.empty()) return;
  if (h.frames > 1)
    out.push_back({"animated", f.path,
                   "animated " + upper(h.format) + (h.format == "webp" ? "" : " (" + std::to_string(h.frames) + " frames)") +
                       "; only the first frame is used"});
  if (h.cmyk) out.push_back({"cmyk", f.path, "CMYK " + upper(h.format) + " (converted to RGB; colours may be off)"});
  if (h.bit_depth == 16) out.push_back({"16-bit", f.path, "16 bits a sample (scaled to 8 bits)"});
  if (h.alpha) out.push_back({"alpha", f.path, "has an alpha channel (dropped: transparent pixels show their stored colour)"});
  if (h.grayscale) out.push_back({"grayscale", f.path, "grayscale (converted to RGB)"});
  if (f.width <= 0) return;  // header sizes count without decoding too
  if (std::min(f.width, f.height) < o.min_side)
    out.push_back({"tiny", f.path, dims(f) + " (a side under " + std::to_string(o.min_side) + " pixels)"});
  const double mp = double(f.width) * double(f.height) / 1e6;
  if (mp > o.max_megapixels) {
    std::ostringstream d;
    d.precision(3);
    d << dims(f) << " (" << mp << " megapixels, more than " << o.max_megapixels << ")";
    out.push_back({"huge", f.path, d.str()});
  }
}

struct UnionFind {
  std::vector<size_t> parent;
  explicit UnionFind(size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), size_t(0)); }
  size_t find(size_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  void unite(size_t a, size_t b) {
    a = find(a);
    b = find(b);
    if (a != b) parent[std::max(a, b)] = std::min(a, b);
  }
};

void mark_group(const CheckReport& r, DuplicateGroup& g) {
  std::sort(g.files.begin(), g.files.end(), [&](size_t a, size_t b) {
    const auto& fa = r.files[a];
    const auto& fb = r.files[b];
    return fa.split != fb.split ? fa.split < fb.split : fa.path < fb.path;
  });
  for (size_t k : g.files) {
    g.across_splits |= r.files[k].split != r.files[g.files[0]].split;
    g.conflicting_labels |= r.files[k].label != r.files[g.files[0]].label;
  }
}

void find_duplicates(CheckReport& r, const std::vector<Probe>& probes, int near_distance, int threads) {
  // Exact: same size and content hash.
  std::vector<size_t> ok;
  for (size_t i = 0; i < r.files.size(); ++i)
    if (r.files[i].error.empty()) ok.push_back(i);
  std::sort(ok.begin(), ok.end(), [&](size_t a, size_t b) {
    return r.files[a].bytes != r.files[b].bytes ? r.files[a].bytes < r.files[b].bytes : probes[a].hash < probes[b].hash;
  });
  std::vector<DuplicateGroup> exact, near;
  std::vector<size_t> representatives;  // one file a distinct content
  for (size_t s = 0; s < ok.size();) {
    size_t e = s + 1;
    while (e < ok.size() && r.files[ok[e]].bytes == r.files[ok[s]].bytes && probes[ok[e]].hash == probes[ok[s]].hash) ++e;
    if (e - s > 1) {
      DuplicateGroup g;
      g.files.assign(ok.begin() + long(s), ok.begin() + long(e));
      mark_group(r, g);
      exact.push_back(g);
    }
    representatives.push_back(ok[s]);
    s = e;
  }
  // Near (near_duplicates): between distinct contents, all pairs; the popcount of an XOR rejects almost
  // every pair at once (25,000 images are 3e8 pairs, about a second on two cores).
  std::vector<size_t> reps;
  for (size_t i : representatives)
    if (probes[i].has_picture) reps.push_back(i);
  std::vector<std::vector<size_t>> close(reps.size());
  if (near_distance >= 0 && reps.size() > 1) {
    std::vector<uint64_t> h(reps.size());
    for (size_t k = 0; k < reps.size(); ++k) h[k] = probes[reps[k]].picture.phash;
    parallel_for(reps.size(), threads, [&](size_t a) {
      for (size_t b = a + 1; b < h.size(); ++b)
        if (hamming_distance(h[a], h[b]) <= near_distance &&
            near_duplicates(probes[reps[a]].picture, probes[reps[b]].picture, near_distance))
          close[a].push_back(b);
    });
  }
  UnionFind uf(reps.size());
  for (size_t a = 0; a < close.size(); ++a)
    for (size_t b : close[a]) uf.unite(a, b);
  std::map<size_t, std::vector<size_t>> components;
  for (size_t a = 0; a < reps.size(); ++a)
    if (!close[a].empty() || uf.find(a) != a) components[uf.find(a)].push_back(a);
  // Each distinct content's exact copies belong to its near group too.
  std::map<size_t, const DuplicateGroup*> exact_of;
  for (const auto& g : exact)
    for (size_t f : g.files) exact_of[f] = &g;
  for (const auto& [root, members] : components) {
    if (members.size() < 2) continue;
    DuplicateGroup g;
    g.exact = false;
    for (size_t a = 0; a < members.size(); ++a) {
      const size_t file = reps[members[a]];
      auto it = exact_of.find(file);
      if (it != exact_of.end()) g.files.insert(g.files.end(), it->second->files.begin(), it->second->files.end());
      else g.files.push_back(file);
      if (members.size() <= 256)  // the spread of a big chain is not worth a quadratic walk
        for (size_t b = a + 1; b < members.size(); ++b)
          g.distance = std::max(g.distance, hamming_distance(probes[file].picture.phash, probes[reps[members[b]]].picture.phash));
    }
    if (members.size() > 256) g.distance = near_distance;
    mark_group(r, g);
    near.push_back(g);
  }
  auto order = [&](const DuplicateGroup& a, const DuplicateGroup& b) {
    if (a.across_splits != b.across_splits) return a.across_splits;
    return r.files[a.files[0]].path < r.files[b.files[0]].path;
  };
  std::sort(exact.begin(), exact.end(), order);
  std::sort(near.begin(), near.end(), order);
  r.duplicates = std::move(exact);
  r.duplicates.insert(r.duplicates.end(), near.begin(), near.end());
}

void count_classes(CheckReport& r) {
  for (auto& s : r.splits) s.counts.assign(r.classes.size(), 0);
  for (const auto& f : r.files)
    if (f.error.empty()) r.splits[size_t(f.split)].counts[size_t(f.label)]++;
}

void run_checks(CheckReport& r, const CheckOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const int threads = o.threads > 0 ? o.threads : hardware_threads();
  r.decoded = o.decode;
  r.near_distance = o.near_distance >= 0 ? o.near_distance : kNearDuplicateDistance;
  std::vector<Probe> probes(r.files.size());
  parallel_for(r.files.size(), threads, [&](size_t i) { probe_file(r.files[i], probes[i], o.decode); });
  for (const auto& f : r.files) r.total_bytes += f.bytes;
  count_classes(r);
  find_duplicates(r, probes, o.decode ? r.near_distance : -1, threads);
  std::vector<FileFinding> findings;
  for (size_t i = 0; i < r.files.size(); ++i) file_findings(r.files[i], probes[i].header, o, o.decode, findings);
  // Grayscale is worth a word only in a mostly colour dataset.
  const size_t grey = size_t(std::count_if(findings.begin(), findings.end(), [](const FileFinding& f) { return f.kind == "grayscale"; }));
  const size_t readable = r.files.size() - (r.unreadable() - r.skipped.size());
  if (2 * grey >= readable)
    findings.erase(std::remove_if(findings.begin(), findings.end(), [](const FileFinding& f) { return f.kind == "grayscale"; }),
                   findings.end());
  std::stable_sort(findings.begin(), findings.end(), [](const FileFinding& a, const FileFinding& b) { return a.kind < b.kind; });
  r.findings = std::move(findings);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The tolerant scan: every split, every class folder, nothing thrown for what `train` would refuse.
void scan(const std::string& dir, CheckReport& r) {
  const auto split_folders = find_split_folders(dir);
  r.layout = split_folders.size() == 1 && split_folders[0].path == dir ? "class folders" : "splits";
  std::vector<std::vector<std::string>> split_classes;
  std::vector<std::vector<std::pair<std::string, std::string>>> found;  // [split] (class, path)
  for (const auto& sf : split_folders) {
    r.splits.push_back({sf.name, sf.path, {}});
    split_classes.emplace_back();
    found.emplace_back();
    std::vector<std::string> classes;
    try {
      classes = list_class_folders(sf.path, &r.skipped);
    } catch (const Error& e) {
      r.layout_problems.push_back({sf.path, without_path(e.what(), sf.path)});
      continue;
    }
    if (classes.empty()) r.layout_problems.push_back({sf.path, "no class folders (expected one sub-folder of images a class)"});
    for (const auto& c : classes) {
      const std::string class_dir = (fs::path(sf.path) / c).string();
      const size_t before = r.skipped.size();
      std::vector<std::string> files;
      try {
        files = list_image_files(class_dir, &r.skipped);
      } catch (const Error& e) {
        r.layout_problems.push_back({class_dir, "class folder with no readable image (" + without_path(e.what(), class_dir) + ")"});
        split_classes.back().push_back(c);
        continue;
      }
      if (files.empty())
        r.layout_problems.push_back({class_dir, r.skipped.size() > before ? "class folder with no readable image (its entries were skipped)"
                                                                          : "empty class folder (no .jpg/.jpeg/.png/.bmp/.webp/.tif images)"});
      split_classes.back().push_back(c);
      for (auto& f : files) found.back().push_back({c, f});
    }
  }
  std::set<std::string> all;
  for (const auto& cs : split_classes) all.insert(cs.begin(), cs.end());
  r.classes.assign(all.begin(), all.end());
  if (!split_classes.empty() && split_classes[0].size() == 1)
    r.layout_problems.push_back({split_folders[0].path, "only one class folder ('" + split_classes[0][0] + "'); a classifier needs at least two classes"});
  for (size_t s = 1; s < split_classes.size(); ++s) {
    std::string missing, extra;
    for (const auto& c : split_classes[0])
      if (std::find(split_classes[s].begin(), split_classes[s].end(), c) == split_classes[s].end()) missing += " " + c;
    for (const auto& c : split_classes[s])
      if (std::find(split_classes[0].begin(), split_classes[0].end(), c) == split_classes[0].end()) extra += " " + c;
    if (!missing.empty() || !extra.empty())
      r.layout_problems.push_back({split_folders[s].path, "class folders differ from train/" + (missing.empty() ? "" : "; missing:" + missing) +
                                                              (extra.empty() ? "" : "; not in train/:" + extra)});
  }
  for (size_t s = 0; s < found.size(); ++s)
    for (const auto& [c, path] : found[s]) {
      CheckedFile f;
      f.path = path;
      f.split = int(s);
      f.label = int(std::lower_bound(r.classes.begin(), r.classes.end(), c) - r.classes.begin());
      r.files.push_back(std::move(f));
    }
}

std::string join_paths(const CheckReport& r, const DuplicateGroup& g, const char* sep, size_t max = 3) {
  std::string out;
  for (size_t k = 0; k < g.files.size() && k < max; ++k) out += (k ? sep : "") + r.files[g.files[k]].path;
  if (g.files.size() > max) out += " (+" + std::to_string(g.files.size() - max) + " more)";
  return out;
}

}  // namespace

CheckReport check_dataset(const std::string& dir, const CheckOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(dir + ": not a folder" + (ec && ec != std::errc::no_such_file_or_directory ? " (" + ec.message() + ")" : ""));
  if (options.near_distance > 32) throw Error("near-duplicate distance must be between 0 and 32 bits (got " + std::to_string(options.near_distance) + ")");
  CheckReport r;
  r.root = dir;
  const auto t0 = std::chrono::steady_clock::now();
  scan(dir, r);
  run_checks(r, options);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

CheckReport quick_check(const Dataset& ds, int threads) {
  CheckReport r;
  r.root = ds.root;
  r.classes = ds.classes;
  r.skipped = ds.skipped;
  const auto folders = find_split_folders(ds.root);
  r.layout = folders.size() == 1 && folders[0].path == ds.root ? "class folders" : "splits";
  const std::pair<const char*, const ImageSet*> sets[] = {{"train", &ds.train}, {"validation", &ds.validation}, {"test", &ds.test}};
  for (const auto& [name, set] : sets) {
    if (set->images.empty()) continue;
    std::string path;
    for (const auto& f : folders)
      if (f.name == name) path = f.path;
    const int split = int(r.splits.size());
    r.splits.push_back({name, path, {}});
    for (const auto& im : set->images) {
      CheckedFile f;
      f.path = im.path;
      f.split = split;
      f.label = im.label;
      r.files.push_back(std::move(f));
    }
  }
  CheckOptions o;
  o.threads = threads;
  o.decode = false;
  run_checks(r, o);
  return r;
}

std::vector<std::string> CheckReport::warning_lines(size_t max_lines) const {
  std::vector<std::string> out;
  const size_t bad_files = unreadable() - skipped.size();
  if (bad_files > 0) {
    const CheckedFile* first = nullptr;
    for (const auto& f : files)
      if (!f.error.empty() && !first) first = &f;
    out.push_back(std::to_string(bad_files) + " file" + (bad_files == 1 ? "" : "s") + " cannot be used (" + first->path + ": " +
                  first->error + (bad_files > 1 ? "; ..." : "") + ")");
  }
  for (const auto& g : duplicates) {
    if (!g.across_splits) continue;
    std::set<std::string> names;
    for (size_t k : g.files) names.insert(splits[size_t(files[k].split)].name);
    std::string in;
    for (const auto& n : names) in += (in.empty() ? "" : " and ") + n;
    out.push_back(std::string("leakage: ") + (g.exact ? "the same file" : "a near-duplicate image") + " in " + in + ": " +
                  join_paths(*this, g, ", "));
  }
  size_t within = 0, conflicts = 0;
  for (const auto& g : duplicates)
    if (!g.across_splits && g.exact) {
      ++within;
      conflicts += g.conflicting_labels;
    }
  if (within > 0)
    out.push_back(std::to_string(within) + " group" + (within == 1 ? "" : "s") + " of identical files within a split" +
                  (conflicts ? " (" + std::to_string(conflicts) + " with different labels)" : ""));
  for (const auto& s : splits) {
    const double ratio = s.imbalance();
    if (ratio >= 3 && s.counts.size() > 1) {
      const auto [lo, hi] = std::minmax_element(s.counts.begin(), s.counts.end());
      std::ostringstream line;
      line.precision(2);
      line << std::fixed << "class imbalance in " << s.name << ": " << classes[size_t(hi - s.counts.begin())] << " " << *hi << " vs "
           << classes[size_t(lo - s.counts.begin())] << " " << *lo << " images (" << ratio << "x)";
      out.push_back(line.str());
    }
  }
  for (const auto& l : layout_problems) out.push_back(l.path + ": " + l.detail);
  if (out.size() > max_lines) {
    const size_t more = out.size() - max_lines + 1;
    out.resize(max_lines - 1);
    out.push_back("... and " + std::to_string(more) + " more");
  }
  if (!out.empty()) out.push_back("run 'imagefit check " + root + "' for the full report");
  return out;
}

nlohmann::json check_report_json(const CheckReport& r) {
  using nlohmann::json;
  json j;
  j["root"] = r.root;
  j["layout"] = r.layout;
  j["classes"] = r.classes;
  j["decoded"] = r.decoded;
  j["near_distance"] = r.near_distance;
  j["seconds"] = r.seconds;
  j["files"] = r.files.size();
  j["bytes"] = r.total_bytes;
  j["problems"] = r.has_problems();
  json splits = json::array();
  for (const auto& s : r.splits) {
    json counts = json::object();
    for (size_t c = 0; c < r.classes.size(); ++c) counts[r.classes[c]] = s.counts[c];
    splits.push_back({{"name", s.name}, {"path", s.path}, {"images", s.images()}, {"counts", counts},
                      {"imbalance", s.imbalance() > 0 ? json(s.imbalance()) : json(nullptr)}});
  }
  j["splits"] = splits;
  json unreadable = json::array();
  for (const auto& f : r.files)
    if (!f.error.empty()) unreadable.push_back({{"path", f.path}, {"split", r.splits[size_t(f.split)].name}, {"reason", f.error}});
  j["unreadable"] = unreadable;
  json skipped = json::array();
  for (const auto& s : r.skipped) skipped.push_back({{"path", s.path}, {"reason", s.reason}});
  j["skipped"] = skipped;
  json dups = json::array();
  size_t exact = 0, near = 0;
  for (const auto& g : r.duplicates) {
    (g.exact ? exact : near)++;
    json files = json::array();
    for (size_t k : g.files) {
      const auto& f = r.files[k];
      files.push_back({{"path", f.path}, {"split", r.splits[size_t(f.split)].name}, {"class", r.classes[size_t(f.label)]}});
    }
    dups.push_back({{"kind", g.exact ? "exact" : "near"}, {"distance", g.distance}, {"across_splits", g.across_splits},
                    {"conflicting_labels", g.conflicting_labels}, {"files", files}});
  }
  j["duplicates"] = dups;
  json findings = json::array();
  json by_kind = json::object();
  for (const auto& f : r.findings) {
    findings.push_back({{"kind", f.kind}, {"path", f.path}, {"detail", f.detail}});
    by_kind[f.kind] = by_kind.value(f.kind, 0) + 1;
  }
  j["findings"] = findings;
  json layout = json::array();
  for (const auto& l : r.layout_problems) layout.push_back({{"path", l.path}, {"detail", l.detail}});
  j["layout_problems"] = layout;
  j["summary"] = {{"unreadable", r.unreadable() - r.skipped.size()},
                  {"skipped", r.skipped.size()},
                  {"exact_duplicate_groups", exact},
                  {"near_duplicate_groups", near},
                  {"leaking_groups", r.leaking_groups()},
                  {"layout_problems", r.layout_problems.size()},
                  {"findings", by_kind}};
  return j;
}

}  // namespace imagefit
