#define BOOST_TEST_MODULE t5cc unit tests
#include <boost/test/unit_test.hpp>
