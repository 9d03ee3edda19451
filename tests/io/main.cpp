#define BOOST_TEST_MODULE t5cc io tests
#include <boost/test/unit_test.hpp>
