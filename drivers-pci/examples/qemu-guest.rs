//! The test program `scripts/qemu-drivers.sh` runs inside a QEMU guest:
//! drives real (emulated) NICs with this crate's drivers through the
//! sysfs backend and prints one `PASS ...` or `FAIL ...` line per check.
//!
//! ```text
//! qemu-guest pair LABEL BDF_A BDF_B FRAMES
//! qemu-guest vfio LABEL BDF_A BDF_B FRAMES
//! qemu-guest vfio-negative LABEL BDF
//! qemu-guest bench LABEL BDF_A BDF_B SECONDS LEN
//! qemu-guest bench-kernel LABEL BDF_A BDF_B SECONDS LEN
//! ```
//!
//! `pair`: the two functions sit on one QEMU hub. FRAMES frames of mixed
//! sizes (60 to 1514 bytes) go from A to B, then as many from B to A;
//! every one must arrive intact and in order. The payload of frame `seq`
//! is a pattern the host re-checks in the capture.
//!
//! `vfio`: the same through VFIO (both functions bound to `vfio-pci`,
//! behind QEMU's emulated Intel IOMMU). `vfio-negative`: a transmit
//! descriptor is given a bus address the IOMMU does not map; the guest
//! kernel must log the DMA fault.
//!
//! `bench`: frames of LEN bytes from A to B as fast as they go for
//! SECONDS, through this crate's drivers; prints `PERF` lines with the
//! frames per second B received. `bench-kernel`: the same transfer
//! through the functions' Linux drivers (already bound) with `AF_PACKET`
//! sockets.

use std::time::{Duration as StdDuration, Instant as StdInstant};

use lamina_drivers_pci::e1000::{self, E1000};
use lamina_drivers_pci::hal::{Direction, Hal};
use lamina_drivers_pci::linux::{self, SysfsConfig, SysfsHal, VfioHal};
use lamina_drivers_pci::pci::{self, Header, PciAddress};
use lamina_drivers_pci::virtio::net::{self as vnet, VirtioNet};
use lamina_netbuf::Instant;
use lamina_netbuf::checksum;
use lamina_netdev::{ChecksumProto, Device, TxMeta, TxToken};

type BoxError = Box<dyn std::error::Error>;

/// The EtherType of the test frames (IEEE 802 local experimental 1).
const ETHERTYPE: [u8; 2] = [0x88, 0xb5];

/// The length of test frame `seq`: spread over 60..=1514.
fn frame_len(seq: u32) -> usize {
    match seq % 10 {
        0 => 60,
        1 => 1514,
        _ => 60 + (seq as usize * 7919) % 1455,
    }
}

/// Writes test frame `seq` from `src` to `dst` into `buf`.
fn fill(buf: &mut [u8], dst: [u8; 6], src: [u8; 6], dir: u8, seq: u32) {
    buf[..6].copy_from_slice(&dst);
    buf[6..12].copy_from_slice(&src);
    buf[12..14].copy_from_slice(&ETHERTYPE);
    buf[14] = dir;
    buf[15..19].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in buf.iter_mut().enumerate().skip(19) {
        *b = (i as u32).wrapping_mul(31).wrapping_add(seq) as u8;
    }
}

/// Whether `f` is the intact test frame `seq` in direction `dir`.
fn check(f: &[u8], dir: u8, seq: u32) -> bool {
    if f.len() != frame_len(seq) || f.get(12..14) != Some(&ETHERTYPE[..]) || f[14] != dir {
        return false;
    }
    if f[15..19] != seq.to_be_bytes() {
        return false;
    }
    f.iter()
        .enumerate()
        .skip(19)
        .all(|(i, b)| *b == (i as u32).wrapping_mul(31).wrapping_add(seq) as u8)
}

const NOW: Instant = Instant::ZERO;

