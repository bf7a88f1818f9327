//! Lamina's main demo: a small network in one process, on a simulated
//! clock (no sleeping), shown step by step.
//!
//! ```text
//! cargo run --release -p lamina-socket --example demo -- \
//!     [--loss PCT] [--reorder PCT] [--size BYTES] [--seed N] \
//!     [--pcap PATH] [--snaplen BYTES] [--quiet]
//! ```
//!
//! ```text
//!  LAN host 192.0.2.10/24 ── lan link ── 192.0.2.1 [router] 198.51.100.2 ── wan link ── WAN server 198.51.100.1/24
//! ```
//!
//! The router is a Lamina `Interface` with forwarding on and a
//! `lamina-filter` rule set as its packet hooks: masquerade on the WAN
//! side, a port forward (8080 to the LAN host's port 80), and a forward
//! chain that drops by default, allows established/related traffic,
//! LAN to WAN and the forwarded port, and rejects TCP port 23 (with a
//! reset) and UDP port 69 (with ICMP port unreachable). The links are
//! in-memory wires (`lamina_netdev::wire`) with latency and bandwidth;
//! `FaultInjector`s on every port lose and reorder frames during the
//! download.
//!
//! It shows ARP resolution and pings through the NAT, a UDP exchange, a
//! port-forwarded TCP connection, the firewall refusing two attempts, a
//! download (64 MiB by default) checked by SHA-256 on both ends with
//! throughput and retransmission counts, then the router's conntrack/NAT
//! table, its rules with their counters, every device's statistics and a
//! summary. Everything the router's two ports saw is written to one
//! pcapng file with an interface per link ("lan", "wan").
//!
//! Options:
//! - `--loss PCT`: each link loses this share of the frames sent either
//!   way during the download (default 2).
//! - `--reorder PCT`: and holds back this share to be overtaken by the
//!   next 3 frames (default 1).
//! - `--size BYTES`: the download's size (default 64MiB); suffixes K, M,
//!   G, KiB, MiB, GiB (binary) and KB, MB, GB (decimal).
//! - `--seed N`: seeds every random choice (default 1); a run is
//!   reproducible from its seed, the pcap included.
//! - `--pcap PATH`: the capture file (default demo.pcap, pcapng).
//! - `--snaplen BYTES`: bytes recorded per frame (default 128; 0: whole
//!   frames); longer frames (the bulk data) are cut.
//! - `--quiet`: no progress line and no narrative: the summary only.
//!
//! The exit status is 1 if any check fails (a ping lost, the UDP echo or
//! the port forward failing, a blocked attempt not refused, the download
//! incomplete or its SHA-256 differing, the capture not written).

#[path = "demo/download.rs"]
mod download;
#[path = "demo/net.rs"]
mod net;
#[path = "demo/report.rs"]
mod report;
#[path = "demo/scenes.rs"]
mod scenes;
#[path = "demo/tables.rs"]
mod tables;

use std::process::ExitCode;

use lamina_netbuf::Duration;
use lamina_netdev::FaultConfig;

use net::Net;
use report::Table;
use scenes::Out;

const USAGE: &str = "usage: demo [--loss PCT] [--reorder PCT] [--size BYTES] [--seed N] \
     [--pcap PATH] [--snaplen BYTES] [--quiet]";

struct Args {
    loss: f64,
    reorder: f64,
    size: u64,
    seed: u64,
    pcap: String,
    snaplen: u32,
    quiet: bool,
}

/// "64MiB", "4M", "1.5GB", "1000": bytes.
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024.0 * 1024.0,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        _ => return Err(format!("--size {s}: unknown unit {unit:?}")),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("--size {s}: expected a number of bytes"))?;
    let bytes = (n * mult).round();
    if !(0.0..=1e15).contains(&bytes) {
        return Err(format!("--size {s}: out of range"));
    }
    Ok(bytes as u64)
}

