// Sizes of memory from untrusted counts: a byte count that saturates instead of wrapping, a
// product that reports overflow, the machine's memory, and a short form of a size for messages.
#pragma once

#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <limits>
#include <string>

#include <unistd.h>

namespace t5 {

/// a * b, or -1 when either is negative or the product overflows int64.
inline std::int64_t checked_product(std::int64_t a, std::int64_t b) {
  std::int64_t p = 0;
  return a < 0 || b < 0 || __builtin_mul_overflow(a, b, &p) ? -1 : p;
}

/// A byte count that saturates at 2^64 - 1 instead of wrapping: sizes from a request are untrusted.
class Bytes {
 public:
  static constexpr std::uint64_t saturated = std::numeric_limits<std::uint64_t>::max();

  /// Adds the product of `factors`; a negative factor (checked_product's overflow) saturates it.
  Bytes& add(std::initializer_list<std::int64_t> factors) {
    std::uint64_t product = 1;
    bool overflow = false;
    for (std::int64_t f : factors) {
      if (f < 0) return saturate();
      overflow = __builtin_mul_overflow(product, static_cast<std::uint64_t>(f), &product) || overflow;
      if (f == 0) return *this;  // nothing, however large the other factors
    }
    if (overflow || __builtin_add_overflow(total_, product, &total_)) return saturate();
    return *this;
  }
  /// Adds a byte count.
  Bytes& add_bytes(std::uint64_t bytes) {
    if (__builtin_add_overflow(total_, bytes, &total_)) return saturate();
    return *this;
  }
  std::uint64_t total() const noexcept { return total_; }

 private:
  Bytes& saturate() {
    total_ = saturated;
    return *this;
  }
  std::uint64_t total_ = 0;
};

/// "12.5 GiB", "3.0 MiB", "more than 16 EiB" for messages.
inline std::string human_bytes(std::uint64_t n) {
  if (n == Bytes::saturated) return "more than 16 EiB";
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024.0 && u < 6) v /= 1024.0, ++u;
  char text[32];
  std::snprintf(text, sizeof text, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return text;
}

/// The machine's physical memory in bytes.
inline std::uint64_t host_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page) : Bytes::saturated;
}

}  // namespace t5