/// Sends `n` frames from `tx` to `rx` and checks each arrives intact and
/// in order. Returns (intact, problems).
fn one_way<A: Device, B: Device>(
    tx: &mut A,
    rx: &mut B,
    src: [u8; 6],
    dst: [u8; 6],
    dir: u8,
    n: u32,
) -> (u32, Vec<String>) {
    let mut sent = 0u32;
    let mut expect = 0u32;
    let mut intact = 0u32;
    let mut problems = Vec::new();
    let deadline = StdInstant::now() + StdDuration::from_secs(30);
    while expect < n && StdInstant::now() < deadline {
        // Keep at most 32 frames in flight so neither ring overflows.
        while sent < n && sent - expect < 32 {
            let Some(t) = tx.transmit(NOW) else { break };
            let len = frame_len(sent);
            match t.consume(len, |b| fill(b, dst, src, dir, sent)) {
                Ok(()) => sent += 1,
                Err(e) => {
                    problems.push(format!("transmit {sent}: {e}"));
                    break;
                }
            }
        }
        tx.flush(NOW);
        let got = rx.poll_rx(NOW, 64, |f, _, _| {
            if f.get(12..14) != Some(&ETHERTYPE[..]) || f.get(14) != Some(&dir) {
                return;
            }
            if check(f, dir, expect) {
                intact += 1;
            } else if problems.len() < 10 {
                problems.push(format!("frame {expect}: bad ({} bytes)", f.len()));
            }
            expect += 1;
        });
        rx.flush(NOW);
        if got == 0 {
            std::thread::sleep(StdDuration::from_micros(50));
        }
    }
    if expect < n {
        problems.push(format!("only {expect} of {n} frames arrived (sent {sent})"));
    }
    (intact, problems)
}

fn pair<A: Device, B: Device>(
    label: &str,
    a: &mut A,
    ma: [u8; 6],
    b: &mut B,
    mb: [u8; 6],
    n: u32,
) -> bool {
    let mut ok = true;
    for (dir, name) in [(1u8, "a->b"), (2u8, "b->a")] {
        let (intact, problems) = if dir == 1 {
            one_way(a, b, ma, mb, dir, n)
        } else {
            one_way(b, a, mb, ma, dir, n)
        };
        let pass = intact == n && problems.is_empty();
        ok &= pass;
        println!(
            "{} {label} {name}: {intact}/{n} frames intact{}",
            if pass { "PASS" } else { "FAIL" },
            if problems.is_empty() {
                String::new()
            } else {
                format!(" ({})", problems.join("; "))
            }
        );
    }
    ok
}

/// An I/O virtual address `VfioHal` never maps.
const BAD_IOVA: u64 = 0xdead_0000;

/// Programs the e1000 at `pci` by hand, through VFIO, to transmit from
/// [`BAD_IOVA`], and checks that the kernel reports the IOMMU fault.
fn vfio_negative(label: &str, pci: PciAddress) -> Result<bool, BoxError> {
    use e1000::regs::*;
    let hal = VfioHal::open(pci)?;
    let mut cfg = hal.config()?;
    let bars = pci::size_bars(&mut cfg, pci)?;
    pci::enable_memory_and_bus_master(&mut cfg, pci);
    let bar0 = bars[0].ok_or("no BAR 0")?;
    let r = hal.map_bar(&bar0)?;
    r.write32(IMC, u32::MAX);
    r.write32(CTRL, r.read32(CTRL) | CTRL_RST);
    std::thread::sleep(StdDuration::from_millis(10));
    let mut ring = hal.dma_alloc(128, Direction::Both)?;
    ring.write_u64(0, BAD_IOVA);
    ring.write_u32(
        8,
        64 | u32::from(TXD_CMD_EOP | TXD_CMD_IFCS | TXD_CMD_RS) << 24,
    );
    r.write64_split(TDBAL, ring.bus_addr());
    r.write32(TDLEN, 128);
    r.write32(TDH, 0);
    r.write32(TDT, 0);
    r.write32(TCTL, TCTL_EN | TCTL_PSP);
    r.write32(TDT, 1);
    std::thread::sleep(StdDuration::from_millis(500));
    let done = ring.read_u8(12).unwrap_or(0) & TXD_STAT_DD != 0;
    // Stop the card before the ring goes away.
    r.write32(CTRL, r.read32(CTRL) | CTRL_RST);
    std::thread::sleep(StdDuration::from_millis(10));
    // SAFETY: the card was reset and no longer reads the ring.
    #[allow(unsafe_code)]
    unsafe {
        hal.dma_free(ring)
    };
    let log = std::process::Command::new("dmesg").output()?;
    let log = String::from_utf8_lossy(&log.stdout);
    let fault = log
        .lines()
        .find(|l| l.contains("DMAR") && l.to_ascii_lowercase().contains("dead0000"));
    // QEMU's e1000 completes the descriptor even though its DMA read
    // failed; what matters is that the IOMMU stopped the access.
    let ok = fault.is_some();
    println!(
        "{} {label} bad DMA address {BAD_IOVA:#x}: {}",
        if ok { "PASS" } else { "FAIL" },
        match fault {
            Some(l) => format!("IOMMU fault logged ({}; descriptor done: {done})", l.trim()),
            None => format!("no IOMMU fault in the kernel log (descriptor done: {done})"),
        }
    );
    Ok(ok)
}

