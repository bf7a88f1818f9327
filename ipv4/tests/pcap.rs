//! Real captures with tshark's decode beside them (see
//! `shared/pcaps/README.md`): the fixed header fields of every frame match
//! tshark's, and the two malformed tcpdump captures give the typed errors
//! a strict decoder must (bad options; options cut off by the snaplen).
//!
//! The folder comes from `LAMINA_PCAP_DIR`, defaulting to the shared
//! folder beside the workspace; the test skips, saying so, if it is absent.

use std::path::Path;

use lamina_ipv4::{BadOptionReason, Error, Ipv4Header, Ipv4Packet, option_kind};
use lamina_netbuf::checksum;
use lamina_netdev::pcap::corpus::{self, Decode, Row};

/// The outermost value of a cell (tshark lists nested headers, outer
/// first), empty where tshark printed nothing.
fn first<'a>(row: &Row<'a>, col: &str) -> &'a str {
    row.first(col).unwrap_or("")
}

/// The IPv4 bytes of an Ethernet frame (one 802.1Q tag at most).
fn ip_of(frame: &[u8]) -> &[u8] {
    let at = if frame.get(12..14) == Some(&[0x81, 0x00]) {
        18
    } else {
        14
    };
    &frame[at..]
}

/// Compares every fixed field tshark decodes with the raw header, which
/// must be readable even when the options are not.
fn compare_fixed_fields(name: &str, row: &Row<'_>, ip: &[u8]) {
    let h = Ipv4Header::peek(ip).unwrap();
    let n = first(row, "frame.number");
    let ctx = format!("{name} frame {n}");
    assert_eq!(h.version().to_string(), first(row, "ip.version"), "{ctx}");
    assert_eq!(
        h.header_len().to_string(),
        first(row, "ip.hdr_len"),
        "{ctx}"
    );
    assert_eq!(h.total_len().to_string(), first(row, "ip.len"), "{ctx}");
    assert_eq!(
        format!("{:#06x}", h.identification()),
        first(row, "ip.id"),
        "{ctx}"
    );
    assert_eq!(
        u8::from(h.dont_fragment()).to_string(),
        first(row, "ip.flags.df"),
        "{ctx}"
    );
    assert_eq!(
        u8::from(h.more_fragments()).to_string(),
        first(row, "ip.flags.mf"),
        "{ctx}"
    );
    assert_eq!(
        h.fragment_offset().to_string(),
        first(row, "ip.frag_offset"),
        "{ctx}"
    );
    assert_eq!(h.ttl().to_string(), first(row, "ip.ttl"), "{ctx}");
    assert_eq!(h.protocol().0.to_string(), first(row, "ip.proto"), "{ctx}");
    assert_eq!(h.src().to_string(), first(row, "ip.src"), "{ctx}");
    assert_eq!(h.dst().to_string(), first(row, "ip.dst"), "{ctx}");
    // Checksum status: 0 bad, 1 good, 2 unverified (header not all there).
    match (ip.get(..h.header_len()), first(row, "ip.checksum.status")) {
        (Some(hdr), "1") => assert_eq!(checksum::checksum(hdr), 0, "{ctx}"),
        (Some(hdr), "0") => assert_ne!(checksum::checksum(hdr), 0, "{ctx}"),
        (None, "2") => {}
        (hdr, s) => panic!("{ctx}: header present {}, tshark status {s}", hdr.is_some()),
    }
}

fn load(dir: &Path, name: &str) -> (Vec<Vec<u8>>, Decode) {
    let (capture, decode) = corpus::open(dir, name).expect("readable capture and decode");
    assert_eq!(
        capture.frames.len(),
        decode.len(),
        "{name}: frames vs tsv rows"
    );
    (capture.frames.into_iter().map(|f| f.data).collect(), decode)
}

#[test]
fn timestamp_option_with_partial_entry_is_rejected_tcpdump_ip_ts_opts_asan() {
    let Some(dir) = corpus::dir() else { return };
    let name = "tcpdump__ip_ts_opts_asan.pcap";
    let (frames, decode) = load(&dir, name);
    let ip = ip_of(&frames[0]);
    let row0 = decode.row(1).expect("one frame");
    compare_fixed_fields(name, &row0, ip);
    // tshark: "Suboption would go past end of option". The timestamp
    // option (flag 1, 8-byte entries) has 10 bytes of entries: RFC 791
    // §3.1 makes that malformed, in strict and lenient parsing alike.
    assert!(
        row0.get("_ws.expert.message")
            .unwrap_or("")
            .contains("past end of option")
    );
    for r in [Ipv4Packet::parse(ip), Ipv4Packet::parse_truncated(ip)] {
        assert_eq!(
            r.unwrap_err(),
            Error::BadOption {
                kind: option_kind::TIMESTAMP,
                offset: 21,
                reason: BadOptionReason::BadLength
            }
        );
    }
}

