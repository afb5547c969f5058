// The one place herald includes Boost.Beast (its HTTP parser for /metrics, its HTTP client for
// fleet/'s etcd client), with the same silenced false positive as base/asio.hpp, on which Beast
// is built. Asio's OpenSSL layer is apart, in base/beast_ssl.hpp: including it makes a program
// link OpenSSL, which /metrics does not need.
#pragma once
#include "base/boost_warnings.hpp"
#include "base/asio.hpp"
HERALD_BOOST_INCLUDES_BEGIN
#include <boost/beast/core.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
HERALD_BOOST_INCLUDES_END
