// The silenced false positive of the Boost include wrappers (base/asio.hpp, beast.hpp,
// beast_ssl.hpp), written once: GCC's -Wnull-dereference fires inside Asio's scheduler once it
// is inlined at -O1 and above. Put HERALD_BOOST_INCLUDES_BEGIN before Boost's headers and
// HERALD_BOOST_INCLUDES_END after them, so herald's own code keeps the warning.
#pragma once
#if defined(__GNUC__) && !defined(__clang__)
#define HERALD_BOOST_INCLUDES_BEGIN \
  _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wnull-dereference\"")
#define HERALD_BOOST_INCLUDES_END _Pragma("GCC diagnostic pop")
#else
#define HERALD_BOOST_INCLUDES_BEGIN
#define HERALD_BOOST_INCLUDES_END
#endif
