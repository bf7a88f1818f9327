//! Real captures: ARP packets from `shared/pcaps` decode as tshark decoded
//! them (the `.tsv` beside each capture): a plain request, and the 2282
//! frames of tcpdump's `arp-oobr` capture (mostly well-formed requests and
//! replies, some fuzzed). The directory comes from `LAMINA_PCAP_DIR`,
//! defaulting to `../shared/pcaps` beside the workspace; the test is
//! skipped, loudly, when it is absent.

use std::net::Ipv4Addr;
use std::path::Path;

use lamina_arp::{ArpPacket, Error};
use lamina_ethernet::{EtherType, EthernetFrame};
use lamina_netdev::pcap::corpus::{self, Decode};

/// The Ethernet frames of a capture and tshark's decode of them.
fn load(dir: &Path, name: &str) -> (Vec<Vec<u8>>, Decode) {
    let (capture, decode) = corpus::open(dir, name).expect("readable capture and decode");
    assert!(
        capture.frames.iter().all(|f| f.link_type == 1),
        "{name}: not Ethernet"
    );
    (capture.frames.into_iter().map(|f| f.data).collect(), decode)
}

/// Decodes every frame of `name`; returns (frames, ARP packets decoded).
fn check_capture(dir: &Path, name: &str) -> (usize, usize) {
    let (frames, decode) = load(dir, name);
    assert_eq!(frames.len(), decode.len(), "{name}: frame count");
    let mut decoded = 0;
    for (i, (bytes, row)) in frames.iter().zip(decode.rows()).enumerate() {
        let at = format!("{name} frame {}", i + 1);
        let eth = EthernetFrame::parse(bytes).unwrap_or_else(|e| panic!("{at}: {e}"));
        assert_eq!(eth.inner_ethertype(), EtherType::ARP, "{at}");
        let payload = eth.payload();
        match ArpPacket::parse(payload) {
            Ok(arp) => {
                assert_eq!(
                    arp.operation().0.to_string(),
                    row.get("arp.opcode").unwrap_or(""),
                    "{at}"
                );
                let spa: Ipv4Addr = row
                    .get("arp.src.proto_ipv4")
                    .unwrap_or("")
                    .parse()
                    .expect("sender IP");
                let tpa: Ipv4Addr = row
                    .get("arp.dst.proto_ipv4")
                    .unwrap_or("")
                    .parse()
                    .expect("target IP");
                assert_eq!(arp.sender_protocol_addr(), spa, "{at}");
                assert_eq!(arp.target_protocol_addr(), tpa, "{at}");
                assert_eq!(arp.trailer().len(), payload.len() - 28, "{at}");
                decoded += 1;
            }
            // The other kinds of ARP are rejected for what their first
            // eight bytes say; tshark still decodes them.
            Err(Error::UnsupportedHardware { htype, hlen }) => {
                assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), htype, "{at}");
                assert_eq!(payload[4], hlen, "{at}");
                assert!(htype != 1 || hlen != 6, "{at}");
            }
            Err(Error::UnsupportedProtocol { ptype, plen }) => {
                assert_eq!(u16::from_be_bytes([payload[2], payload[3]]), ptype, "{at}");
                assert_eq!(payload[5], plen, "{at}");
                assert!(ptype != 0x0800 || plen != 4, "{at}");
            }
            Err(e) => panic!("{at}: {e}"),
        }
    }
    (frames.len(), decoded)
}

#[test]
fn arp_request_matches_tshark() {
    let Some(dir) = corpus::dir() else { return };
    let (n, decoded) = check_capture(&dir, "pcapplusplus__ArpRequestPacket.pcap");
    assert_eq!((n, decoded), (1, 1));
    // The capture's single frame, field by field.
    let (frames, _) = load(&dir, "pcapplusplus__ArpRequestPacket.pcap");
    let bytes = &frames[0];
    let eth = EthernetFrame::parse(bytes).unwrap();
    let arp = ArpPacket::parse(eth.payload()).unwrap();
    assert_eq!(arp.sender_hardware_addr(), eth.src());
    assert_eq!(arp.sender_hardware_addr().to_string(), "6c:f0:49:b2:de:6e");
    assert!(arp.target_hardware_addr().is_unspecified());
}

#[test]
fn fuzzed_arp_capture_decodes_like_tshark() {
    let Some(dir) = corpus::dir() else { return };
    let (n, decoded) = check_capture(&dir, "tcpdump__arp-oobr.pcap");
    assert_eq!(n, 2282);
    assert!(decoded >= 2000, "only {decoded} of {n} decoded");
    eprintln!("decoded {decoded} of {n} ARP frames like tshark; the rest rejected by type");
}
