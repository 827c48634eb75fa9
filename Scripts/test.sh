#!/usr/bin/env bash
# The whole test suite: installs what is missing, then `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/deps.sh --browser
swift test "$@"
