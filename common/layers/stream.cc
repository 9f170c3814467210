#include "common/layers/stream.h"

#include <isa-l/igzip_lib.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <optional>

#include "common/error.h"
#include "common/handles.h"

namespace regfs::layers {

Compression detectCompression(std::string_view head) {
  if (head.starts_with("\x1f\x8b")) return Compression::kGzip;
  if (head.starts_with("\x28\xb5\x2f\xfd")) return Compression::kZstd;
  // A zstd skippable frame (magic 0x184D2A50 to 0x184D2A5F) may come first.
  if (head.size() >= 4 && (head[0] & 0xf0) == 0x50 && head.substr(1, 3) == "\x2a\x4d\x18") {
    return Compression::kZstd;
  }
  return Compression::kNone;
}

std::string_view compressionName(Compression compression) {
  switch (compression) {
    case Compression::kNone:
      return "none";
    case Compression::kGzip:
      return "gzip";
    case Compression::kZstd:
      return "zstd";
  }
  return "unknown";
}

namespace {

constexpr size_t kWindowSize = 32 * 1024;    // deflate's history
constexpr size_t kScanOutput = 256 * 1024;   // the scan's output ring (fewer, larger pieces)
constexpr size_t kScanInput = 1 << 20;       // the scan reads the blob in pieces this big
constexpr size_t kReaderInput = 256 * 1024;  // a reader's, for reads of a span or less
// The output a reader keeps behind where it stands, so that a read of what it just passed (a
// file two threads asked for at once) is a copy, not a seek.
constexpr size_t kKeptBehind = 256 * 1024;
constexpr int kWindowLevel = 1;        // deflate level of the stored windows
constexpr int kZstdWindowLogMax = 27;  // 128 MiB: zstd --long's window, no more

class MemorySource : public BlobSource {
 public:
  explicit MemorySource(std::string_view bytes) : bytes_(bytes) {}
  uint64_t size() const override { return bytes_.size(); }
  size_t readAt(uint64_t offset, void* buffer, size_t length) const override {
    if (offset >= bytes_.size()) return 0;
    size_t n = std::min<uint64_t>(length, bytes_.size() - offset);
    std::memcpy(buffer, bytes_.data() + offset, n);
    return n;
  }

 private:
  std::string_view bytes_;
};

// A window onto the blob: the bytes from offset() on that were read and not yet consumed.
class Input {
 public:
  Input(const BlobSource& blob, size_t capacity) : blob_(blob), buffer_(capacity) {}

  const uint8_t* data() const { return buffer_.data() + begin_; }
  size_t available() const { return end_ - begin_; }
  uint64_t offset() const { return start_ + begin_; }
  bool atEnd() const { return available() == 0 && offset() >= blob_.size(); }

  void consume(size_t n) { begin_ += n; }
  // Gives back the last `n` bytes consumed: still buffered, or read again.
  void unconsume(size_t n) {
    if (n <= begin_) {
      begin_ -= n;
    } else {
      seek(offset() - n);
    }
  }
  // Drops what is buffered; the next refill() reads at `offset`.
  void seek(uint64_t offset) {
    start_ = offset;
    begin_ = end_ = 0;
  }
  // Once everything buffered is consumed: reads the next bytes; false at the blob's end.
  bool refill() {
    start_ = offset();
    begin_ = 0;
    end_ = blob_.readAt(start_, buffer_.data(), buffer_.size());
    return end_ > 0;
  }

 private:
  const BlobSource& blob_;
  std::vector<uint8_t> buffer_;
  uint64_t start_ = 0;  // blob offset of buffer_[0]
  size_t begin_ = 0;
  size_t end_ = 0;
};

// The uncompressed bytes on their way to the sink, counted against the limit.
class Output {
 public:
  Output(const std::function<void(std::string_view)>& sink, uint64_t limit)
      : sink_(sink), limit_(limit) {}
  uint64_t total() const { return total_; }
  void emit(const void* bytes, size_t n) {
    if (n == 0) return;
    if (n > limit_ - total_) {
      throw Error(ErrorKind::kSizeInvalid,
                  "layer stream inflates to more than " + std::to_string(limit_) + " bytes");
    }
    total_ += n;
    sink_(std::string_view(static_cast<const char*>(bytes), n));
  }

