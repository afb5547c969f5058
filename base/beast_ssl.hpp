// Asio's OpenSSL layer and Beast's TLS streams, for fleet/'s etcd client over TLS; a target
// including this links OpenSSL::SSL (Asio's SSL error category calls into libcrypto). Same
// silenced false positive as base/asio.hpp.
#pragma once
#include "base/boost_warnings.hpp"
#include "base/beast.hpp"
HERALD_BOOST_INCLUDES_BEGIN
#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>
HERALD_BOOST_INCLUDES_END
