#include "support/tar_writer.h"

#include <cstdio>

namespace regfs::testing {

TarHeader::TarHeader() : bytes_(512, '\0') {
  set(kMagic, std::string_view("ustar\0", 6));
  set(kVersion, "00");
  mode(0644).uid(0).gid(0).size(0).mtime(0).type('0');
}

TarHeader& TarHeader::set(Field field, std::string_view bytes) {
  for (size_t i = 0; i < field.length; ++i) {
    bytes_[field.offset + i] = i < bytes.size() ? bytes[i] : '\0';
  }
  return *this;
}

TarHeader& TarHeader::octal(Field field, uint64_t value) {
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + (value & 7)));
    value >>= 3;
  } while (value != 0);
  if (digits.size() < field.length - 1) {
    digits.insert(0, field.length - 1 - digits.size(), '0');
  }
  return set(field, digits);
}

TarHeader& TarHeader::base256(Field field, int64_t value) {
  auto x = static_cast<uint64_t>(value);
  for (size_t i = field.length; i-- > 0;) {
    bytes_[field.offset + i] = static_cast<char>(x & 0xff);
    x = value < 0 ? (x >> 8) | (uint64_t{0xff} << 56) : x >> 8;
  }
  bytes_[field.offset] = static_cast<char>(bytes_[field.offset] | 0x80);
  return *this;
}

TarHeader& TarHeader::type(char typeflag) { return set(kTypeflag, std::string_view(&typeflag, 1)); }

TarHeader& TarHeader::device(uint32_t major, uint32_t minor) {
  return octal(kDevMajor, major).octal(kDevMinor, minor);
}

TarHeader& TarHeader::gnu() {
  set(kMagic, "ustar ");
  return set(kVersion, std::string_view(" \0", 2));
}

TarHeader& TarHeader::v7() {
  set(kMagic, "");
  return set(kVersion, "");
}

TarHeader& TarHeader::checksum(std::string_view raw) {
  rawChecksum_ = true;
  return set(kChecksum, raw);
}

std::string TarHeader::block() const {
  std::string block = bytes_;
  if (!rawChecksum_) {
    block.replace(kChecksum.offset, kChecksum.length, kChecksum.length, ' ');
    unsigned sum = 0;
    for (char c : block) sum += static_cast<unsigned char>(c);
    char field[9];
    std::snprintf(field, sizeof field, "%06o", sum & 0777777);
    block.replace(kChecksum.offset, 8, std::string(field, 6) + std::string("\0 ", 2));
  }
  return block;
}

TarWriter& TarWriter::header(const TarHeader& header) { return raw(header.block()); }

TarWriter& TarWriter::data(std::string_view bytes) {
  raw(bytes);
  bytes_.append((512 - bytes.size() % 512) % 512, '\0');
  return *this;
}

TarWriter& TarWriter::raw(std::string_view bytes) {
  bytes_.append(bytes);
  return *this;
}

TarWriter& TarWriter::file(std::string_view name, std::string_view content, uint32_t mode) {
  header(TarHeader().name(name).mode(mode).size(content.size()));
  return data(content);
}

TarWriter& TarWriter::dir(std::string_view name, uint32_t mode) {
  return header(TarHeader().name(name).mode(mode).type('5'));
}

TarWriter& TarWriter::symlink(std::string_view name, std::string_view target) {
  return header(TarHeader().name(name).mode(0777).type('2').linkName(target));
}

TarWriter& TarWriter::hardlink(std::string_view name, std::string_view target) {
  return header(TarHeader().name(name).type('1').linkName(target));
}

TarWriter& TarWriter::fifo(std::string_view name) {
  return header(TarHeader().name(name).type('6'));
}

TarWriter& TarWriter::device(std::string_view name, char typeflag, uint32_t major, uint32_t minor) {
  return header(TarHeader().name(name).type(typeflag).device(major, minor));
}

TarWriter& TarWriter::pax(const std::vector<std::pair<std::string, std::string>>& records,
                          char typeflag) {
  std::string text;
  for (const auto& [key, value] : records) text += paxRecord(key, value);
  header(TarHeader().name("PaxHeaders/x").type(typeflag).size(text.size()));
  return data(text);
}

TarWriter& TarWriter::gnuLong(char typeflag, std::string_view name) {
  std::string text(name);
  text += '\0';
  header(TarHeader().gnu().name("././@LongLink").type(typeflag).size(text.size()));
  return data(text);
}

TarWriter& TarWriter::end() { return raw(std::string(1024, '\0')); }

std::string TarWriter::paxRecord(std::string_view key, std::string_view value) {
  std::string body = " " + std::string(key) + "=" + std::string(value) + "\n";
  size_t length = body.size() + 1;
  while (std::to_string(length).size() + body.size() != length) ++length;
  return std::to_string(length) + body;
}

}  // namespace regfs::testing