 private:
  const std::function<void(std::string_view)>& sink_;
  uint64_t limit_;
  uint64_t total_ = 0;
};

// A checkpoint is taken only when the output went at least `span` past the last one.
bool farEnough(const std::vector<Checkpoint>& checkpoints, uint64_t out, uint64_t span) {
  if (checkpoints.empty()) return true;
  uint64_t last = checkpoints.back().out;
  return out > last && out - last >= span;
}

// zlib's streams, ended with their owner.
struct Inflater {
  z_stream s{};
  explicit Inflater(int windowBits) {
    if (inflateInit2(&s, windowBits) != Z_OK) throw Error(ErrorKind::kInternal, "inflateInit2");
  }
  ~Inflater() { inflateEnd(&s); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  std::string message(std::string_view what) const {
    return std::string(what) + ": " + (s.msg ? s.msg : "inflate failed");
  }
};

// ISA-L's inflater (igzip), for the deflate data a reader inflates from a checkpoint: about
// a third less CPU than zlib's for the same bytes (docs/benchmarks.md). Its state holds no
// allocation of its own.
struct IsalInflater {
  inflate_state s{};
  IsalInflater() { isal_inflate_init(&s); }
};

struct Deflater {
  z_stream s{};
  explicit Deflater(int level) {
    if (deflateInit2(&s, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      throw Error(ErrorKind::kInternal, "deflateInit2");
    }
  }
  ~Deflater() { deflateEnd(&s); }
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;

  std::string compress(const uint8_t* bytes, size_t n) {
    deflateReset(&s);
    std::string out(deflateBound(&s, n), '\0');
    s.next_in = const_cast<uint8_t*>(bytes);
    s.avail_in = static_cast<uInt>(n);
    s.next_out = reinterpret_cast<Bytef*>(out.data());
    s.avail_out = static_cast<uInt>(out.size());
    if (deflate(&s, Z_FINISH) != Z_STREAM_END) throw Error(ErrorKind::kInternal, "deflate");
    out.resize(out.size() - s.avail_out);
    return out;
  }
};

// A stored window back to its bytes (at most kWindowSize) in `out`; its length.
size_t inflateWindow(const std::string& window, uint8_t* out) {
  if (window.empty()) return 0;
  Inflater inflater(-15);
  z_stream& s = inflater.s;
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(window.data()));
  s.avail_in = static_cast<uInt>(window.size());
  s.next_out = out;
  s.avail_out = kWindowSize;
  if (inflate(&s, Z_FINISH) != Z_STREAM_END || s.avail_in != 0) {
    throw Error(ErrorKind::kIo, "a checkpoint's window does not inflate");
  }
  return kWindowSize - s.avail_out;
}

using ZstdDCtx = CPtr<ZSTD_DCtx, ZSTD_freeDCtx>;

ZstdDCtx newZstdDCtx() {
  ZstdDCtx dctx(ZSTD_createDCtx());
  if (!dctx) throw Error(ErrorKind::kInternal, "ZSTD_createDCtx");
  // A frame may not ask for more memory than this (a hostile window size).
  ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, kZstdWindowLogMax);
  return dctx;
}

// --- the scans ---

void scanPlain(const BlobSource& blob, Output& output, SeekPoints& points) {
  Input input(blob, kScanInput);
  while (input.refill()) {
    output.emit(input.data(), input.available());
    input.consume(input.available());
  }
  points.uncompressedSize = output.total();
}

// zran: inflate block by block (Z_BLOCK) into a ring of output, and at a block boundary a
// span past the last checkpoint record the input bit position and the ring's last 32 KiB. zlib
// checks each member's header, CRC and length (windowBits 15+16).
class GzipScan {
 public:
  GzipScan(const BlobSource& blob, Output& output, const ScanOptions& options)
      : input_(blob, kScanInput), output_(output), options_(options) {}

