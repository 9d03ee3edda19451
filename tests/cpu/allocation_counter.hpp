// Counts heap allocations made by this test executable: every operator new (replaced in
// allocation_counter.cpp) and every malloc / calloc / realloc / posix_memalign / aligned_alloc
// call compiled into it (Eigen's allocations included), through the linker's --wrap.
#pragma once

#include <cstdint>

namespace t5::test {

std::int64_t allocations();

}  // namespace t5::test