#[test]
fn options_cut_by_snaplen_are_truncated_tcpdump_ip_printroute_asan() {
    let Some(dir) = corpus::dir() else { return };
    let name = "tcpdump__ip_printroute_asan.pcap";
    let (frames, decode) = load(&dir, name);
    let ip = ip_of(&frames[0]);
    let row0 = decode.row(1).expect("one frame");
    compare_fixed_fields(name, &row0, ip);
    // A 60-byte header with 46 bytes captured: even the lenient parser
    // needs the whole header, but the fixed fields above were readable.
    assert_eq!(
        Ipv4Packet::parse_truncated(ip).unwrap_err(),
        Error::Truncated {
            needed: 60,
            got: 46
        }
    );
    assert_eq!(row0.get("ip.checksum.status"), Some("2"));
}

#[test]
fn outer_headers_of_icmp_capture_match_tshark() {
    let Some(dir) = corpus::dir() else { return };
    let name = "pcapplusplus__IcmpPackets.pcap";
    let (frames, decode) = load(&dir, name);
    for (frame, row) in frames.iter().zip(decode.rows()) {
        let ip = ip_of(frame);
        compare_fixed_fields(name, &row, ip);
        let p = Ipv4Packet::parse_verified(ip).unwrap();
        // The payload ends at the total length, before Ethernet padding.
        assert_eq!(p.as_bytes().len().to_string(), first(&row, "ip.len"));
        assert_eq!(p.dscp(), ip[1] >> 2);
    }
}

/// The IPv4 datagram of every Ethernet frame of every capture, by
/// tshark's `eth.type` (VLAN-tagged frames included).
fn all_ipv4(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for path in corpus::captures(dir).expect("readable corpus") {
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let (frames, decode) = load(dir, &name);
        for (frame, row) in frames.iter().zip(decode.rows()) {
            let ethertype = row.get("vlan.etype").or(row.get("eth.type"));
            if ethertype.map(|t| t.split(',').next_back() == Some("0x0800")) == Some(true)
                && frame.len() > 14
            {
                out.push((name.clone(), ip_of(frame).to_vec()));
            }
        }
    }
    out
}

#[test]
fn real_datagrams_survive_fragmentation_to_576_and_reassembly_rfc_791_section_3_2() {
    use lamina_ipv4::fragment::Fragmenter;
    use lamina_ipv4::reassembly::{Reassembler, Reassembly, ReassemblyConfig};
    use lamina_netbuf::{Instant, Serializer};
    let Some(dir) = corpus::dir() else { return };
    let mut checked = 0;
    for (name, ip) in all_ipv4(&dir) {
        let Ok(p) = Ipv4Packet::parse_verified(&ip) else {
            continue;
        };
        if p.is_fragment() || p.total_len() <= 576 {
            continue;
        }
        let mut repr = p.to_repr();
        repr.dont_fragment = false;
        let original = p
            .payload()
            .wrap_in(&repr)
            .serialize_vec(0)
            .unwrap()
            .into_vec();
        let mut r = Reassembler::new(ReassemblyConfig::default());
        let mut done = None;
        for f in Fragmenter::new(&repr, p.payload(), 576).unwrap() {
            let bytes = f.serialize_vec(0).unwrap().into_vec();
            assert!(bytes.len() <= 576, "{name}");
            if let Reassembly::Complete(d) =
                r.push(&Ipv4Packet::parse_verified(&bytes).unwrap(), Instant::ZERO)
            {
                done = Some(d.into_vec());
            }
        }
        assert!(done.as_deref() == Some(&original[..]), "{name}");
        checked += 1;
    }
    assert!(checked > 20, "only {checked} datagrams over 576 bytes");
}

#[test]
fn forwarding_real_and_fuzzed_captures_never_panics_and_keeps_checksums_rfc_1812_section_5_2_2() {
    use lamina_ipv4::forward::{Arrival, ForwardConfig, ForwardDecision, forward};
    use lamina_ipv4::reassembly::{Reassembler, ReassemblyConfig};
    use lamina_ipv4::{IfaceId, Route, RoutingTable};
    use lamina_netbuf::Instant;
    let Some(dir) = corpus::dir() else { return };
    let mut table = RoutingTable::new(8);
    table
        .insert("10.0.0.0/8".parse().unwrap(), Route::on_link(IfaceId(1)))
        .unwrap();
    table
        .set_default_route(Route::via("192.0.2.1".parse().unwrap(), IfaceId(2)))
        .unwrap();
    let mut reasm = Reassembler::new(ReassemblyConfig::default());
    let (mut forwarded, mut total) = (0, 0);
    for (_, ip) in all_ipv4(&dir) {
        total += 1;
        let verified = Ipv4Packet::parse_verified(&ip).is_ok();
        let mut bytes = ip.clone();
        if let ForwardDecision::Forward(to) = forward(
            &mut bytes,
            Arrival::unicast(IfaceId(0)),
            &table,
            &ForwardConfig::default(),
        ) {
            forwarded += 1;
            assert!(verified);
            let p = Ipv4Packet::parse_verified(&bytes).unwrap();
            assert_eq!(usize::from(p.ttl()), usize::from(to.ttl));
            assert_eq!(Ipv4Packet::parse(&ip).unwrap().ttl(), to.ttl + 1);
        }
        if let Ok(p) = Ipv4Packet::parse_truncated(&ip) {
            let _ = reasm.push(&p, Instant::ZERO);
        }
    }
    assert!(
        forwarded > 100 && total > forwarded,
        "{forwarded} of {total}"
    );
}