  void run(SeekPoints& points) {
    for (;;) {
      z_stream& s = inflater_.s;
      if (s.avail_out == 0) {
        s.next_out = ring_.data();
        s.avail_out = kScanOutput;
      }
      uint8_t* before = s.next_out;
      s.next_in = const_cast<uint8_t*>(input_.data());
      s.avail_in = static_cast<uInt>(std::min<size_t>(input_.available(), UINT_MAX));
      int ret = inflate(&s, Z_BLOCK);
      input_.consume(input_.available() - s.avail_in);
      size_t produced = s.next_out - before;
      output_.emit(before, produced);
      memberOut_ += produced;
      if (ret == Z_STREAM_END) {
        if (!nextMember()) break;
      } else if (ret == Z_BUF_ERROR && input_.available() == 0) {
        if (!input_.refill()) throw Error(ErrorKind::kInvalidArgument, "gzip stream truncated");
      } else if (ret != Z_OK) {
        throw Error(ErrorKind::kInvalidArgument, inflater_.message("gzip stream corrupt"));
      } else if (atBlockBoundary() &&
                 farEnough(points.checkpoints, output_.total(), options_.span) && withinBudget()) {
        points.checkpoints.push_back(checkpoint());
        windowBytes_ += points.checkpoints.back().window.size();
        lastWindow_ = points.checkpoints.back().window.size();
      }
    }
    points.uncompressedSize = output_.total();
  }

 private:
  // After the end of a block or a member's header, and not inside the member's last block.
  bool atBlockBoundary() const {
    return (inflater_.s.data_type & 128) && !(inflater_.s.data_type & 64);
  }

  // Whether a window the size of the last one keeps the windows within their share.
  bool withinBudget() const {
    return static_cast<double>(windowBytes_ + lastWindow_) <=
           static_cast<double>(output_.total()) * options_.windowShare;
  }

  Checkpoint checkpoint() {
    Checkpoint point;
    point.out = output_.total();
    point.in = input_.offset();
    point.bits = static_cast<uint8_t>(inflater_.s.data_type & 7);
    // A member's deflate stream never refers to the members before it.
    size_t length = std::min<uint64_t>(memberOut_, kWindowSize);
    if (length > 0) {
      size_t end = inflater_.s.next_out - ring_.data();
      uint8_t linear[kWindowSize];
      size_t tail = length > end ? length - end : 0;  // wrapped round the ring's end
      std::memcpy(linear, ring_.data() + kScanOutput - tail, tail);
      std::memcpy(linear + tail, ring_.data() + end - (length - tail), length - tail);
      point.window = deflater_.compress(linear, length);
    }
    return point;
  }

  // After a member: another member, zeros to the end of the blob (as gzip accepts), or
  // nothing. False when the stream has ended.
  bool nextMember() {
    if (input_.available() == 0 && !input_.refill()) return false;
    if (input_.data()[0] == 0x1f) {
      inflateReset(&inflater_.s);
      memberOut_ = 0;
      return true;
    }
    do {
      const uint8_t* bytes = input_.data();
      if (std::any_of(bytes, bytes + input_.available(), [](uint8_t b) { return b != 0; })) {
        throw Error(ErrorKind::kInvalidArgument, "garbage after the gzip stream");
      }
      input_.consume(input_.available());
    } while (input_.refill());
    return false;
  }

