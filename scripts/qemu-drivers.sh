#!/usr/bin/env bash
# Tests lamina-drivers-pci against QEMU's own e1000 and virtio-net models.
#
# Boots a Debian kernel under TCG with an initramfs holding busybox and a
# static build of the `qemu-guest` example, which drives the emulated NICs
# from user space (sysfs + hugepages) and prints PASS/FAIL lines on the
# serial console. Topology:
#   hub 0: e1000 (00:03.0) <-> e1000 (00:04.0)
#   hub 1: virtio-net, modern only (00:05.0) <-> e1000 (00:06.0)
# Each hub has a filter-dump capture that tshark re-checks on the host.
# Hubs 2 (e1000 00:08.0 <-> e1000 00:09.0) and 3 (virtio-net 00:0a.0 <->
# e1000 00:0b.0), without captures, carry the frame-rate measurements:
# first through this crate's drivers, then through the guest kernel's
# drivers (AF_PACKET) in the same boot.
# Then the whole Lamina stack (the `nic-ping` example) runs on a fifth NIC
# (e1000, 00:07.0) joined by `-netdev dgram` to a host-side peer
# (scripts/qemu/peer.py) that checks ARP, ping and UDP echo.
# A second boot (q35 with QEMU's emulated Intel IOMMU, intel_iommu=on)
# runs the pair tests through VFIO type1 (e1000 <-> e1000, and virtio-net
# with iommu_platform=on, so ACCESS_PLATFORM, <-> e1000) and a negative
# test: a descriptor with an unmapped bus address must end as a logged
# DMA fault.
#
# Downloads what it needs (qemu-system-x86 through apt if missing; the
# kernel and busybox-static .debs with `apt-get download`) into
# $LAMINA_QEMU_DIR (default target/qemu-drivers). Exits non-zero on any
# failure and ends with an "N passed, N failed" line. Where QEMU cannot
# run at all it says so loudly and exits 0.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${LAMINA_QEMU_DIR:-$ROOT/target/qemu-drivers}
FRAMES=${LAMINA_QEMU_FRAMES:-1000}
BENCH_SECS=${LAMINA_QEMU_BENCH_SECS:-2}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)

passed=0
failed=0
note() { printf '== %s\n' "$*" >&2; }
skip() {
    printf '\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n' >&2
    printf '!!! SKIPPING the QEMU driver tests: %s\n' "$*" >&2
    printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n' >&2
    echo "0 passed, 0 failed (skipped)"
    exit 0
}
tally() {
    # Counts and echoes PASS/FAIL lines read from stdin.
    while IFS= read -r line; do
        case "$line" in
            PASS*) passed=$((passed + 1)); echo "$line" ;;
            FAIL*) failed=$((failed + 1)); echo "$line" ;;
            INFO* | PERF*) echo "$line" ;;
        esac
    done
}

# --- QEMU -------------------------------------------------------------------
as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else return 1; fi
}
if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || skip "qemu-system-x86_64 is missing and there is no apt-get"
    note "installing qemu-system-x86"
    install_qemu() {
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends \
            qemu-system-x86 >>"$WORK/apt.log" 2>&1
    }
    install_qemu || { as_root apt-get update -q >>"$WORK/apt.log" 2>&1 && install_qemu; } ||
        skip "qemu-system-x86 could not be installed (see $WORK/apt.log)"
fi
qemu-system-x86_64 -version >/dev/null 2>&1 || skip "qemu-system-x86_64 does not run"
for tool in python3 dpkg-deb; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool is missing"
done

