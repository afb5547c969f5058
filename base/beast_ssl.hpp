// Asio's OpenSSL layer and Beast's TLS streams, for fleet/'s etcd client over TLS; a target
// including this links OpenSSL::SSL (Asio's SSL error category calls into libcrypto). Same
// silenced false positive as base/asio.hpp.
#pragma once
#include "base/beast.hpp"
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#endif
#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