  Input input_;
  Output& output_;
  const ScanOptions& options_;
  Inflater inflater_{15 + 16};
  Deflater deflater_{kWindowLevel};
  std::vector<uint8_t> ring_ = std::vector<uint8_t>(kScanOutput);
  uint64_t memberOut_ = 0;    // output of the current member
  uint64_t windowBytes_ = 0;  // of every checkpoint so far
  uint64_t lastWindow_ = 0;
};

// Frame by frame: a checkpoint at a frame's start a span past the last one.
void scanZstd(const BlobSource& blob, Output& output, SeekPoints& points, uint64_t span) {
  Input input(blob, kScanInput);
  ZstdDCtx dctx = newZstdDCtx();
  std::vector<uint8_t> out(ZSTD_DStreamOutSize());
  points.checkpoints.push_back(Checkpoint{});
  bool frameEnded = false;  // the last call that did anything ended a frame
  for (;;) {
    ZSTD_inBuffer in{input.data(), input.available(), 0};
    ZSTD_outBuffer outBuffer{out.data(), out.size(), 0};
    size_t ret = ZSTD_decompressStream(dctx.get(), &outBuffer, &in);
    if (ZSTD_isError(ret)) {
      throw Error(ErrorKind::kInvalidArgument,
                  std::string("zstd stream corrupt: ") + ZSTD_getErrorName(ret));
    }
    input.consume(in.pos);
    output.emit(out.data(), outBuffer.pos);
    bool progress = in.pos > 0 || outBuffer.pos > 0;
    if (ret == 0) {
      frameEnded = true;
      if (!input.atEnd() && farEnough(points.checkpoints, output.total(), span)) {
        points.checkpoints.push_back(Checkpoint{output.total(), input.offset(), 0, {}});
      }
    } else if (progress) {
      frameEnded = false;
    }
    if (progress) continue;
    if (input.available() > 0) throw Error(ErrorKind::kInvalidArgument, "zstd stream stuck");
    if (!input.refill()) {
      if (!frameEnded) throw Error(ErrorKind::kInvalidArgument, "zstd stream truncated");
      break;
    }
  }
  points.uncompressedSize = output.total();
}

// Reads `length` bytes at `offset`, all of them or Error(kIo).
void readExactly(const BlobSource& blob, uint64_t offset, void* buffer, size_t length) {
  size_t done = 0;
  while (done < length) {
    size_t got = blob.readAt(offset + done, static_cast<char*>(buffer) + done, length - done);
    if (got == 0) throw Error(ErrorKind::kIo, "layer blob shorter than when it was scanned");
    done += got;
  }
}

[[noreturn]] void throwChanged(std::string_view why) {
  throw Error(ErrorKind::kIo,
              "layer blob does not decompress as when it was scanned: " + std::string(why));
}

}  // namespace

// A reader decompresses from a checkpoint (seek) and keeps its decompressor where the last
// read ended (pos), so the next read there or a little after continues.
struct StreamReader::State {
  const BlobSource& blob;
  const SeekPoints& points;
  Input input;
  bool positioned = false;  // the decompressor's output is at `pos`
  uint64_t pos = 0;
  // gzip: a member's deflate data from a checkpoint by ISA-L (rawDeflate), the members after
  // it by zlib, which reads their headers and checks their trailers.
  std::unique_ptr<IsalInflater> isal;
  std::optional<Inflater> inflater;
  bool rawDeflate = true;    // inflating a member's deflate data from a checkpoint
  bool memberEnded = false;  // the member's data ended; the next member follows
  ZstdDCtx zstd;
  std::vector<uint8_t> scratch;  // for the bytes a read skips
  // The last `kept` bytes of output before `pos`, a ring: byte o (pos - kept <= o < pos) is
  // at behind[o % kKeptBehind].
  std::vector<uint8_t> behind;
  size_t kept = 0;

  State(const BlobSource& blob, const SeekPoints& points)
      : blob(blob), points(points), input(blob, kReaderInput) {}

  const Checkpoint& checkpointFor(uint64_t offset) const {
    const auto& all = points.checkpoints;
    auto after = std::upper_bound(all.begin(), all.end(), offset,
                                  [](uint64_t o, const Checkpoint& c) { return o < c.out; });
    if (after == all.begin()) throwChanged("no checkpoint at the stream's start");
    return *(after - 1);
  }

