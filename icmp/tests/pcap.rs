//! A real capture of every common ICMP message (PcapPlusPlus's
//! `IcmpPackets.pcap`) against tshark's decode beside it (see
//! `shared/pcaps/README.md`): types, codes and checksums of the outer
//! messages, and for errors the quoted IPv4 header (tshark's second `ip.*`
//! value) and the quoted ports or ICMP type.
//!
//! The folder comes from `LAMINA_PCAP_DIR`, defaulting to the shared
//! folder beside the workspace; the test skips, saying so, if it is absent.

use std::net::Ipv4Addr;

use lamina_icmp::{IcmpMessage, IcmpPacket, IcmpType};
use lamina_ipv4::Ipv4Packet;
use lamina_netdev::pcap::corpus::{self, Row};

const NAME: &str = "pcapplusplus__IcmpPackets.pcap"; // pcapng despite its name

/// Compares a parsed IPv4 header with tshark's `which`-th `ip.*` values.
fn compare_ip(ctx: &str, row: &Row<'_>, which: usize, p: &Ipv4Packet<'_>) {
    let cell = |c: &str| row.values(c).get(which).copied().unwrap_or("");
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
    let Some(dir) = corpus::dir() else { return };
    let name = NAME;
    let (capture, decode) = corpus::open(&dir, name).expect("readable capture and decode");
    assert_eq!(capture.frames.len(), decode.len());
    let mut errors = 0;
    for (frame, row) in capture.frames.iter().zip(decode.rows()) {
        let frame = &frame.data;
        let ctx = format!("{name} frame {}", row.get("frame.number").unwrap_or(""));
        let outer = Ipv4Packet::parse_verified(&frame[14..]).unwrap();
        compare_ip(&ctx, &row, 0, &outer);
        let icmp = IcmpPacket::parse_verified(outer.payload()).unwrap();
        assert_eq!(
            row.values("icmp.type")[0],
            icmp.msg_type().0.to_string(),
            "{ctx}"
        );
        assert_eq!(row.values("icmp.code")[0], icmp.code().to_string(), "{ctx}");
        assert_eq!(row.values("icmp.checksum.status")[0], "1", "{ctx}");
        let _ = icmp.message();
        match icmp.quote() {
            None => assert_eq!(
                row.values("ip.version").len(),
                1,
                "{ctx}: only errors quote"
            ),
            Some(q) => {
                errors += 1;
                let inner = icmp.quoted().unwrap();
                compare_ip(&ctx, &row, 1, &inner);
                // Ports come from the quoted transport header only.
                for proto in ["tcp", "udp"] {
                    let (s, d) = (
                        row.first(&format!("{proto}.srcport")),
                        row.first(&format!("{proto}.dstport")),
                    );
                    if let (Some(s), Some(d)) = (s, d) {
                        assert_eq!(
                            q.ports(),
                            Some((s.parse().unwrap(), d.parse().unwrap())),
                            "{ctx}"
                        );
                    }
                }
                // A quoted ICMP message: tshark's second icmp.type.
                if let Some(t) = row.values("icmp.type").get(1) {
                    let l4 = q.l4_bytes().unwrap();
                    assert_eq!(*t, l4[0].to_string(), "{ctx}");
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
    let Some(dir) = corpus::dir() else { return };
    let (capture, _) = corpus::open(&dir, NAME).expect("readable capture and decode");
    let frame = &capture.frames[2].data;
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