enum Nic<H: Hal> {
    E1000(E1000<H>),
    Virtio(VirtioNet<H>),
}

impl Nic<VfioHal> {
    fn open_vfio(pci: PciAddress) -> Result<Nic<VfioHal>, BoxError> {
        linux::bind_driver(pci, "vfio-pci")
            .map_err(|e| format!("binding {pci} to vfio-pci: {e}"))?;
        let hal = VfioHal::open(pci).map_err(|e| format!("opening {pci} through VFIO: {e}"))?;
        let mut cfg = hal
            .config()
            .map_err(|e| format!("VFIO config region: {e}"))?;
        let h = Header::read(&mut cfg, pci)?;
        Ok(if h.vendor_id == e1000::VENDOR_INTEL {
            Nic::E1000(E1000::probe(&mut cfg, pci, hal, e1000::Config::default())?)
        } else {
            Nic::Virtio(VirtioNet::probe(
                &mut cfg,
                pci,
                hal,
                vnet::Config::default(),
            )?)
        })
    }
}

impl Nic<SysfsHal> {
    fn open(pci: PciAddress) -> Result<Nic<SysfsHal>, BoxError> {
        linux::unbind(pci)?;
        let mut cfg = SysfsConfig::open(pci)?;
        let hal = SysfsHal::new(pci);
        let h = Header::read(&mut cfg, pci)?;
        Ok(if h.vendor_id == e1000::VENDOR_INTEL {
            Nic::E1000(E1000::probe(&mut cfg, pci, hal, e1000::Config::default())?)
        } else {
            Nic::Virtio(VirtioNet::probe(
                &mut cfg,
                pci,
                hal,
                vnet::Config::default(),
            )?)
        })
    }
}

impl<H: Hal> Nic<H> {
    fn mac(&self) -> [u8; 6] {
        match self {
            Nic::E1000(d) => d.mac_address(),
            Nic::Virtio(d) => d.mac_address(),
        }
    }
}

/// Calls `$f` with the two NICs as concrete device types.
macro_rules! with_pair {
    ($a:expr, $b:expr, |$x:ident, $y:ident| $body:expr) => {
        match ($a, $b) {
            (Nic::E1000($x), Nic::E1000($y)) => $body,
            (Nic::E1000($x), Nic::Virtio($y)) => $body,
            (Nic::Virtio($x), Nic::E1000($y)) => $body,
            (Nic::Virtio($x), Nic::Virtio($y)) => $body,
        }
    };
}

/// Sends `len`-byte frames from `tx` to `rx` for `secs` seconds; returns
/// (frames sent, frames received intact-length, elapsed seconds).
fn blast<A: Device, B: Device>(
    tx: &mut A,
    rx: &mut B,
    src: [u8; 6],
    dst: [u8; 6],
    len: usize,
    secs: f64,
) -> (u64, u64, f64) {
    let start = StdInstant::now();
    let (mut sent, mut got) = (0u64, 0u64);
    while start.elapsed().as_secs_f64() < secs {
        for _ in 0..64 {
            let Some(t) = tx.transmit(NOW) else { break };
            if t.consume(len, |b| fill_bench(b, dst, src)).is_ok() {
                sent += 1;
            }
        }
        tx.flush(NOW);
        rx.poll_rx(NOW, 256, |f, _, _| {
            if f.len() == len && f.get(12..14) == Some(&BENCH_ETHERTYPE[..]) {
                got += 1;
            }
        });
        rx.flush(NOW);
    }
    // Collect what is still on its way.
    let tail = StdInstant::now();
    while tail.elapsed() < StdDuration::from_millis(200) {
        rx.poll_rx(NOW, 256, |f, _, _| {
            if f.len() == len && f.get(12..14) == Some(&BENCH_ETHERTYPE[..]) {
                got += 1;
            }
        });
    }
    (sent, got, start.elapsed().as_secs_f64())
}