  void seek(const Checkpoint& point) {
    if (points.compression == Compression::kGzip) {
      seekGzip(point);
    } else {
      if (!zstd) zstd = newZstdDCtx();
      ZSTD_DCtx_reset(zstd.get(), ZSTD_reset_session_only);
      input.seek(point.in);
    }
    pos = point.out;
  }

  void seekGzip(const Checkpoint& point) {
    if (!isal) isal = std::make_unique<IsalInflater>();
    inflate_state& s = isal->s;
    isal_inflate_reset(&s);
    s.crc_flag = ISAL_DEFLATE;
    rawDeflate = true;
    memberEnded = false;
    if (point.bits > 7 || (point.bits > 0 && point.in == 0)) throwChanged("bad checkpoint");
    if (point.bits > 0) {
      // The checkpoint's block starts `bits` bits before the end of byte in - 1: those bits
      // go first (what zlib's inflatePrime does).
      uint8_t byte = 0;
      readExactly(blob, point.in - 1, &byte, 1);
      s.read_in = byte >> (8 - point.bits);
      s.read_in_length = point.bits;
    }
    uint8_t window[kWindowSize];
    size_t length = inflateWindow(point.window, window);
    if (length > 0 && isal_inflate_set_dict(&s, window, static_cast<uint32_t>(length)) != COMP_OK) {
      throwChanged("isal_inflate_set_dict");
    }
    input.seek(point.in);
  }

  // Decompresses the next `length` bytes into `out`.
  void produce(uint8_t* out, size_t length) {
    size_t done = 0;
    while (done < length) {
      size_t consumed = 0;
      size_t produced = points.compression == Compression::kGzip
                            ? inflateSome(out + done, length - done, consumed)
                            : zstdSome(out + done, length - done, consumed);
      keep(out + done, produced);
      done += produced;
      pos += produced;
      if (produced > 0 || consumed > 0) continue;
      if (input.available() > 0) throwChanged("the decompressor is stuck");
      if (!input.refill()) throwChanged("it ends early");
    }
  }

  // Adds the `length` bytes produced at `pos` to the ring.
  void keep(const uint8_t* data, size_t length) {
    if (length == 0) return;
    if (behind.empty()) behind.resize(kKeptBehind);
    size_t n = std::min(length, kKeptBehind);  // only the last ones stay
    uint64_t from = pos + length - n;
    size_t at = static_cast<size_t>(from % kKeptBehind);
    size_t first = std::min(n, kKeptBehind - at);
    std::memcpy(behind.data() + at, data + length - n, first);
    std::memcpy(behind.data(), data + length - n + first, n - first);
    kept = static_cast<size_t>(std::min<uint64_t>(kKeptBehind, kept + length));
  }
  // True when the ring holds stream byte `offset`.
  bool keeps(uint64_t offset) const { return positioned && offset < pos && offset + kept >= pos; }
  // Copies up to `length` kept bytes at `offset` (keeps(offset)); returns how many.
  size_t copyKept(uint64_t offset, uint8_t* out, size_t length) const {
    size_t n = static_cast<size_t>(std::min<uint64_t>(length, pos - offset));
    size_t at = static_cast<size_t>(offset % kKeptBehind);
    size_t first = std::min(n, kKeptBehind - at);
    std::memcpy(out, behind.data() + at, first);
    std::memcpy(out + first, behind.data(), n - first);
    return n;
  }

  size_t inflateSome(uint8_t* out, size_t length, size_t& consumed) {
    if (memberEnded) nextMember();
    if (rawDeflate) return isalSome(out, length, consumed);
    z_stream& s = inflater->s;
    s.next_in = const_cast<uint8_t*>(input.data());
    s.avail_in = static_cast<uInt>(std::min<size_t>(input.available(), UINT_MAX));
    s.next_out = out;
    s.avail_out = static_cast<uInt>(std::min<size_t>(length, UINT_MAX));
    int ret = inflate(&s, Z_NO_FLUSH);
    consumed = input.available() - s.avail_in;
    input.consume(consumed);
    if (ret == Z_STREAM_END) {
      memberEnded = true;
      consumed = std::max<size_t>(consumed, 1);  // progress: the next call starts a member
    } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
      throwChanged(inflater->message("inflate"));
    }
    return s.next_out - out;
  }