# --- Kernel and busybox -------------------------------------------------------
DEBS="$WORK/debs"
mkdir -p "$DEBS"
if [ ! -f "$WORK/vmlinux" ] || [ ! -x "$DEBS/root/bin/busybox" ]; then
    KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null |
        awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
    [ -n "$KPKG" ] || skip "cannot resolve the kernel package of linux-image-amd64"
    note "downloading $KPKG and busybox-static"
    (cd "$DEBS" && apt-get download -q "$KPKG" busybox-static >"$WORK/download.log" 2>&1) ||
        skip "apt-get download failed (see $WORK/download.log)"
    rm -rf "$DEBS/root"
    for deb in "$DEBS"/*.deb; do dpkg-deb -x "$deb" "$DEBS/root"; done
    python3 "$ROOT/scripts/qemu/extract_vmlinux.py" "$DEBS"/root/boot/vmlinuz-* "$WORK/vmlinux"
fi
KDIR=$(ls -d "$DEBS"/root/lib/modules/* | head -n1)

# --- The guest program ----------------------------------------------------------
note "building the static guest programs"
RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR="$WORK/cargo" \
    cargo build -q --release --manifest-path "$ROOT/Cargo.toml" -p lamina-drivers-pci \
    --features linux --example qemu-guest --example nic-ping --target x86_64-unknown-linux-gnu
BIN="$WORK/cargo/x86_64-unknown-linux-gnu/release/examples"

# --- Initramfs --------------------------------------------------------------------
INITRD="$WORK/initrd"
rm -rf "$INITRD"
mkdir -p "$INITRD"/{bin,proc,sys,dev,tmp,modules/vfio,modules/nic}
copy_modules() { # DIR MODULE...: copies the modules and their dependencies in load order
    local dir=$1 n=0 ko
    shift
    for ko in $(python3 "$ROOT/scripts/qemu/modules.py" "$KDIR" "$@" 2>/dev/null); do
        n=$((n + 1))
        cp "$ko" "$dir/$(printf %02d $n)-$(basename "$ko")"
    done
}
copy_modules "$INITRD/modules/vfio" vfio-pci vfio_iommu_type1
copy_modules "$INITRD/modules/nic" e1000 virtio_net virtio_pci
cp "$DEBS/root/bin/busybox" "$INITRD/bin/busybox"
cp "$BIN/qemu-guest" "$BIN/nic-ping" "$INITRD/bin/"
cat >"$INITRD/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# Start on a fresh line: the firmware leaves the console mid-line.
echo
echo 64 > /proc/sys/vm/nr_hugepages
if grep -q lamina=vfio /proc/cmdline; then
    # QEMU's IOMMU runs without interrupt remapping here (the drivers
    # poll), which vfio_iommu_type1 accepts only when told to.
    for m in /modules/vfio/*.ko; do
        case \$m in *vfio_iommu_type1*) insmod \$m allow_unsafe_interrupts=1 ;; *) insmod \$m ;; esac ||
            echo "FAIL insmod \$m"
    done
    /bin/qemu-guest vfio vfio-e1000 0000:00:03.0 0000:00:04.0 $FRAMES 2>&1
    /bin/qemu-guest vfio vfio-virtio-e1000 0000:00:05.0 0000:00:06.0 $FRAMES 2>&1
    /bin/qemu-guest vfio-negative vfio-e1000-negative 0000:00:03.0 2>&1
    echo "=== lamina vfio done"
    poweroff -f
fi
echo "=== lamina guest start"
/bin/qemu-guest pair e1000-e1000 0000:00:03.0 0000:00:04.0 $FRAMES 2>&1
/bin/qemu-guest pair virtio-e1000 0000:00:05.0 0000:00:06.0 $FRAMES 2>&1
echo "=== lamina pairs done"
if [ "$BENCH_SECS" != 0 ]; then
    for len in 60 1514; do
        # Measurements are bounded: a stuck one must not keep the stack
        # test below from running.
        timeout 30 /bin/qemu-guest bench e1000 0000:00:08.0 0000:00:09.0 $BENCH_SECS \$len 2>&1 ||
            echo "INFO bench e1000 \$len: did not finish"
        timeout 30 /bin/qemu-guest bench virtio-e1000 0000:00:0a.0 0000:00:0b.0 $BENCH_SECS \$len 2>&1 ||
            echo "INFO bench virtio-e1000 \$len: did not finish"
    done
    # The same transfers through the guest kernel's own drivers.
    for m in /modules/nic/*.ko; do insmod \$m; done
    sleep 1
    for len in 60 1514; do
        timeout 30 /bin/qemu-guest bench-kernel e1000 0000:00:08.0 0000:00:09.0 $BENCH_SECS \$len 2>&1 ||
            echo "INFO bench-kernel e1000 \$len: did not finish"
        timeout 30 /bin/qemu-guest bench-kernel virtio-e1000 0000:00:0a.0 0000:00:0b.0 $BENCH_SECS \$len 2>&1 ||
            echo "INFO bench-kernel virtio-e1000 \$len: did not finish"
    done
fi
/bin/nic-ping --pci 0000:00:07.0 --addr 192.0.2.2/24 2>&1 &
# The host-side peer ends the run once it has checked the stack.
sleep 120
echo "=== lamina guest end"
poweroff -f
INIT
chmod +x "$INITRD/init"
python3 "$ROOT/scripts/qemu/mkinitramfs.py" "$INITRD" "$WORK/initrd.gz"

# --- Boot ---------------------------------------------------------------------------
rm -f "$WORK"/hub*.pcap "$WORK"/guest.sock "$WORK"/peer.sock
note "booting the guest (TCG)"
start=$(date +%s)
timeout 600 qemu-system-x86_64 \
    -accel tcg -m 512 -smp 1 -nographic -no-reboot -nic none \
    -kernel "$WORK/vmlinux" -initrd "$WORK/initrd.gz" \
    -append "console=ttyS0 quiet panic=-1" \
    -netdev hubport,id=p0,hubid=0 -device e1000,netdev=p0,mac=52:54:00:00:00:01,addr=03.0 \
    -netdev hubport,id=p1,hubid=0 -device e1000,netdev=p1,mac=52:54:00:00:00:02,addr=04.0 \
    -netdev hubport,id=p2,hubid=1 \
    -device virtio-net-pci,disable-legacy=on,netdev=p2,mac=52:54:00:00:00:03,addr=05.0 \
    -netdev hubport,id=p3,hubid=1 -device e1000,netdev=p3,mac=52:54:00:00:00:04,addr=06.0 \
    -netdev dgram,id=p4,local.type=unix,local.path="$WORK/guest.sock",remote.type=unix,remote.path="$WORK/peer.sock" \
    -device e1000,netdev=p4,mac=52:54:00:00:00:05,addr=07.0 \
    -netdev hubport,id=p5,hubid=2 -device e1000,netdev=p5,mac=52:54:00:00:00:06,addr=08.0 \
    -netdev hubport,id=p6,hubid=2 -device e1000,netdev=p6,mac=52:54:00:00:00:07,addr=09.0 \
    -netdev hubport,id=p7,hubid=3 \
    -device virtio-net-pci,disable-legacy=on,netdev=p7,mac=52:54:00:00:00:08,addr=0a.0 \
    -netdev hubport,id=p8,hubid=3 -device e1000,netdev=p8,mac=52:54:00:00:00:09,addr=0b.0 \
    -object filter-dump,id=f0,netdev=p0,file="$WORK/hub0.pcap" \
    -object filter-dump,id=f1,netdev=p2,file="$WORK/hub1.pcap" \
    </dev/null >"$WORK/serial.log" 2>&1 &
qemu_pid=$!
python3 "$ROOT/scripts/qemu/peer.py" "$WORK/peer.sock" "$WORK/guest.sock" 192.0.2.2 240 \
    >"$WORK/peer.log" 2>&1 || echo "FAIL stack peer crashed (see $WORK/peer.log)" >>"$WORK/peer.log"
kill "$qemu_pid" 2>/dev/null || true
wait "$qemu_pid" 2>/dev/null || true
note "guest ran for $(($(date +%s) - start)) s; console log in $WORK/serial.log"

if ! grep -q '=== lamina pairs done' "$WORK/serial.log"; then
    tally <<<"FAIL guest did not finish the pair tests (see $WORK/serial.log)"
fi
tally < <(tr -d '\r' <"$WORK/serial.log")
tally <"$WORK/peer.log"

note "booting the IOMMU guest (q35, intel-iommu, TCG)"
start=$(date +%s)
timeout 300 qemu-system-x86_64 \
    -accel tcg -m 512 -smp 1 -nographic -no-reboot -nic none -vga none \
    -machine q35 -device intel-iommu,intremap=off \
    -kernel "$WORK/vmlinux" -initrd "$WORK/initrd.gz" \
    -append "console=ttyS0 quiet panic=-1 intel_iommu=on lamina=vfio" \
    -netdev hubport,id=p0,hubid=0 -device e1000,netdev=p0,mac=52:54:00:00:01:01,addr=03.0 \
    -netdev hubport,id=p1,hubid=0 -device e1000,netdev=p1,mac=52:54:00:00:01:02,addr=04.0 \
    -netdev hubport,id=p2,hubid=1 \
    -device virtio-net-pci,disable-legacy=on,iommu_platform=on,netdev=p2,mac=52:54:00:00:01:03,addr=05.0 \
    -netdev hubport,id=p3,hubid=1 -device e1000,netdev=p3,mac=52:54:00:00:01:04,addr=06.0 \
    </dev/null >"$WORK/serial-vfio.log" 2>&1 || true
note "IOMMU guest ran for $(($(date +%s) - start)) s; console log in $WORK/serial-vfio.log"
if ! grep -q '=== lamina vfio done' "$WORK/serial-vfio.log"; then
    tally <<<"FAIL vfio guest did not finish (see $WORK/serial-vfio.log)"
fi
tally < <(tr -d '\r' <"$WORK/serial-vfio.log")
if grep -q 'vtd_iommu_translate: detected translation failure' "$WORK/serial-vfio.log"; then
    tally <<<"PASS vfio-e1000-negative host: QEMU's IOMMU reported the translation failure"
else
    tally <<<"FAIL vfio-e1000-negative host: no translation failure reported by QEMU's IOMMU"
fi

# --- Host-side capture checks --------------------------------------------------------
if command -v tshark >/dev/null 2>&1; then
    tally < <(python3 "$ROOT/scripts/qemu/check_pcap.py" e1000-e1000 "$WORK/hub0.pcap" "$FRAMES")
    tally < <(python3 "$ROOT/scripts/qemu/check_pcap.py" virtio-e1000 "$WORK/hub1.pcap" "$FRAMES")
else
    note "tshark not installed: capture checks skipped"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
