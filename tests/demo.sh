#!/usr/bin/env bash
# The demo, from a fresh Debian 12 machine, as root: installs only the packages the demo uses
# (.ci/deps.sh --demo: toolchain, libraries, BIRD, unbound), builds herald, and
# runs tests/demo/demo.py, which brings up a real BIRD upstream and a real unbound DNS server in
# private network namespaces, runs herald in front of it, and shows from BIRD's own output the
# prefix announced, withdrawn when the DNS server stops, back when it returns, and a drain.
# Everything it starts is stopped and every namespace is deleted at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/deps.sh --demo >/dev/null
cmake -S . -B build -G Ninja -DHERALD_WERROR=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build herald heraldctl >/dev/null
exec /usr/bin/python3 tests/demo/demo.py