  size_t isalSome(uint8_t* out, size_t length, size_t& consumed) {
    inflate_state& s = isal->s;
    s.next_in = const_cast<uint8_t*>(input.data());
    s.avail_in = static_cast<uint32_t>(std::min<size_t>(input.available(), UINT32_MAX));
    uint32_t offered = s.avail_in;
    s.next_out = out;
    s.avail_out = static_cast<uint32_t>(std::min<size_t>(length, UINT32_MAX));
    int ret = isal_inflate(&s);
    if (ret < 0 || ret == ISAL_NEED_DICT) throwChanged("isal_inflate: " + std::to_string(ret));
    consumed = offered - s.avail_in;
    input.consume(consumed);
    if (s.block_state == ISAL_BLOCK_FINISH) {
      // Whole bytes read ahead into the bit buffer are the trailer's, which follows.
      input.unconsume(static_cast<size_t>(s.read_in_length / 8));
      s.read_in = 0;
      s.read_in_length = 0;
      memberEnded = true;
      consumed = 1;  // progress: the next call starts a member
    }
    return static_cast<size_t>(s.next_out - out);
  }

  // The member that follows: after its deflate data when inflating raw (then its 8-byte
  // trailer comes first), after its trailer when zlib read the gzip format.
  void nextMember() {
    memberEnded = false;
    if (rawDeflate) {
      size_t skip = std::min<size_t>(input.available(), 8);
      input.consume(skip);
      if (skip < 8) input.seek(input.offset() + 8 - skip);
      rawDeflate = false;
    }
    if (!inflater) inflater.emplace(15 + 16);
    if (inflateReset2(&inflater->s, 15 + 16) != Z_OK) throwChanged("inflateReset2");
  }

  size_t zstdSome(uint8_t* out, size_t length, size_t& consumed) {
    ZSTD_inBuffer in{input.data(), input.available(), 0};
    ZSTD_outBuffer outBuffer{out, length, 0};
    size_t ret = ZSTD_decompressStream(zstd.get(), &outBuffer, &in);
    if (ZSTD_isError(ret)) throwChanged(ZSTD_getErrorName(ret));
    consumed = in.pos;
    input.consume(in.pos);
    return outBuffer.pos;
  }

  void skip(uint64_t length) {
    if (scratch.empty()) scratch.resize(64 * 1024);
    while (length > 0) {
      size_t n = std::min<uint64_t>(length, scratch.size());
      produce(scratch.data(), n);
      length -= n;
    }
  }

  size_t read(uint64_t offset, void* buffer, size_t length) {
    if (offset >= points.uncompressedSize || length == 0) return 0;
    length = std::min<uint64_t>(length, points.uncompressedSize - offset);
    if (points.compression == Compression::kNone) {
      readExactly(blob, offset, buffer, length);
      return length;
    }
    auto* out = static_cast<uint8_t*>(buffer);
    size_t copied = 0;
    if (keeps(offset)) {
      copied = copyKept(offset, out, length);
      if (copied == length) return length;
      offset += copied;  // now pos: the rest continues
    }
    const Checkpoint& point = checkpointFor(offset);
    bool continues = positioned && pos <= offset && point.out <= pos;
    positioned = false;  // until this read succeeds
    if (!continues) {
      seek(point);
      kept = 0;
    }
    skip(offset - pos);
    produce(out + copied, length - copied);
    positioned = true;
    return length;
  }
};

StreamReader::StreamReader(const BlobSource& blob, const SeekPoints& points)
    : state_(std::make_unique<State>(blob, points)) {}

StreamReader::~StreamReader() = default;

