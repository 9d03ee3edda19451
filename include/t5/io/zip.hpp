// ZipArchive: the entries of a zip file held in memory (a mapping), as torch.save (>= 1.6) writes
// them: stored, never compressed, ZIP64 past 4 GiB. Only the central directory is trusted for
// names and sizes (torch writes sizes after the data, in data descriptors); every offset and size
// is checked against the file before use, so a damaged archive is an error, never a read outside it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "t5/core/error.hpp"
#include "t5/core/json.hpp"

namespace t5::io {

/// The first bytes of a zip archive (a local file header).
inline bool starts_like_zip(std::span<const std::byte> bytes) {
  return bytes.size() >= 4 && std::to_integer<char>(bytes[0]) == 'P' && std::to_integer<char>(bytes[1]) == 'K' &&
         std::to_integer<int>(bytes[2]) == 3 && std::to_integer<int>(bytes[3]) == 4;
}

class ZipArchive {
 public:
  struct Entry {
    std::uint64_t offset = 0;  ///< of the entry's bytes in the archive
    std::uint64_t size = 0;
  };

  /// Reads the directory of the archive `bytes`; `source` names it in messages. Throws
  /// Error(Format) for anything but a well-formed archive of stored (uncompressed, unencrypted)
  /// entries with unique names.
  ZipArchive(std::span<const std::byte> bytes, std::string source) : bytes_(bytes), source_(std::move(source)) {
    const std::uint64_t eocd = find_end_record();
    std::uint64_t entries = u16(eocd + 10), dir_size = u32(eocd + 12), dir_offset = u32(eocd + 16);
    if (u16(eocd + 4) != 0 || u16(eocd + 6) != 0) fail("spans several disks");
    if (entries == 0xffff || dir_size == 0xffffffffu || dir_offset == 0xffffffffu) {  // ZIP64: the locator precedes the record
      if (eocd < 20 || u32(eocd - 20) != 0x07064b50u) fail("has ZIP64 sizes but no ZIP64 end-of-directory locator");
      const std::uint64_t record = u64(eocd - 12);
      need(record, 56, "ZIP64 end-of-directory record");
      if (u32(record) != 0x06064b50u) fail("ZIP64 end-of-directory locator points at no record");
      entries = u64(record + 32);
      dir_size = u64(record + 40);
      dir_offset = u64(record + 48);
    }
    need(dir_offset, dir_size, "central directory");
    if (entries > dir_size / 46) fail("central directory of " + std::to_string(dir_size) + " bytes cannot hold " + std::to_string(entries) + " entries");
    std::uint64_t at = dir_offset;
    for (std::uint64_t i = 0; i < entries; ++i) at = read_directory_entry(at, dir_offset + dir_size);
  }

  const std::string& source() const noexcept { return source_; }
  const std::map<std::string, Entry, std::less<>>& entries() const noexcept { return entries_; }

  const Entry* find(std::string_view name) const {
    auto it = entries_.find(name);
    return it == entries_.end() ? nullptr : &it->second;
  }

  std::span<const std::byte> data(const Entry& e) const { return bytes_.subspan(e.offset, e.size); }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw Error(ErrorCode::Format, source_ + ": zip archive " + what); }

  /// `length` bytes at `offset` lie inside the archive (checked without overflow).
  void need(std::uint64_t offset, std::uint64_t length, const char* what) const {
    if (offset > bytes_.size() || length > bytes_.size() - offset)
      fail(std::string("is truncated: its ") + what + " at byte " + std::to_string(offset) + " runs past the end of the " +
           std::to_string(bytes_.size()) + "-byte file");
  }

  std::uint64_t le(std::uint64_t at, int n) const {
    std::uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | std::to_integer<std::uint64_t>(bytes_[at + static_cast<std::uint64_t>(i)]);
    return v;
  }
  std::uint64_t u16(std::uint64_t at) const { return le(at, 2); }
  std::uint64_t u32(std::uint64_t at) const { return le(at, 4); }
  std::uint64_t u64(std::uint64_t at) const { return le(at, 8); }

  /// The end-of-central-directory record: 22 bytes and a comment of up to 65535, at the end.
  std::uint64_t find_end_record() const {
    const std::uint64_t n = bytes_.size();
    if (n < 22) fail("is truncated: " + std::to_string(n) + " bytes, shorter than an end-of-directory record");
    const std::uint64_t lowest = n >= 22 + 65535 ? n - 22 - 65535 : 0;
    for (std::uint64_t at = n - 22 + 1; at-- > lowest;)
      if (u32(at) == 0x06054b50u && at + 22 + u16(at + 20) == n) return at;
    fail("has no end-of-central-directory record (truncated?)");
  }

  /// One central directory header at `at` (ending before `end`): the entry, located through its
  /// local header. Returns where the next header starts.
  std::uint64_t read_directory_entry(std::uint64_t at, std::uint64_t end) {
    if (at > end || end - at < 46 || u32(at) != 0x02014b50u) fail("central directory entry at byte " + std::to_string(at) + " is malformed");
    const std::uint64_t flags = u16(at + 8), method = u16(at + 10), name_len = u16(at + 28), extra_len = u16(at + 30),
                        comment_len = u16(at + 32);
    std::uint64_t compressed = u32(at + 20), size = u32(at + 24), local = u32(at + 42);
    const std::uint64_t next = at + 46 + name_len + extra_len + comment_len;
    if (next > end) fail("central directory entry at byte " + std::to_string(at) + " runs past the directory");
    std::string name(reinterpret_cast<const char*>(bytes_.data() + at + 46), name_len);
    const std::string entry = "entry " + quoted_text(name, name_chars);
    // ZIP64 extended information: the fields that are 0xffffffff in the header, in this order.
    for (std::uint64_t x = at + 46 + name_len, x_end = x + extra_len; x + 4 <= x_end;) {
      const std::uint64_t id = u16(x), len = u16(x + 2);
      if (x + 4 + len > x_end) fail(entry + " has a malformed extra field");
      if (id == 0x0001) {
        std::uint64_t f = x + 4;
        for (std::uint64_t* field : {&size, &compressed, &local}) {
          if (*field != 0xffffffffu) continue;
          if (f + 8 > x + 4 + len) fail(entry + " has a short ZIP64 extra field");
          *field = u64(f);
          f += 8;
        }
      }
      x += 4 + len;
    }
    if (flags & 1u) fail(entry + " is encrypted");
    if (method != 0 || compressed != size)
      fail(entry + " is compressed (method " + std::to_string(method) + "); torch.save stores entries uncompressed (was the file re-zipped?)");
    need(local, 30, "local header");
    if (u32(local) != 0x04034b50u) fail(entry + ": no local header at byte " + std::to_string(local));
    const std::uint64_t data = local + 30 + u16(local + 26) + u16(local + 28);
    need(data, size, ("data of " + entry).c_str());
    if (!entries_.emplace(std::move(name), Entry{data, size}).second) fail("holds " + entry + " twice");
    return next;
  }

  std::span<const std::byte> bytes_;
  std::string source_;
  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace t5::io
