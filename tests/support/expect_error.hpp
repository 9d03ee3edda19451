// expect_error: a call must throw t5::Error with this code and a one-line message holding `fragment`.
#pragma once

#include <boost/test/unit_test.hpp>

#include <string>

#include "t5/core/error.hpp"

namespace t5::test {

template <class F>
void expect_error(F&& f, ErrorCode code, const std::string& fragment) {
  try {
    f();
    BOOST_ERROR("no error thrown; expected one mentioning \"" << fragment << "\"");
  } catch (const Error& e) {
    BOOST_TEST(to_string(e.code()) == to_string(code), e.what());
    BOOST_TEST(std::string(e.what()).find(fragment) != std::string::npos, e.what());
    BOOST_TEST(std::string(e.what()).find('\n') == std::string::npos, "not one line: " << e.what());
  }
}

}  // namespace t5::test