/// The EtherType of benchmark frames (IEEE 802 local experimental 2).
const BENCH_ETHERTYPE: [u8; 2] = [0x88, 0xb6];

fn fill_bench(b: &mut [u8], dst: [u8; 6], src: [u8; 6]) {
    b[..6].copy_from_slice(&dst);
    b[6..12].copy_from_slice(&src);
    b[12..14].copy_from_slice(&BENCH_ETHERTYPE);
    b[14..].fill(0x5a);
}

/// The network interface the kernel gave the function at `pci`.
/// (`net/` directly below the function, or below its `virtioN` child).
fn iface_of(pci: PciAddress) -> Result<String, BoxError> {
    let dev = linux::device_dir(pci);
    let mut dirs = vec![dev.join("net")];
    for e in std::fs::read_dir(&dev)?.flatten() {
        if e.file_name().to_string_lossy().starts_with("virtio") {
            dirs.push(e.path().join("net"));
        }
    }
    for d in dirs {
        if let Some(Ok(e)) = std::fs::read_dir(&d).ok().and_then(|mut r| r.next()) {
            return Ok(e.file_name().to_string_lossy().into_owned());
        }
    }
    Err(format!("{pci}: no network interface").into())
}

/// An `AF_PACKET` socket bound to `iface` for the test EtherType.
fn packet_socket(iface: &str) -> Result<i32, BoxError> {
    let proto = u16::from_be_bytes(BENCH_ETHERTYPE).to_be();
    let name = std::ffi::CString::new(iface)?;
    #[allow(unsafe_code)]
    // SAFETY: plain libc calls; `sll` is a zeroed, fully initialised
    // `sockaddr_ll` of the size passed.
    unsafe {
        let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto));
        if fd < 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        let mut sll: libc::sockaddr_ll = core::mem::zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto;
        sll.sll_ifindex = libc::if_nametoindex(name.as_ptr()) as i32;
        let r = libc::bind(
            fd,
            (&raw const sll).cast(),
            core::mem::size_of::<libc::sockaddr_ll>() as u32,
        );
        if r < 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        Ok(fd)
    }
}

fn bench_kernel(
    label: &str,
    a: PciAddress,
    b: PciAddress,
    secs: f64,
    len: usize,
) -> Result<(), BoxError> {
    let (ia, ib) = (iface_of(a)?, iface_of(b)?);
    for i in [&ia, &ib] {
        std::process::Command::new("ip")
            .args(["link", "set", i, "up"])
            .status()?;
    }
    let mac = |i: &str| -> Result<[u8; 6], BoxError> {
        let t = std::fs::read_to_string(format!("/sys/class/net/{i}/address"))?;
        let v: Vec<u8> = t
            .trim()
            .split(':')
            .filter_map(|x| u8::from_str_radix(x, 16).ok())
            .collect();
        v.try_into().map_err(|_| "bad MAC".into())
    };
    let (ma, mb) = (mac(&ia)?, mac(&ib)?);
    std::thread::sleep(StdDuration::from_millis(1500));
    let (txs, rxs) = (packet_socket(&ia)?, packet_socket(&ib)?);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let receiver = std::thread::spawn(move || {
        let mut buf = vec![0u8; 2048];
        let mut got = 0u64;
        let tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 100_000,
        };
        #[allow(unsafe_code)]
        // SAFETY: `tv` is a valid timeval of the size passed; `buf` is a
        // live buffer of the length passed.
        unsafe {
            libc::setsockopt(
                rxs,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&raw const tv).cast(),
                16,
            );
            loop {
                let n = libc::recv(rxs, buf.as_mut_ptr().cast(), buf.len(), 0);
                if n == len as isize {
                    got += 1;
                } else if n < 0 && stop2.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
            }
        }
        got
    });
    let mut frame = vec![0u8; len];
    fill_bench(&mut frame, mb, ma);
    let start = StdInstant::now();
    let mut sent = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        #[allow(unsafe_code)]
        // SAFETY: `frame` is a live buffer of the length passed.
        let n = unsafe { libc::send(txs, frame.as_ptr().cast(), frame.len(), 0) };
        if n == len as isize {
            sent += 1;
        }
    }
    std::thread::sleep(StdDuration::from_millis(200));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let got = receiver.join().map_err(|_| "receiver panicked")?;
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "PERF {label} kernel {len}B: {:.0} frames/s received ({got} of {sent} sent in {elapsed:.1} s)",
        got as f64 / elapsed
    );
    Ok(())
}