size_t StreamReader::read(uint64_t offset, void* buffer, size_t length) {
  return state_->read(offset, buffer, length);
}

bool StreamReader::continuesTo(uint64_t offset) const {
  const State& s = *state_;
  if (s.points.compression == Compression::kNone) return true;  // nothing to continue
  if (s.keeps(offset)) return true;
  if (!s.positioned || s.pos > offset || offset >= s.points.uncompressedSize) return false;
  return s.checkpointFor(offset).out <= s.pos;
}

uint64_t StreamReader::position() const { return state_->positioned ? state_->pos : 0; }

StreamReaderPool::StreamReaderPool(const BlobSource& blob, const SeekPoints& points, size_t keep)
    : blob_(blob), points_(points), keep_(std::max<size_t>(keep, 1)) {}

StreamReaderPool::~StreamReaderPool() = default;

size_t StreamReaderPool::read(uint64_t offset, void* buffer, size_t length) {
  // Whether a reader standing at `end` continues to `offset` (no checkpoint between).
  auto continues = [&](uint64_t end) {
    if (offset >= points_.uncompressedSize) return false;
    if (end > offset) return end - offset <= kKeptBehind;  // it keeps what it passed
    auto after = std::upper_bound(points_.checkpoints.begin(), points_.checkpoints.end(), offset,
                                  [](uint64_t o, const Checkpoint& c) { return o < c.out; });
    return after == points_.checkpoints.begin() || (after - 1)->out <= end;
  };
  std::unique_ptr<StreamReader> reader;
  uint64_t end =
      offset + std::min<uint64_t>(
                   length, points_.uncompressedSize - std::min(offset, points_.uncompressedSize));
  {
    std::unique_lock lock(mutex_);
    for (;;) {
      // The reader standing closest before `offset` that can continue to it.
      auto best = idle_.end();
      for (auto it = idle_.begin(); it != idle_.end(); ++it) {
        if ((*it)->continuesTo(offset) &&
            (best == idle_.end() || (*it)->position() > (*best)->position()))
          best = it;
      }
      if (best != idle_.end()) {
        reader = std::move(*best);
        idle_.erase(best);
        break;
      }
      bool worthWaiting = points_.compression != Compression::kNone &&
                          std::any_of(busyEnds_.begin(), busyEnds_.end(), continues);
      if (!worthWaiting) break;
      returned_.wait(lock);
    }
    busyEnds_.push_back(end);
  }
  // Whatever happens, the read is no longer in progress; a reader that throws is dropped.
  auto done = [&](std::unique_ptr<StreamReader> back) {
    std::lock_guard lock(mutex_);
    busyEnds_.erase(std::find(busyEnds_.begin(), busyEnds_.end(), end));
    if (back) {
      idle_.push_back(std::move(back));
      if (idle_.size() > keep_) idle_.erase(idle_.begin());
    }
    returned_.notify_all();
  };
  if (!reader) reader = std::make_unique<StreamReader>(blob_, points_);
  size_t n;
  try {
    n = reader->read(offset, buffer, length);
  } catch (...) {
    done(nullptr);
    throw;
  }
  done(std::move(reader));
  return n;
}

std::unique_ptr<BlobSource> memorySource(std::string_view bytes) {
  return std::make_unique<MemorySource>(bytes);
}

SeekPoints scanStream(const BlobSource& blob, const std::function<void(std::string_view)>& sink,
                      const ScanOptions& options) {
  SeekPoints points;
  points.compressedSize = blob.size();
  char head[4] = {};
  size_t got = blob.readAt(0, head, sizeof head);
  points.compression = detectCompression(std::string_view(head, got));
  Output output(sink, options.maxUncompressed);
  switch (points.compression) {
    case Compression::kNone:
      scanPlain(blob, output, points);
      break;
    case Compression::kGzip:
      GzipScan(blob, output, options).run(points);
      break;
    case Compression::kZstd:
      scanZstd(blob, output, points, options.span);
      break;
  }
  return points;
}

}  // namespace regfs::layers
