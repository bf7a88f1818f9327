//! Captures written by `PcapWriter` open in tshark without malformed or
//! truncated frames. Skipped (loudly) where tshark is not installed.
#![cfg(feature = "std")]

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;

use lamina_netbuf::checksum::{checksum, ipv4_pseudo_header};
use lamina_netbuf::{Duration, Instant};
use lamina_netdev::pcap::{PcapFormat, PcapWriter};
use lamina_netdev::{Device, LinkConfig, RxToken, TxToken, wire};

const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];
const IP_A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const IP_B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);

/// An Ethernet II + ARP frame (RFC 826), built by hand.
fn arp(op: u16, sha: [u8; 6], spa: Ipv4Addr, tha: [u8; 6], tpa: Ipv4Addr, dst: [u8; 6]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sha);
    f.extend_from_slice(&0x0806u16.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4]);
    f.extend_from_slice(&op.to_be_bytes());
    f.extend_from_slice(&sha);
    f.extend_from_slice(&spa.octets());
    f.extend_from_slice(&tha);
    f.extend_from_slice(&tpa.octets());
    f
}

/// An Ethernet II + IPv4 + UDP frame with correct checksums (RFC 791,
/// RFC 768), built by hand.
fn udp(src: ([u8; 6], Ipv4Addr), dst: ([u8; 6], Ipv4Addr), payload: &[u8]) -> Vec<u8> {
    let udp_len = 8 + payload.len() as u16;
    let mut ip = vec![0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 17, 0, 0];
    ip[2..4].copy_from_slice(&(20 + udp_len).to_be_bytes());
    ip.extend_from_slice(&src.1.octets());
    ip.extend_from_slice(&dst.1.octets());
    let c = checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let mut u = Vec::new();
    u.extend_from_slice(&40000u16.to_be_bytes());
    u.extend_from_slice(&7u16.to_be_bytes());
    u.extend_from_slice(&udp_len.to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    let mut sum = ipv4_pseudo_header(src.1, dst.1, 17, udp_len);
    sum.add_bytes(&u);
    let c = match sum.finish() {
        0 => 0xffff,
        c => c,
    };
    u[6..8].copy_from_slice(&c.to_be_bytes());
    let mut f = Vec::new();
    f.extend_from_slice(&dst.0);
    f.extend_from_slice(&src.0);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    f.extend(ip);
    f.extend(u);
    f
}

fn send<D: Device>(dev: &mut D, now: Instant, frame: &[u8]) {
    dev.transmit(now)
        .unwrap()
        .consume(frame.len(), |buf| buf.copy_from_slice(frame))
        .unwrap();
}

fn tshark_available() -> bool {
    let ok = Command::new("tshark")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIPPED: tshark is not installed (apt-get install tshark)");
    }
    ok
}

/// Host A (recorded) resolves B over ARP and exchanges a UDP datagram
/// with it across a wire with 1 ms latency; returns the capture's path.
fn record(format: PcapFormat, ext: &str) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("lamina-netdev-tshark-{}.{ext}", std::process::id()));
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let (a, mut b) = wire(LinkConfig::new().with_latency(Duration::from_millis(1)));
    let mut a = PcapWriter::new(a, file, format).unwrap();
    let mut now = Instant::from_secs(1_700_000_000);

    send(&mut a, now, &arp(1, MAC_A, IP_A, [0; 6], IP_B, [0xff; 6]));
    now = b.poll_at().unwrap();
    let replied = b.poll_rx(now, 8, |frame, _, reply| {
        assert_eq!(&frame[12..14], &[0x08, 0x06]);
        let ans = arp(2, MAC_B, IP_B, MAC_A, IP_A, MAC_A);
        reply
            .consume(ans.len(), |out| out.copy_from_slice(&ans))
            .unwrap();
    });
    assert_eq!(replied, 1);
    now = a.poll_at().unwrap();
    let (rx, _) = a.receive(now).unwrap();
    assert_eq!(rx.consume(|f| f[21]), 2, "an ARP reply");

    send(&mut a, now, &udp((MAC_A, IP_A), (MAC_B, IP_B), b"lamina"));
    now = b.poll_at().unwrap();
    b.poll_rx(now, 8, |frame, _, reply| {
        let ans = udp((MAC_B, IP_B), (MAC_A, IP_A), &frame[42..]);
        reply
            .consume(ans.len(), |out| out.copy_from_slice(&ans))
            .unwrap();
    });
    now = a.poll_at().unwrap();
    a.poll_rx(now, 8, |_, _, _| {});

    assert_eq!(a.frames_written(), 4);
    let (_, mut file) = a.into_parts();
    std::io::Write::flush(&mut file).unwrap();
    path
}

fn check_with_tshark(path: &PathBuf, pcapng: bool) {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(path)
        .args([
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
        ])
        .args(["-T", "fields", "-E", "separator=|"])
        .args([
            "-e",
            "frame.number",
            "-e",
            "_ws.malformed",
            "-e",
            "_ws.expert.message",
        ])
        .args([
            "-e",
            "frame.protocols",
            "-e",
            "ip.checksum.status",
            "-e",
            "udp.checksum.status",
        ])
        .args([
            "-e",
            "frame.time_epoch",
            "-e",
            "frame.packet_flags_direction",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    std::fs::remove_file(path).ok();
    assert!(out.status.success(), "tshark failed: {stderr}");
    for bad in ["cut short", "damaged", "corrupt", "malformed"] {
        assert!(!stderr.to_lowercase().contains(bad), "tshark: {stderr}");
    }
    let rows: Vec<Vec<&str>> = stdout.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(rows.len(), 4, "{stdout}");
    for row in &rows {
        assert_eq!(row[1], "", "malformed frame: {row:?}");
        assert_eq!(row[2], "", "expert message: {row:?}");
    }
    assert_eq!(rows[0][3], "eth:ethertype:arp");
    assert_eq!(rows[1][3], "eth:ethertype:arp");
    for row in &rows[2..] {
        assert_eq!(row[3], "eth:ethertype:ip:udp:echo");
        // 1 = checksum verified good.
        assert_eq!((row[4], row[5]), ("1", "1"), "{row:?}");
    }
    // The caller's clock: sent at t, answered after 1 ms each way.
    let times: Vec<&str> = rows.iter().map(|r| r[6]).collect();
    assert!(times[0].starts_with("1700000000.000000"), "{times:?}");
    assert!(times[1].starts_with("1700000000.002000"), "{times:?}");
    if pcapng {
        // epb_flags: 0x2 outbound (sent by A), 0x1 inbound.
        let dirs: Vec<u32> = rows
            .iter()
            .map(|r| u32::from_str_radix(r[7].trim_start_matches("0x"), 16).unwrap())
            .collect();
        assert_eq!(dirs, [2, 1, 2, 1]);
    }
}

#[test]
fn pcap_capture_opens_in_tshark_without_malformed_frames() {
    if tshark_available() {
        check_with_tshark(&record(PcapFormat::Pcap, "pcap"), false);
    }
}

#[test]
fn pcapng_capture_opens_in_tshark_without_malformed_frames() {
    if tshark_available() {
        check_with_tshark(&record(PcapFormat::PcapNg, "pcapng"), true);
    }
}