/// Sends UDP/IPv4 frames from `tx` to `rx` leaving the checksums the
/// sender offloads to the card, and checks they arrive correct. Prints
/// one line; returns whether it passed.
fn csum_check<A: Device, B: Device>(
    label: &str,
    tx: &mut A,
    rx: &mut B,
    src: [u8; 6],
    dst: [u8; 6],
) -> bool {
    let offload = tx.capabilities().checksum.tx;
    let want = offload
        .intersection(lamina_netdev::ChecksumSet::of(ChecksumProto::Ipv4).with(ChecksumProto::Udp));
    let (sip, dip) = ([192, 0, 2, 10], [192, 0, 2, 11]);
    let n = 20u16;
    let mut sent = 0;
    for i in 0..n {
        let plen = 1 + usize::from(i) * 77 % 1472;
        let len = 14 + 20 + 8 + plen;
        let Some(mut t) = tx.transmit(NOW) else { break };
        t.set_meta(TxMeta::new().with_checksum_offload(want, 14, 34));
        let r = t.consume(len, |f| {
            f[..6].copy_from_slice(&dst);
            f[6..12].copy_from_slice(&src);
            f[12..14].copy_from_slice(&[0x08, 0x00]);
            let ip = &mut f[14..34];
            ip.copy_from_slice(&[
                0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ]);
            ip[2..4].copy_from_slice(&((len - 14) as u16).to_be_bytes());
            ip[4..6].copy_from_slice(&i.to_be_bytes());
            ip[12..16].copy_from_slice(&sip);
            ip[16..20].copy_from_slice(&dip);
            if !want.contains(ChecksumProto::Ipv4) {
                let c = checksum::checksum(ip);
                ip[10..12].copy_from_slice(&c.to_be_bytes());
            }
            let ulen = (8 + plen) as u16;
            f[34..36].copy_from_slice(&4000u16.to_be_bytes());
            f[36..38].copy_from_slice(&i.to_be_bytes());
            f[38..40].copy_from_slice(&ulen.to_be_bytes());
            for (j, b) in f[42..].iter_mut().enumerate() {
                *b = (j as u16 ^ i) as u8;
            }
            let ph = checksum::ipv4_pseudo_header(sip.into(), dip.into(), 17, ulen);
            if want.contains(ChecksumProto::Udp) {
                f[40..42].copy_from_slice(&ph.sum().to_be_bytes());
            } else {
                f[40..42].fill(0);
                let mut sum = ph;
                sum.add_bytes(&f[34..]);
                let c = match sum.finish() {
                    0 => 0xffff,
                    c => c,
                };
                f[40..42].copy_from_slice(&c.to_be_bytes());
            }
        });
        if r.is_ok() {
            sent += 1;
        }
    }
    tx.flush(NOW);
    let (mut good, mut flagged, mut seen) = (0u16, 0u16, 0u16);
    let deadline = StdInstant::now() + StdDuration::from_secs(5);
    while seen < sent && StdInstant::now() < deadline {
        rx.poll_rx(NOW, 64, |f, meta, _| {
            if f.len() < 42 || f[12..14] != [0x08, 0x00] || f[23] != 17 || f[26..30] != sip {
                return;
            }
            seen += 1;
            let ip_ok = checksum::checksum(&f[14..34]) == 0;
            let ulen = u16::from_be_bytes([f[38], f[39]]);
            let mut sum = checksum::ipv4_pseudo_header(sip.into(), dip.into(), 17, ulen);
            sum.add_bytes(f.get(34..34 + usize::from(ulen)).unwrap_or(&[]));
            if ip_ok && sum.finish() == 0 && f[40..42] != [0, 0] {
                good += 1;
            }
            if meta.checksum_verified.contains(ChecksumProto::Udp) {
                flagged += 1;
            }
        });
        rx.flush(NOW);
    }
    let pass = good == n && sent == n;
    println!(
        "{} {label} checksums (offloaded by the sender: {want:?}): {good}/{n} frames with correct IPv4 and UDP checksums; receiver vouched for {flagged}",
        if pass { "PASS" } else { "FAIL" }
    );
    pass
}

