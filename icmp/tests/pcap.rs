//! A real capture of every common ICMP message (PcapPlusPlus's
//! `IcmpPackets.pcap`) against tshark's decode beside it (see
//! `shared/pcaps/README.md`): types, codes and checksums of the outer
//! messages, and for errors the quoted IPv4 header (tshark's second `ip.*`
//! value) and the quoted ports or ICMP type.
//!
//! The folder comes from `LAMINA_PCAP_DIR`, defaulting to the shared
//! folder beside the workspace; the test skips, saying so, if it is absent.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use lamina_icmp::{IcmpMessage, IcmpPacket, IcmpType};
use lamina_ipv4::Ipv4Packet;
use pcap_file::pcapng::{Block, PcapNgReader};
use std::net::Ipv4Addr;

fn pcap_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("LAMINA_PCAP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/pcaps"))
        });
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: capture folder {} not found (set LAMINA_PCAP_DIR)",
            dir.display()
        );
        None
    }
}

/// tshark's decode: one map from column name to its comma-separated values
/// (outermost header first) per frame.
fn tsv(path: &Path) -> Vec<HashMap<String, Vec<String>>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let names: Vec<&str> = lines.next().unwrap().split('\t').collect();
    lines
        .map(|l| {
            names
                .iter()
                .zip(l.split('\t'))
                .map(|(n, v)| {
                    let vals = if v.is_empty() {
                        Vec::new()
                    } else {
                        v.split(',').map(str::to_string).collect()
                    };
                    (n.to_string(), vals)
                })
                .collect()
        })
        .collect()
}

/// Compares a parsed IPv4 header with tshark's `which`-th `ip.*` values.
fn compare_ip(ctx: &str, row: &HashMap<String, Vec<String>>, which: usize, p: &Ipv4Packet<'_>) {
    let cell = |c: &str| row[c].get(which).map(String::as_str).unwrap_or("");
    assert_eq!(cell("ip.version"), "4", "{ctx}");
    assert_eq!(cell("ip.hdr_len"), p.header_len().to_string(), "{ctx}");
    assert_eq!(cell("ip.len"), p.total_len().to_string(), "{ctx}");
    assert_eq!(
        cell("ip.id"),
        format!("{:#06x}", p.identification()),
        "{ctx}"
    );
    assert_eq!(
        cell("ip.flags.df"),
        u8::from(p.dont_fragment()).to_string(),
        "{ctx}"
    );
    assert_eq!(
        cell("ip.flags.mf"),
        u8::from(p.more_fragments()).to_string(),
        "{ctx}"
    );
    assert_eq!(
        cell("ip.frag_offset"),
        p.fragment_offset().to_string(),
        "{ctx}"
    );
    assert_eq!(cell("ip.ttl"), p.ttl().to_string(), "{ctx}");
    assert_eq!(cell("ip.proto"), p.protocol().0.to_string(), "{ctx}");
    assert_eq!(
        cell("ip.src").parse::<Ipv4Addr>().unwrap(),
        p.src(),
        "{ctx}"
    );
    assert_eq!(
        cell("ip.dst").parse::<Ipv4Addr>().unwrap(),
        p.dst(),
        "{ctx}"
    );
    assert_eq!(cell("ip.checksum.status") == "1", p.checksum_ok(), "{ctx}");
}

#[test]
fn every_message_of_icmp_capture_matches_tshark() {
    let Some(dir) = pcap_dir() else { return };
    let name = "pcapplusplus__IcmpPackets.pcap"; // pcapng despite its name
    let rows = tsv(&dir.join(format!("{name}.tsv")));
    let mut r = PcapNgReader::new(std::fs::File::open(dir.join(name)).unwrap()).unwrap();
    let mut frames = Vec::new();
    while let Some(b) = r.next_block() {
        if let Block::EnhancedPacket(p) = b.unwrap() {
            frames.push(p.data.into_owned());
        }
    }
    assert_eq!(frames.len(), rows.len());
    let mut errors = 0;
    for (frame, row) in frames.iter().zip(&rows) {
        let ctx = format!("{name} frame {}", row["frame.number"][0]);
        let outer = Ipv4Packet::parse_verified(&frame[14..]).unwrap();
        compare_ip(&ctx, row, 0, &outer);
        let icmp = IcmpPacket::parse_verified(outer.payload()).unwrap();
        assert_eq!(row["icmp.type"][0], icmp.msg_type().0.to_string(), "{ctx}");
        assert_eq!(row["icmp.code"][0], icmp.code().to_string(), "{ctx}");
        assert_eq!(row["icmp.checksum.status"][0], "1", "{ctx}");
        let _ = icmp.message();
        match icmp.quote() {
            None => assert_eq!(row["ip.version"].len(), 1, "{ctx}: only errors quote"),
            Some(q) => {
                errors += 1;
                let inner = icmp.quoted().unwrap();
                compare_ip(&ctx, row, 1, &inner);
                // Ports come from the quoted transport header only.
                for proto in ["tcp", "udp"] {
                    let (s, d) = (
                        &row[&format!("{proto}.srcport")],
                        &row[&format!("{proto}.dstport")],
                    );
                    if let (Some(s), Some(d)) = (s.first(), d.first()) {
                        assert_eq!(
                            q.ports(),
                            Some((s.parse().unwrap(), d.parse().unwrap())),
                            "{ctx}"
                        );
                    }
                }
                // A quoted ICMP message: tshark's second icmp.type.
                if let Some(t) = row["icmp.type"].get(1) {
                    let l4 = q.l4_bytes().unwrap();
                    assert_eq!(t, &l4[0].to_string(), "{ctx}");
                    assert!(IcmpType(l4[0]).is_query());
                    assert!(q.icmp_ident_seq().is_some(), "{ctx}");
                }
            }
        }
    }
    assert_eq!(
        errors, 6,
        "redirect, 2 time exceeded, 2 unreachable, source quench"
    );
}

#[test]
fn mobility_agent_advertisement_keeps_its_extension_rfc_1256() {
    let Some(dir) = pcap_dir() else { return };
    let mut r =
        PcapNgReader::new(std::fs::File::open(dir.join("pcapplusplus__IcmpPackets.pcap")).unwrap())
            .unwrap();
    let mut third = None;
    let mut n = 0;
    while let Some(b) = r.next_block() {
        if let Block::EnhancedPacket(p) = b.unwrap() {
            n += 1;
            if n == 3 {
                third = Some(p.data.into_owned());
            }
        }
    }
    let frame = third.unwrap();
    let outer = Ipv4Packet::parse_verified(&frame[14..]).unwrap();
    let icmp = IcmpPacket::parse_verified(outer.payload()).unwrap();
    let IcmpMessage::RouterAdvertisement(ra) = icmp.message() else {
        panic!("{:?}", icmp.message())
    };
    assert_eq!(
        (ra.code, ra.num_addrs, ra.addr_entry_size, ra.lifetime),
        (16, 1, 2, 200)
    );
    let addrs: Vec<_> = ra.addresses().collect();
    assert_eq!(addrs[0].address, Ipv4Addr::new(192, 168, 144, 2));
    assert_eq!(addrs[0].preference, i32::MIN);
    // RFC 5944 §2.1.1 mobility agent advertisement extension (type 16).
    assert_eq!(ra.trailing.first(), Some(&16));
}
