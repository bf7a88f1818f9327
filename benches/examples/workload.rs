//! Runs one benchmark body of the `stack` or `tcp` group a given number
//! of times, with nothing else around it: for counting what it executes,
//! which (unlike its time) does not move with the load of the machine.
//!
//! ```sh
//! cargo run --release -p lamina-benches --example workload -- stack/lamina/ping 1000
//! valgrind --tool=callgrind target/release/examples/workload tcp/smoltcp/handshake 1000
//! ```
//!
//! The names are the criterion functions' (`GROUP/STACK/FUNCTION`);
//! `--list` prints them. The set-up (hosts, ARP, the connection) runs
//! before the count, so the difference between two counts is exactly
//! that many iterations: `scripts/instr-ratios.sh` runs each body twice
//! under callgrind and prints instructions per iteration, Lamina's
//! against smoltcp's.

use std::hint::black_box;

#[path = "../benches/pairs/smol_iface.rs"]
mod smol_iface;
#[allow(dead_code)]
#[path = "../benches/pairs/stack.rs"]
mod stack;
#[allow(dead_code)]
#[path = "../benches/pairs/tcp.rs"]
mod tcp;

/// Every workload, as `GROUP/STACK/FUNCTION`.
const NAMES: &[&str] = &[
    "stack/lamina/ping",
    "stack/smoltcp/ping",
    "stack/lamina/idle-poll",
    "stack/smoltcp/idle-poll",
    "stack/lamina/udp-64",
    "stack/smoltcp/udp-64",
    "stack/lamina/udp-1472",
    "stack/smoltcp/udp-1472",
    "tcp/lamina/bulk-1500",
    "tcp/smoltcp/bulk-1500",
    "tcp/lamina/bulk-65535",
    "tcp/smoltcp/bulk-65535",
    "tcp/lamina/handshake",
    "tcp/smoltcp/handshake",
    "tcp/lamina/ping-pong-1",
    "tcp/smoltcp/ping-pong-1",
];

/// Runs `body` `n` times.
fn repeat(n: u64, mut body: impl FnMut()) {
    for _ in 0..n {
        body();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--list") {
        for name in NAMES {
            println!("{name}");
        }
        return;
    }
    let (Some(name), Some(n)) = (
        args.first(),
        args.get(1).and_then(|n| n.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: workload GROUP/STACK/FUNCTION ITERATIONS   (or --list)");
        std::process::exit(2);
    };
    let ping = [0x42u8; 56];
    let msg = [0x5au8; 64];
    let mut buf = vec![0u8; 1 << 20];
    let (group, rest) = name.split_once('/').unwrap_or(("", ""));
    let (who, function) = rest.split_once('/').unwrap_or(("", ""));
    let udp = |function: &str| {
        function
            .strip_prefix("udp-")
            .and_then(|s| s.parse::<usize>().ok())
            .map(|size| vec![0x5au8; size])
    };
    let bulk = |function: &str| {
        function
            .strip_prefix("bulk-")
            .and_then(|s| s.parse::<usize>().ok())
    };
    // The same bodies for both stacks: their pairs have the same methods.
    macro_rules! stack_bodies {
        ($pair:expr) => {{
            let mut p = $pair;
            let mut seq = 0u16;
            match function {
                "ping" => repeat(n, || {
                    seq = seq.wrapping_add(1);
                    black_box(p.ping_once(seq, &ping));
                }),
                "idle-poll" => repeat(n, || p.a.poll()),
                f => match udp(f) {
                    Some(payload) => repeat(n, || {
                        black_box(p.udp_batch(&payload, &mut buf));
                    }),
                    None => unknown(name),
                },
            }
        }};
    }
    macro_rules! tcp_bodies {
        ($pair:path) => {{
            match function {
                "handshake" => {
                    let mut p = $pair(1500);
                    repeat(n, || p.handshake());
                }
                "ping-pong-1" => {
                    let mut p = $pair(1500);
                    repeat(n, || p.ping_pong_main(&msg, &mut buf));
                }
                f => match bulk(f) {
                    Some(mtu) => {
                        let data = lamina_benches::test_bytes(tcp::BULK, 7);
                        let mut p = $pair(mtu);
                        repeat(n, || {
                            black_box(p.bulk(&data, &mut buf));
                        });
                    }
                    None => unknown(name),
                },
            }
        }};
    }
    match (group, who) {
        ("stack", "lamina") => stack_bodies!(stack::lamina_side::pair()),
        ("stack", "smoltcp") => stack_bodies!(stack::smol_side::pair()),
        ("tcp", "lamina") => tcp_bodies!(tcp::lamina_side::pair),
        ("tcp", "smoltcp") => tcp_bodies!(tcp::smol_side::pair),
        _ => unknown(name),
    }
}

fn unknown(name: &str) -> ! {
    eprintln!("unknown workload {name:?}; `--list` prints the names");
    std::process::exit(2);
}
