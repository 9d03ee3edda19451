// Helpers of the cuda suite: random host data of odd sizes, device copies of it, poisoned outputs
// (all bits set: NaN in float, f16 and bf16) and the normwise relative error that every check uses.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "t5/core/dtype.hpp"
#include "t5/cuda.hpp"

namespace t5::test {

/// n values uniform in [-scale, scale], rounded to T.
template <class T>
std::vector<T> random_values(std::size_t n, float scale, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<T> v(n);
  for (auto& x : v) x = from_float<T>(u(rng));
  return v;
}

/// A device copy of `host`.
template <class T>
cuda::DeviceBuffer to_device(std::span<const T> host) {
  cuda::DeviceBuffer b(host.size_bytes());
  b.upload(std::as_bytes(host));
  return b;
}
template <class T>
cuda::DeviceBuffer to_device(const std::vector<T>& host) {
  return to_device(std::span<const T>(host));
}

/// A device buffer of n elements with every bit set (NaN for the float types, -1 for integers), so
/// that an element the kernel forgot to write fails the comparison.
template <class T>
cuda::DeviceBuffer poisoned(std::size_t n) {
  cuda::DeviceBuffer b(n * sizeof(T));
  b.fill_bytes(0xff);
  return b;
}

/// The first n elements of `b`, after synchronising the device.
template <class T>
std::vector<T> to_host(const cuda::DeviceBuffer& b, std::size_t n) {
  cuda::synchronize();
  std::vector<T> v(n);
  b.download(std::as_writable_bytes(std::span(v)));
  return v;
}

/// ||got - want|| / ||want|| in double; infinity when any element of `got` is not finite, so that
/// NaN never passes a bound.
template <class T>
double normwise_error(std::span<const T> got, std::span<const float> want) {
  double diff2 = 0.0, ref2 = 0.0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = to_float(got[i]);
    if (!std::isfinite(g)) return INFINITY;
    diff2 += (g - want[i]) * (g - want[i]);
    ref2 += static_cast<double>(want[i]) * want[i];
  }
  return ref2 > 0.0 ? std::sqrt(diff2 / ref2) : std::sqrt(diff2);
}

}  // namespace t5::test
