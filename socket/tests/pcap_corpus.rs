//! Replays every real capture in `LAMINA_PCAP_DIR` (default
//! `../shared/pcaps` beside the workspace) through the dissector and
//! compares every field that both Lamina and tshark decode with the tshark
//! decode stored beside each capture (`FILE.tsv`).
//!
//! It fails when overall agreement drops below 99.5%, and for any frame
//! that tshark found well-formed but Lamina rejected. Malformed frames must
//! give an error in the dissection, never a panic. Per-field agreement is
//! printed (`cargo test -p lamina-socket --test pcap_corpus -- --nocapture`).

use std::collections::BTreeMap;

use lamina_netdev::pcap::corpus::{self, Capture, Decode, Row};
use lamina_socket::dissect::{Dissection, LinkType, dissect};

/// The first (outermost) value of a cell, if any.
fn first<'a>(row: &Row<'a>, col: &str) -> Option<&'a str> {
    row.first(col)
}

fn num(s: &str) -> u64 {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).expect("hex cell"),
        None => s.parse().expect("numeric cell"),
    }
}

#[derive(Default)]
struct Tally {
    fields: BTreeMap<&'static str, (u64, u64)>,
    mismatches: Vec<String>,
}

impl Tally {
    fn check(&mut self, field: &'static str, ours: String, theirs: String, at: &str) {
        let e = self.fields.entry(field).or_default();
        e.1 += 1;
        if ours == theirs {
            e.0 += 1;
        } else if self.mismatches.len() < 60 {
            self.mismatches
                .push(format!("{at}: {field}: lamina {ours:?} tshark {theirs:?}"));
        }
    }

    /// Compares a field both decode (tshark cell present, ours present).
    fn both<T: ToString>(
        &mut self,
        field: &'static str,
        ours: Option<T>,
        theirs: Option<&str>,
        at: &str,
        conv: impl Fn(&str) -> String,
    ) {
        if let (Some(o), Some(t)) = (ours, theirs) {
            self.check(field, o.to_string(), conv(t), at);
        }
    }
}

fn checksum_status(s: &str) -> Option<bool> {
    match s {
        "0" => Some(false),
        "1" => Some(true),
        _ => None,
    }
}

