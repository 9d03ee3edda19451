// operator<< for t5's enums, so Boost.Test can print them when an assertion fails.
#pragma once

#include <ostream>

#include "t5/core/policies.hpp"
#include "t5/core/dtype.hpp"
#include "t5/core/error.hpp"

namespace t5 {

inline std::ostream& operator<<(std::ostream& os, ErrorCode v) { return os << to_string(v); }
inline std::ostream& operator<<(std::ostream& os, Ffn v) { return os << to_string(v); }
inline std::ostream& operator<<(std::ostream& os, GeluApprox v) { return os << to_string(v); }
inline std::ostream& operator<<(std::ostream& os, PositionBias v) { return os << to_string(v); }
inline std::ostream& operator<<(std::ostream& os, AttnScale v) { return os << to_string(v); }
inline std::ostream& operator<<(std::ostream& os, LmHead v) { return os << to_string(v); }
inline std::ostream& operator<<(std::ostream& os, DType v) { return os << dtype_name(v); }

}  // namespace t5
