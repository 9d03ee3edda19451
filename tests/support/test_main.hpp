// main() for test executables that may have to report SKIP (exit status 77, which Meson shows as
// SKIP): the GPU tests without a device, the external-data tests without the data folder.
#pragma once

#include <iostream>
#include <string>

#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

namespace t5::test {

/// Runs the registered Boost tests, or prints why not and returns 77 when `skip_reason` is set.
inline int run_or_skip(int argc, char** argv, const std::string& skip_reason) {
  if (!skip_reason.empty()) {
    std::cout << "SKIP: " << skip_reason << "\n";
    return 77;
  }
  return boost::unit_test::unit_test_main([] { return true; }, argc, argv);
}

}  // namespace t5::test
