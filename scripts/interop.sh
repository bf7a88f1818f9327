#!/usr/bin/env bash
# Interoperability tests of the Lamina stack against the Linux kernel's own
# TCP/IP: a network namespace with the kernel on 192.0.2.1/24 and Lamina on
# 192.0.2.2/24 over a TAP device (created and deleted by the test itself).
# Checks: ping -c 50 with 0% loss, 4000-byte pings fragmented both ways,
# UDP echo through socat byte-exact, Lamina pinging the kernel, and the
# kernel's ARP entry for Lamina reaching REACHABLE.
#
# Needs root, /dev/net/tun, ip, ping and socat; installs the last three with
# apt where missing. Skips loudly where it cannot run.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v ip >/dev/null || need+=(iproute2)
command -v ping >/dev/null || need+=(iputils-ping)
command -v socat >/dev/null || need+=(socat)
if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null) \
    || echo "warning: could not install ${need[*]}"
fi
cargo test --release -p lamina-socket --test interop -- --nocapture