fn compare(d: &Dissection, row: &Row<'_>, at: &str, t: &mut Tally) {
    let n = |s: &str| num(s).to_string();
    let same = |s: &str| s.to_string();
    if let Some(eth) = &d.eth {
        t.both("eth.src", Some(eth.src), first(row, "eth.src"), at, same);
        t.both("eth.dst", Some(eth.dst), first(row, "eth.dst"), at, same);
        t.both("eth.type", eth.ethertype, first(row, "eth.type"), at, n);
        if !d.vlan.is_empty() {
            let theirs: Vec<&str> = row
                .get("vlan.id")
                .map(|v| v.split(',').collect())
                .unwrap_or_default();
            let theirs: Vec<String> = theirs
                .iter()
                .take(d.vlan.len())
                .map(|v| v.to_string())
                .collect();
            let ours: Vec<String> = d.vlan.iter().map(|v| v.to_string()).collect();
            t.check("vlan.id", ours.join(","), theirs.join(","), at);
        }
    }
    if let Some(a) = &d.arp {
        t.both("arp.opcode", Some(a.op), first(row, "arp.opcode"), at, n);
        t.both(
            "arp.src.proto_ipv4",
            Some(a.spa),
            first(row, "arp.src.proto_ipv4"),
            at,
            same,
        );
        t.both(
            "arp.dst.proto_ipv4",
            Some(a.tpa),
            first(row, "arp.dst.proto_ipv4"),
            at,
            same,
        );
    }
    let Some(ip) = &d.ipv4 else { return };
    if first(row, "ip.version") != Some("4") {
        return;
    }
    t.both("ip.hdr_len", Some(ip.ihl), first(row, "ip.hdr_len"), at, n);
    t.both("ip.len", Some(ip.len), first(row, "ip.len"), at, n);
    t.both("ip.id", Some(ip.id), first(row, "ip.id"), at, n);
    t.both(
        "ip.flags.df",
        Some(ip.df as u8),
        first(row, "ip.flags.df"),
        at,
        n,
    );
    t.both(
        "ip.flags.mf",
        Some(ip.mf as u8),
        first(row, "ip.flags.mf"),
        at,
        n,
    );
    t.both(
        "ip.frag_offset",
        Some(ip.frag_offset),
        first(row, "ip.frag_offset"),
        at,
        |s| (num(s) * 8).to_string(),
    );
    t.both("ip.ttl", Some(ip.ttl), first(row, "ip.ttl"), at, n);
    t.both("ip.proto", Some(ip.proto), first(row, "ip.proto"), at, n);
    t.both("ip.src", Some(ip.src), first(row, "ip.src"), at, same);
    t.both("ip.dst", Some(ip.dst), first(row, "ip.dst"), at, same);
    if let (Some(ours), Some(theirs)) = (
        ip.checksum_ok,
        first(row, "ip.checksum.status").and_then(checksum_status),
    ) {
        t.check(
            "ip.checksum.status",
            ours.to_string(),
            theirs.to_string(),
            at,
        );
    }
    if let Some(i) = &d.icmp {
        t.both(
            "icmp.type",
            Some(i.msg_type),
            first(row, "icmp.type"),
            at,
            n,
        );
        t.both("icmp.code", Some(i.code), first(row, "icmp.code"), at, n);
        if let (Some(ours), Some(theirs)) = (
            i.checksum_ok,
            first(row, "icmp.checksum.status").and_then(checksum_status),
        ) {
            t.check(
                "icmp.checksum.status",
                ours.to_string(),
                theirs.to_string(),
                at,
            );
        }
    }
    // tshark's TCP and UDP columns in an ICMP error come from the quoted
    // datagram; only compare them when the outer packet is TCP or UDP.
    if let Some(tcp) = d
        .tcp
        .as_ref()
        .filter(|_| first(row, "tcp.srcport").is_some())
    {
        t.both(
            "tcp.srcport",
            Some(tcp.sport),
            first(row, "tcp.srcport"),
            at,
            n,
        );
        t.both(
            "tcp.dstport",
            Some(tcp.dport),
            first(row, "tcp.dstport"),
            at,
            n,
        );
        t.both(
            "tcp.seq_raw",
            Some(tcp.seq),
            first(row, "tcp.seq_raw"),
            at,
            n,
        );
        t.both(
            "tcp.ack_raw",
            Some(tcp.ack),
            first(row, "tcp.ack_raw"),
            at,
            n,
        );
        t.both(
            "tcp.hdr_len",
            Some(tcp.hdr_len),
            first(row, "tcp.hdr_len"),
            at,
            n,
        );
        t.both("tcp.flags", Some(tcp.flags), first(row, "tcp.flags"), at, n);
        t.both(
            "tcp.window_size_value",
            Some(tcp.window),
            first(row, "tcp.window_size_value"),
            at,
            n,
        );
        // Options: compared whenever either side saw one.
        let opt = |v: Option<String>| v.unwrap_or_else(|| "-".to_string());
        t.check(
            "tcp.options.mss_val",
            opt(tcp.mss.map(|v| v.to_string())),
            opt(first(row, "tcp.options.mss_val").map(n)),
            at,
        );
        t.check(
            "tcp.options.wscale.shift",
            opt(tcp.wscale.map(|v| v.to_string())),
            opt(first(row, "tcp.options.wscale.shift").map(n)),
            at,
        );
        t.check(
            "tcp.options.sack_perm",
            tcp.sack_perm.to_string(),
            first(row, "tcp.options.sack_perm").is_some().to_string(),
            at,
        );
        t.check(
            "tcp.options.timestamp.tsval",
            opt(tcp.tsval.map(|v| v.to_string())),
            opt(first(row, "tcp.options.timestamp.tsval").map(n)),
            at,
        );
        if let (Some(ours), Some(theirs)) = (
            tcp.checksum_ok,
            first(row, "tcp.checksum.status").and_then(checksum_status),
        ) {
            t.check(
                "tcp.checksum.status",
                ours.to_string(),
                theirs.to_string(),
                at,
            );
        }
    }
    if let Some(udp) = d
        .udp
        .as_ref()
        .filter(|_| first(row, "udp.srcport").is_some())
    {
        t.both(
            "udp.srcport",
            Some(udp.sport),
            first(row, "udp.srcport"),
            at,
            n,
        );
        t.both(
            "udp.dstport",
            Some(udp.dport),
            first(row, "udp.dstport"),
            at,
            n,
        );
        t.both("udp.length", Some(udp.len), first(row, "udp.length"), at, n);
        if let (Some(ours), Some(theirs)) = (
            udp.checksum_ok,
            first(row, "udp.checksum.status").and_then(checksum_status),
        ) {
            t.check(
                "udp.checksum.status",
                ours.to_string(),
                theirs.to_string(),
                at,
            );
        }
    }
}