fn parse_pct(flag: &str, s: &str) -> Result<f64, String> {
    match s.trim_end_matches('%').parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p / 100.0),
        _ => Err(format!("{flag} {s}: expected a percentage from 0 to 100")),
    }
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        loss: 0.02,
        reorder: 0.01,
        size: 64 << 20,
        seed: 1,
        pcap: "demo.pcap".into(),
        snaplen: 128,
        quiet: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value; {USAGE}"));
        match arg.as_str() {
            "--loss" => a.loss = parse_pct("--loss", &value()?)?,
            "--reorder" => a.reorder = parse_pct("--reorder", &value()?)?,
            "--size" => a.size = parse_size(&value()?)?,
            "--seed" => {
                let v = value()?;
                a.seed = v
                    .parse()
                    .map_err(|_| format!("--seed {v}: expected a number"))?;
            }
            "--pcap" => a.pcap = value()?,
            "--snaplen" => {
                let v = value()?;
                a.snaplen = v
                    .parse()
                    .map_err(|_| format!("--snaplen {v}: expected a number of bytes"))?;
            }
            "--quiet" | "-q" => a.quiet = true,
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => return Err(format!("unknown argument {arg}; {USAGE}")),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("demo: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs every scene and prints the tables; whether every check passed.
fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    let wall = std::time::Instant::now();
    let mut net = Net::new(args.seed, &args.pcap, args.snaplen)?;
    let mut out = Out {
        quiet: args.quiet,
        checks: Vec::new(),
    };
    banner(&out, args);

    scenes::ping(&mut net, &mut out)?;
    scenes::udp(&mut net, &mut out)?;
    scenes::port_forward(&mut net, &mut out)?;
    scenes::blocked(&mut net, &mut out)?;

    out.say(format!(
        "[5] Download: {} from 198.51.100.1:80 to 192.0.2.10 through the NAT; every link now \
         loses {:.1}% and reorders {:.1}% of the frames sent either way",
        report::bytes(args.size),
        args.loss * 100.0,
        args.reorder * 100.0
    ));
    net.set_faults(
        FaultConfig::new()
            .with_loss(args.loss)
            .with_reorder(args.reorder, 3),
    );
    let mut progress = report::Progress::new(args.quiet);
    let at_start = download::download(
        &mut net,
        &mut out,
        args.size,
        args.seed,
        args.loss,
        &mut progress,
    )?;
    net.set_faults(FaultConfig::new());
    let at_end = tables::conntrack(&net);
    // Let the closes finish (FIN both ways).
    net.run_for(Duration::from_secs(1))?;
    let rules = tables::rules(&net);
    let devices = tables::devices(&net);

    out.say("");
    out.say(
        "Router: conntrack / NAT table when the download started (lamina_filter::Conntrack::iter)",
    );
    out.say(at_start);
    out.say("  ... and when it ended (flows idle for longer than their timeout are gone)");
    out.say(at_end);
    out.say("Router: rules and their counters (lamina_filter::Filter::counters)");
    out.say(rules);
    out.say("Devices (lamina_netdev::Stats; faults: the FaultInjector's counters)");
    out.say(devices);

    // The capture.
    net.pcap.flush()?;
    let pcap_error = net.pcap.take_error();
    let frames = net.pcap.frames_written();
    let size = std::fs::metadata(&args.pcap).map(|m| m.len()).unwrap_or(0);
    out.check(
        "capture written",
        pcap_error.is_none() && frames > 0,
        match &pcap_error {
            Some(e) => format!("{}: {e}", args.pcap),
            None => format!(
                "{}: pcapng, interfaces \"lan\" and \"wan\", {frames} frames, {}",
                args.pcap,
                report::bytes(size)
            ),
        },
    );

    let mut summary = Table::new(&["step", "result<", "detail<"]);
    let (mut passed, mut total) = (0, 0);
    for c in &out.checks {
        let result = match c.ok {
            Some(true) => "ok",
            Some(false) => "FAILED",
            None => "",
        };
        if let Some(ok) = c.ok {
            total += 1;
            passed += usize::from(ok);
        }
        summary.row(vec![c.what.clone(), result.into(), c.detail.clone()]);
    }
    report::line("");
    report::line(format!(
        "Summary (seed {}, {:.1} s wall clock in all, {} simulated)",
        args.seed,
        wall.elapsed().as_secs_f64(),
        report::secs(
            net.now
                .saturating_duration_since(lamina_netbuf::Instant::ZERO)
        )
    ));
    report::line(summary.render("  ").trim_end());
    report::line(format!("  {passed}/{total} checks passed"));
    report::line("");
    let cut = match args.snaplen {
        0 => "whole frames are kept".to_string(),
        n => format!("frames longer than {n} bytes (the bulk data) are cut to {n}, --snaplen"),
    };
    report::line(format!(
        "Capture: {} (pcapng: one interface per link, \"lan\" and \"wan\", recorded at the \
         router's ports;",
        args.pcap
    ));
    report::line(format!("  {cut}). Open it with:"));
    report::line(format!("  tshark -r {}", args.pcap));
    report::line(format!(
        "  tshark -r {} -Y 'arp || icmp || udp || tcp.flags.syn == 1 || tcp.flags.reset == 1' \
         -T fields -e frame.interface_name -e frame.time_relative -e _ws.col.Info",
        args.pcap
    ));
    report::line("  or open it in Wireshark");
    Ok(passed == total)
}

fn banner(out: &Out, args: &Args) {
    out.say(format!(
        "Lamina demo: three Lamina stacks in one process, on a simulated clock (seed {})",
        args.seed
    ));
    let lan = format!(
        "{}, {}",
        report::bit_rate(net::LAN_RATE / 8, 1.0),
        report::ms(net::LAN_LATENCY)
    );
    let wan = format!(
        "{}, {}",
        report::bit_rate(net::WAN_RATE / 8, 1.0),
        report::ms(net::WAN_LATENCY)
    );
    out.say(format!(
        "\n  LAN host              router: NAT + firewall              WAN server\n  \
         192.0.2.10/24 --lan-- 192.0.2.1  |  198.51.100.2 --wan-- 198.51.100.1/24\n  \
         lan link: {lan} one way; wan link: {wan} one way"
    ));
    out.say(format!(
        "  router rules: masquerade on wan; {}:{} -> {}:80; forward policy drop, \
         established/related, LAN -> WAN and the forwarded port allowed; tcp/{} and udp/{} \
         rejected\n",
        net::ROUTER_WAN,
        net::FORWARDED_PORT,
        net::LAN_HOST,
        net::BLOCKED_TCP_PORT,
        net::BLOCKED_UDP_PORT
    ));
}
