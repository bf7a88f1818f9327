//! `TapDevice` against the Linux kernel: inside a network namespace this
//! test creates (and deletes, even on failure), the kernel answers an ARP
//! request (RFC 826) written into the TAP. Needs root and `/dev/net/tun`;
//! skipped with a message elsewhere.
#![cfg(all(target_os = "linux", feature = "std"))]

use lamina_netbuf::Duration;
use lamina_netbuf::time::StdClock;
use lamina_netdev::netns::{self, Netns};
use lamina_netdev::{Device, TapDevice, TxToken};

const OUR_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x02, 0x02];
const OUR_IP: [u8; 4] = [192, 0, 2, 2];
const KERNEL_IP: [u8; 4] = [192, 0, 2, 1];

/// Runs `ip ARGS`, failing the test with its stderr on error.
fn ip(args: &[&str]) {
    netns::ip(args).expect("ip");
}

fn can_run() -> bool {
    match netns::can_create() {
        Ok(()) => true,
        Err(why) => {
            eprintln!("SKIPPED: the TAP test needs root, /dev/net/tun and iproute2: {why}");
            false
        }
    }
}

fn arp_request() -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&OUR_MAC);
    f.extend_from_slice(&[0x08, 0x06]);
    f.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 1]);
    f.extend_from_slice(&OUR_MAC);
    f.extend_from_slice(&OUR_IP);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&KERNEL_IP);
    f
}

/// The kernel's MAC if `frame` is its ARP reply to our request.
fn arp_reply_from_kernel(frame: &[u8]) -> Option<[u8; 6]> {
    let is_reply = frame.len() >= 42
        && frame[0..6] == OUR_MAC
        && frame[12..14] == [0x08, 0x06]
        && frame[20..22] == [0, 2]
        && frame[28..32] == KERNEL_IP
        && frame[32..38] == OUR_MAC
        && frame[38..42] == OUR_IP;
    is_reply.then(|| frame[22..28].try_into().unwrap())
}

#[test]
fn kernel_answers_an_arp_request_written_into_the_tap() {
    if !can_run() {
        return;
    }
    let pid = std::process::id();
    let tap = TapDevice::open(&format!("lmtap{}", pid % 1_000_000)).expect("open TAP");
    assert!(tap.capabilities().tso.is_none());
    arp_round_trip(tap, &format!("lamina-test-{pid}"), false);
}

/// A frame sent as headers and a payload lent by reference
/// (`consume_shared`: one `writev`, with offloads on so that the
/// virtio-net header comes first) reaches the kernel whole.
#[test]
fn kernel_answers_a_frame_written_with_a_shared_payload() {
    if !can_run() {
        return;
    }
    let pid = std::process::id();
    let tap = TapDevice::with_offloads(&format!("lmtsh{}", pid % 1_000_000), 1500)
        .expect("open TAP with offloads");
    assert!(tap.capabilities().shared_payloads);
    arp_round_trip(tap, &format!("lamina-test-sh-{pid}"), true);
}

/// With offloads on, every frame carries a virtio-net header each way: the
/// device adds and strips it (the kernel would misread a frame without
/// it, and we would misread its reply).
#[test]
fn kernel_answers_through_a_tap_with_offloads() {
    if !can_run() {
        return;
    }
    let pid = std::process::id();
    let tap = TapDevice::with_offloads(&format!("lmtvh{}", pid % 1_000_000), 1500)
        .expect("open TAP with offloads");
    let caps = tap.capabilities();
    assert_eq!(caps.tso.map(|t| t.max_len), Some(65_535 + 14));
    assert!(caps.checksum.tx.contains(lamina_netdev::ChecksumProto::Tcp));
    assert!(caps.checksum.rx.contains(lamina_netdev::ChecksumProto::Udp));
    assert!(
        !caps
            .checksum
            .tx
            .contains(lamina_netdev::ChecksumProto::Ipv4)
    );
    arp_round_trip(tap, &format!("lamina-test-vh-{pid}"), false);
}

/// Moves `tap` into a new namespace as 192.0.2.1/24 and has the kernel
/// answer an ARP request written into it (`shared`: the Ethernet header
/// written, the ARP packet lent by reference).
fn arp_round_trip(mut tap: TapDevice, ns_name: &str, shared: bool) {
    let ns = Netns::create(ns_name).expect("namespace");
    let name = tap.name().to_owned();
    // The open descriptor keeps working after the interface moves.
    ip(&["link", "set", &name, "netns", ns.name()]);
    ip(&["-n", ns.name(), "addr", "add", "192.0.2.1/24", "dev", &name]);
    ip(&["-n", ns.name(), "link", "set", &name, "up"]);

    let clock = StdClock::new();
    let request = arp_request();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut next_request = std::time::Instant::now();
    let kernel_mac = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no ARP reply from the kernel within 10 s"
        );
        if std::time::Instant::now() >= next_request {
            let token = tap.transmit(clock.now()).unwrap();
            if shared {
                let (head, arp) = request.split_at(14);
                let arp = bytes::Bytes::copy_from_slice(arp);
                token
                    .consume_shared(head.len(), arp, |buf| buf.copy_from_slice(head))
                    .unwrap();
            } else {
                token
                    .consume(request.len(), |buf| buf.copy_from_slice(&request))
                    .unwrap();
            }
            next_request = std::time::Instant::now() + std::time::Duration::from_millis(500);
        }
        if !tap.wait(Some(Duration::from_millis(100))).unwrap() {
            continue;
        }
        let mut found = None;
        // Other frames (IPv6 router solicitations, MLD) are ignored.
        tap.poll_rx(clock.now(), 16, |frame, _, _| {
            found = found.or(arp_reply_from_kernel(frame));
        });
        if let Some(mac) = found {
            break mac;
        }
    };
    assert_ne!(kernel_mac, [0; 6]);
    assert_eq!(kernel_mac[0] & 1, 0, "a unicast MAC");
    let stats = tap.stats();
    assert!(stats.tx_packets >= 1 && stats.rx_packets >= 1);
    assert_eq!((stats.tx_errors, stats.rx_errors), (0, 0));
    drop(tap);
    drop(ns);
}

#[test]
fn rejects_names_the_kernel_cannot_take() {
    assert!(TapDevice::open("a-name-far-too-long-for-linux").is_err());
    assert!(TapDevice::open("bad/name").is_err());
}