/// The layers tshark decoded in this frame, from `frame.protocols`.
fn tshark_layers(row: &Row<'_>) -> Vec<String> {
    row.get("frame.protocols")
        .map(|p| p.split(':').map(str::to_string).collect())
        .unwrap_or_default()
}

/// Whether Lamina rejected a layer that tshark decoded (outermost
/// occurrence) without finding it malformed: the error left that layer's
/// fields undecoded. Errors after which the layer's header fields were
/// still shown (an IPv4 header with bad options) decode what tshark
/// decodes.
fn rejects_well_formed(d: &Dissection, row: &Row<'_>) -> bool {
    let Some(err) = &d.error else { return false };
    let malformed = row.get("_ws.malformed").is_some();
    if malformed {
        return false;
    }
    let layer = err.split(':').next().unwrap_or("");
    let (tshark_name, decoded) = match layer {
        "ethernet" => ("eth", d.eth.is_some()),
        "arp" => ("arp", d.arp.is_some()),
        "ipv4" => ("ip", d.ipv4.is_some()),
        "icmp" => ("icmp", d.icmp.is_some()),
        "tcp" => ("tcp", d.tcp.is_some()),
        "udp" => ("udp", d.udp.is_some()),
        other => (other, false),
    };
    !decoded && tshark_layers(row).iter().any(|l| l == tshark_name)
}

/// Errors for packets outside what Lamina implements by design (ARP for
/// hardware other than Ethernet or protocols other than IPv4, which
/// `lamina-arp` rejects with a typed error as RFC 826 permits).
fn out_of_scope(d: &Dissection) -> bool {
    d.error.is_some() && d.unsupported
}

#[test]
fn corpus_agrees_with_tshark() {
    let Some(dir) = corpus::dir() else { return };
    let captures = corpus::captures(&dir).expect("readable capture dir");
    assert!(
        !captures.is_empty(),
        "no captures with .tsv in {}",
        dir.display()
    );

    let mut tally = Tally::default();
    let mut frames = 0u64;
    let mut errors = 0u64;
    let mut rejected = Vec::new();
    let mut out_of_scope_frames = 0u64;
    for path in &captures {
        let capture = Capture::load(path).unwrap_or_else(|e| {
            panic!(
                "{}: capture rejected, but tshark read it: {e}",
                path.display()
            )
        });
        let name = capture.name();
        let decode = Decode::load_beside(path).expect("readable decode");
        for (n, (frame, row)) in capture.frames.iter().zip(decode.rows()).enumerate() {
            let Some(link) = LinkType::from_pcap(frame.link_type) else {
                continue;
            };
            let d = dissect(link, &frame.data, frame.orig_len as usize);
            frames += 1;
            let at = format!("{name}#{}", n + 1);
            if d.error.is_some() {
                errors += 1;
            }
            if out_of_scope(&d) {
                out_of_scope_frames += 1;
            } else if rejects_well_formed(&d, &row) {
                rejected.push(format!("{at}: {}", d.error.as_deref().unwrap_or("")));
            }
            compare(&d, &row, &at, &mut tally);
        }
        assert!(
            capture.frames.len() >= decode.len()
                || name.contains("oobr")
                || name.contains("asan")
                || name.contains("malformed"),
            "{name}: read {} frames, tshark read {}",
            capture.frames.len(),
            decode.len()
        );
    }

    let (mut agree, mut total) = (0u64, 0u64);
    println!(
        "{:<32} {:>8} {:>8} {:>9}",
        "field", "agree", "compared", "percent"
    );
    for (field, (a, c)) in &tally.fields {
        agree += a;
        total += c;
        println!(
            "{field:<32} {a:>8} {c:>8} {:>8.3}%",
            100.0 * *a as f64 / *c as f64
        );
    }
    let pct = 100.0 * agree as f64 / total.max(1) as f64;
    println!(
        "overall: {agree}/{total} field comparisons agree ({pct:.3}%), {} captures, {frames} frames, \
         {errors} with a decode error, of which {out_of_scope_frames} are non-Ethernet/IPv4 ARP (unsupported by design)",
        captures.len()
    );
    for m in &tally.mismatches {
        println!("mismatch {m}");
    }
    for r in &rejected {
        println!("rejected well-formed {r}");
    }
    assert!(
        total > 10_000,
        "too few comparisons ({total}): is the corpus complete?"
    );
    assert!(pct >= 99.5, "agreement {pct:.3}% is below 99.5%");
    assert!(
        rejected.is_empty(),
        "{} well-formed frames rejected",
        rejected.len()
    );
}
