#!/usr/bin/env bash
# Installs every build and test dependency of Recserve from Debian bookworm packages.
# Idempotent: packages already present are not reinstalled, and apt-get update runs only when
# something is missing. Needs root (or sudo). Nothing is downloaded at build or test time.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache
  libasan8 libubsan1 libtsan2  # g++ 12's sanitizer runtimes (make build-asan, make build-tsan)
  libboost-dev
  libhiredis-dev
  libsqlite3-dev sqlite3
  nlohmann-json3-dev
  libspdlog-dev libfmt-dev
  libeigen3-dev
  libhnswlib-dev
  libxgboost-dev xgboost
  libcli11-dev
  libyaml-cpp-dev
  zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang clang-format libclang-rt-14-dev libomp-dev
  redis-server redis-tools
  prometheus
  wrk nginx-light
  haproxy  # scripts/fleet.sh: the local fleet's balancer
  python3 python3-yaml
  libssl-dev
  curl procps time
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# --no-install-recommends keeps prometheus from pulling exporters and a running daemon's extras.
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The Debian packages start daemons on install where systemd/policy allows; tests start their own
# servers on free loopback ports, so a system instance is neither needed nor relied upon.