/// Opens both NICs, runs the pair test, and prints the card counters.
fn run_pair<H: Hal>(label: &str, n: u32, a: Result<Nic<H>, BoxError>, b: Result<Nic<H>, BoxError>) {
    let (mut na, mut nb) = match (a, b) {
        (Ok(x), Ok(y)) => (x, y),
        (x, y) => {
            let e = x
                .err()
                .or(y.err())
                .map(|e| e.to_string())
                .unwrap_or_default();
            println!("FAIL {label} init: {e}");
            return;
        }
    };
    println!("PASS {label} init");
    let (ma, mb) = (na.mac(), nb.mac());
    // QEMU's e1000 ignores incoming frames for a second after RCTL is
    // written.
    std::thread::sleep(StdDuration::from_millis(1500));
    with_pair!(&mut na, &mut nb, |x, y| {
        pair(label, x, ma, y, mb, n);
        csum_check(&format!("{label} a->b"), x, y, ma, mb);
    });
    if let Nic::Virtio(d) = &na {
        println!("INFO {label} a: virtio features {:#x}", d.features());
    }
    if let Nic::E1000(d) = &na {
        let hw = d.hw_counters();
        println!(
            "INFO {label} a: GPTC {} GPRC {}",
            hw.good_tx_packets, hw.good_rx_packets
        );
    }
}

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: qemu-guest (pair|vfio) LABEL BDF_A BDF_B FRAMES | vfio-negative LABEL BDF";
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["pair", label, a, b, n] => {
            let (a, b): (PciAddress, PciAddress) = (a.parse()?, b.parse()?);
            run_pair(label, n.parse()?, Nic::open(a), Nic::open(b));
            Ok(())
        }
        ["vfio", label, a, b, n] => {
            let (a, b): (PciAddress, PciAddress) = (a.parse()?, b.parse()?);
            run_pair(label, n.parse()?, Nic::open_vfio(a), Nic::open_vfio(b));
            Ok(())
        }
        ["bench", label, a, b, secs, len] => {
            let (a, b): (PciAddress, PciAddress) = (a.parse()?, b.parse()?);
            let (secs, len): (f64, usize) = (secs.parse()?, len.parse()?);
            let (mut na, mut nb) = (Nic::open(a)?, Nic::open(b)?);
            let (ma, mb) = (na.mac(), nb.mac());
            std::thread::sleep(StdDuration::from_millis(1500));
            let (sent, got, el) =
                with_pair!(&mut na, &mut nb, |x, y| blast(x, y, ma, mb, len, secs));
            println!(
                "PERF {label} lamina {len}B: {:.0} frames/s received ({got} of {sent} sent in {el:.1} s)",
                got as f64 / el
            );
            Ok(())
        }
        ["bench-kernel", label, a, b, secs, len] => {
            bench_kernel(label, a.parse()?, b.parse()?, secs.parse()?, len.parse()?)
        }
        // A process of its own: the BAR mappings of an earlier `VfioHal`
        // keep the device (and so its group) busy until the process exits.
        ["vfio-negative", label, a] => {
            if let Err(e) = vfio_negative(label, a.parse()?) {
                println!("FAIL {label}: {e}");
            }
            Ok(())
        }
        _ => Err(usage.into()),
    }
}
