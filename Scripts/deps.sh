#!/usr/bin/env bash
# Installs the Debian packages telme builds against, when any is missing.
# --browser also installs chromium, which the test of `telme report` loads its page in
# (Scripts/test.sh passes it; without chromium that test is skipped, saying so).
set -euo pipefail
packages=(pkg-config libopenblas-dev libdnnl-dev libhdf5-dev libavformat-dev libavcodec-dev libavutil-dev libswresample-dev libswscale-dev)
[ "${1:-}" != "--browser" ] || packages+=(chromium)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}" >&2
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
