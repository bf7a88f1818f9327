#!/usr/bin/env bash
# A Lamina NAT router against the Linux kernel: the tap-router example
# (an Interface forwarding through lamina-filter) between a LAN client
# namespace (192.0.2.10/24, default route via the router's 192.0.2.1) and a
# WAN server namespace (198.51.100.1/24; the router is 198.51.100.2), over
# two TAP devices, all created and deleted by the test itself.
# Checks: curl downloads 50 MiB from a Python http.server through the NAT
# byte-exact (SHA-256) while the router's LAN route carries 1200 bytes
# (the server learns that path MTU through the NAT), the server sees
# 198.51.100.2 as the client, ping
# works through the NAT, a --forward port forward lets the WAN reach a LAN
# server, and the --rules firewall drops what it does not allow.
#
# Needs root, /dev/net/tun, ip, ping, curl and python3; installs the tools
# with apt where missing. Skips loudly where it cannot run.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v ip >/dev/null || need+=(iproute2)
command -v ping >/dev/null || need+=(iputils-ping)
command -v curl >/dev/null || need+=(curl)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null) \
    || echo "warning: could not install ${need[*]}"
fi
# The test runs the example binary of its own profile.
cargo build --release -p lamina-socket --example tap-router
cargo test --release -p lamina-socket --test router_interop -- --nocapture
