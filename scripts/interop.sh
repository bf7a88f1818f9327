#!/usr/bin/env bash
# Interoperability tests of the Lamina stack against the Linux kernel's own
# TCP/IP: network namespaces with the kernel on 192.0.2.1/24 and Lamina on
# 192.0.2.2/24 over a TAP device (created and deleted by the tests
# themselves).
#
# socket/tests/interop.rs: ping -c 50 with 0% loss, 4000-byte pings
# fragmented both ways, UDP echo through socat byte-exact, Lamina pinging
# the kernel, and the kernel's ARP entry for Lamina reaching REACHABLE.
#
# socket/tests/interop_tcp.rs (against the tap-server and tap-client
# examples): curl fetches /bytes/104857600 with the right SHA-256; 404/400/
# 431 and keep-alive; socat uploads 100 MiB to discard and echo (verified);
# 200 concurrent curl connections; tap-client downloads 100 MiB from
# python3 http.server and uploads 100 MiB to socat, byte-exact; the same
# kinds of transfers under 5% random loss each way (nft numgen); and with the
# namespace's Linux TCP stripped of SACK, timestamps and window scaling, its
# buffers small, under the same loss (echo and download). Prints the
# throughput each way ("interop-tcp: ... Gbit/s"). Both run twice: plain,
# then with the TAP's offloads on ("interop-tcp (offload): ..."). Sizes:
# LAMINA_INTEROP_BYTES (default 100 MiB; 1073741824 for 1 GiB) and
# LAMINA_INTEROP_LOSS_BYTES (default 4 MiB).
#
# Needs root, /dev/net/tun, ip, ping, socat, curl, python3, nft; installs
# the missing ones with apt where it can. Skips loudly where it cannot run.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v ip >/dev/null || need+=(iproute2)
command -v ping >/dev/null || need+=(iputils-ping)
command -v socat >/dev/null || need+=(socat)
command -v curl >/dev/null || need+=(curl)
command -v python3 >/dev/null || need+=(python3)
command -v nft >/dev/null || need+=(nftables)
if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null) \
    || echo "warning: could not install ${need[*]}"
fi
# The TCP tests run the examples: build them with the tests, in release.
cargo build --release -p lamina-socket --examples
# The issue's throughput figure: 1 GiB each way between Linux and tap-server.
export LAMINA_INTEROP_BYTES="${LAMINA_INTEROP_BYTES:-1073741824}"
cargo test --release -p lamina-socket --test interop --test interop_tcp -- --nocapture --test-threads=1
# The TCP tests again with the TAP's offloads on (IFF_VNET_HDR: 64 KiB
# segments each way, which the kernel cuts or coalesces, checksums left to
# it): `TapDevice::with_offloads`, the examples' `--offload`.
LAMINA_INTEROP_OFFLOAD=1 cargo test --release -p lamina-socket --test interop --test interop_tcp -- --nocapture --test-threads=1
