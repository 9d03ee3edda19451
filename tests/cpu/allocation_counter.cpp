// See allocation_counter.hpp. The executable is linked with -Wl,--wrap=malloc (and the other
// allocation functions), so that calls from code compiled into it reach the __wrap_ functions below.
// operator new is replaced for the whole process; its calls from inside oneDNN's library (the
// bookkeeping of each primitive execution, which t5cc cannot avoid) are left out of the count.
#include "allocation_counter.hpp"

#include <dlfcn.h>

#include <atomic>
#include <cstring>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace {
std::atomic<std::int64_t> count{0};
}

std::int64_t t5::test::allocations() { return count.load(); }

extern "C" {
void* __real_malloc(std::size_t);
void* __real_calloc(std::size_t, std::size_t);
void* __real_realloc(void*, std::size_t);
int __real_posix_memalign(void**, std::size_t, std::size_t);
void* __real_aligned_alloc(std::size_t, std::size_t);

void* __wrap_malloc(std::size_t n) {
  ++count;
  return __real_malloc(n);
}
void* __wrap_calloc(std::size_t n, std::size_t size) {
  ++count;
  return __real_calloc(n, size);
}
void* __wrap_realloc(void* p, std::size_t n) {
  ++count;
  return __real_realloc(p, n);
}
int __wrap_posix_memalign(void** p, std::size_t alignment, std::size_t n) {
  ++count;
  return __real_posix_memalign(p, alignment, n);
}
void* __wrap_aligned_alloc(std::size_t alignment, std::size_t n) {
  ++count;
  return __real_aligned_alloc(alignment, n);
}
}

namespace {
bool from_onednn(void* caller) {
  Dl_info info;
  return dladdr(caller, &info) != 0 && info.dli_fname != nullptr && std::strstr(info.dli_fname, "libdnnl") != nullptr;
}

[[gnu::noinline]] void* counted_new(std::size_t n, std::size_t alignment, void* caller) {
  if (!from_onednn(caller)) ++count;
  void* p = nullptr;
  if (alignment <= alignof(std::max_align_t)) {
    p = __real_malloc(n == 0 ? 1 : n);
  } else if (__real_posix_memalign(&p, alignment, n == 0 ? 1 : n) != 0) {
    p = nullptr;
  }
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t n) { return counted_new(n, 0, __builtin_return_address(0)); }
void* operator new[](std::size_t n) { return counted_new(n, 0, __builtin_return_address(0)); }
void* operator new(std::size_t n, std::align_val_t a) { return counted_new(n, static_cast<std::size_t>(a), __builtin_return_address(0)); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_new(n, static_cast<std::size_t>(a), __builtin_return_address(0)); }
// The nothrow forms too (std::stable_sort's temporary buffer uses them): every new the program
// calls must pair with the delete below.
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return counted_new(n, 0, __builtin_return_address(0));
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t& tag) noexcept { return operator new(n, tag); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  try {
    return counted_new(n, static_cast<std::size_t>(a), __builtin_return_address(0));
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t& tag) noexcept { return operator new(n, a, tag); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
