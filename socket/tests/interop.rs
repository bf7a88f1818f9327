//! Interoperability with the Linux kernel over a TAP device, inside a
//! network namespace this test creates (and deletes, even on failure):
//! the kernel on 192.0.2.1/24, our [`Stack`] on 192.0.2.2/24 (RFC 5737
//! addresses, never leaving the namespace).
//!
//! - `ping -c 50` from the kernel: no loss (RFC 792, RFC 1122 §3.2.2.6);
//! - `ping -s 4000`, fragmented both ways (RFC 791 §2.3), answered; and
//!   the same from our stack to the kernel;
//! - UDP echo (RFC 862) through `socat`: byte-exact;
//! - our stack pings the kernel;
//! - the kernel's ARP entry for us reaches REACHABLE (RFC 826 answers).
//!
//! Needs root, `/dev/net/tun`, iproute2, `ping` and `socat`; skipped with
//! a message elsewhere. Run alone with
//! `cargo test -p lamina-socket --test interop -- --nocapture`.
#![cfg(all(target_os = "linux", feature = "std"))]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use lamina_netdev::TapDevice;
use lamina_netdev::netns::{self, Netns};
use lamina_socket::stack::Stack;

const KERNEL: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

fn ip(args: &[&str]) {
    netns::ip(args).expect("ip");
}

/// Runs `cmd` in the namespace; its stdout (a panic with its output
/// otherwise).
fn run(ns: &Netns, cmd: &[&str], stdin: Option<&[u8]>) -> String {
    ns.run(cmd, stdin).expect("command in the namespace")
}

fn can_run() -> bool {
    let mut missing: Vec<String> = netns::can_create().err().into_iter().collect();
    for (what, ok) in [
        ("ping", netns::have("ping", "-V")),
        ("socat", netns::have("socat", "-V")),
    ] {
        if !ok {
            missing.push(what.into());
        }
    }
    if !missing.is_empty() {
        eprintln!("SKIPPED: the interop test needs {}", missing.join(", "));
    }
    missing.is_empty()
}

#[test]
fn interoperates_with_the_linux_kernel_over_tap() {
    if !can_run() {
        return;
    }
    let pid = std::process::id();
    let ns_name = format!("lamina-interop-{pid}");
    let ns = Netns::create(&ns_name).expect("namespace");
    // With `LAMINA_INTEROP_OFFLOAD=1` (the second pass of
    // `scripts/interop.sh`), the TAP runs with the kernel's offloads.
    let tap_name = format!("lmio{}", pid % 100_000);
    let tap = if std::env::var("LAMINA_INTEROP_OFFLOAD").is_ok_and(|v| v == "1") {
        println!("interop: TAP with offloads (virtio-net header)");
        TapDevice::with_offloads(&tap_name, 1500)
    } else {
        TapDevice::open(&tap_name)
    }
    .expect("open TAP");
    let name = tap.name().to_owned();
    // The open descriptor keeps working after the interface moves.
    ip(&["link", "set", &name, "netns", ns.name()]);
    ip(&["-n", ns.name(), "addr", "add", "192.0.2.1/24", "dev", &name]);
    ip(&["-n", ns.name(), "link", "set", &name, "up"]);

    let stack = Stack::builder()
        .address("192.0.2.2/24".parse().unwrap())
        .gateway(KERNEL)
        .seed(u64::from(pid))
        .spawn(tap)
        .expect("start the stack");
    let echo = stack
        .udp_bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7))
        .expect("bind port 7");
    let server = std::thread::spawn(move || {
        let mut buf = vec![0u8; 65_536];
        while let Ok((n, from)) = echo.recv_from(&mut buf) {
            if echo.send_to(&buf[..n], from).is_err() {
                break;
            }
        }
    });

    // The kernel pings us: 50 requests, 50 replies.
    let out = run(
        &ns,
        &["ping", "-c", "50", "-i", "0.01", "-W", "2", "192.0.2.2"],
        None,
    );
    assert!(out.contains(" 0% packet loss"), "{out}");
    report("ping -c 50", &out);

    // A 4000-byte ping, fragmented both ways over MTU 1500.
    let out = run(
        &ns,
        &["ping", "-c", "3", "-s", "4000", "-W", "2", "192.0.2.2"],
        None,
    );
    assert!(out.contains(" 0% packet loss"), "{out}");
    report("ping -s 4000", &out);

    // UDP echo through socat, byte for byte.
    let payload: Vec<u8> = (0..1000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let got = run(
        &ns,
        &["socat", "-t", "2", "-", "UDP:192.0.2.2:7"],
        Some(&payload),
    );
    assert_eq!(got.as_bytes(), &payload[..]);
    println!(
        "interop: socat UDP echo of {} bytes: byte-exact",
        payload.len()
    );

    // We ping the kernel.
    let mut ping = stack.ping_socket().expect("ping socket");
    ping.set_timeout(Some(Duration::from_secs(5)));
    for seq in 0..5u16 {
        ping.send(KERNEL, seq, b"lamina ping").expect("send");
        let r = ping.recv().expect("an echo reply from the kernel");
        assert_eq!(
            (r.src, r.seq_no, &r.data[..]),
            (KERNEL, seq, &b"lamina ping"[..])
        );
    }

    let big: Vec<u8> = (0..4000u32).map(|i| i as u8).collect();
    ping.send(KERNEL, 100, &big).expect("send");
    let r = ping.recv().expect("the kernel answers a fragmented ping");
    assert_eq!((r.seq_no, r.data.len()), (100, 4000));
    assert_eq!(r.data, big);
    println!(
        "interop: lamina pinged the kernel: 5 replies, and a 4000-byte fragmented ping answered"
    );

    // The kernel's ARP entry for us is confirmed.
    let neigh = run(&ns, &["ip", "neigh", "show", "192.0.2.2"], None);
    assert!(neigh.contains("REACHABLE"), "{neigh}");
    println!("interop: kernel neighbour entry: {}", neigh.trim());

    drop(stack);
    let _ = server.join();
    drop(ns);
}

/// Prints ping's summary lines (loss and round-trip times).
fn report(what: &str, ping_output: &str) {
    for line in ping_output
        .lines()
        .filter(|l| l.contains("packet loss") || l.starts_with("rtt"))
    {
        println!("interop: {what}: {line}");
    }
}
