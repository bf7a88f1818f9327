//! Real captures: ARP packets from `shared/pcaps` decode as tshark decoded
//! them (the `.tsv` beside each capture): a plain request, and the 2282
//! frames of tcpdump's `arp-oobr` capture (mostly well-formed requests and
//! replies, some fuzzed). The directory comes from `LAMINA_PCAP_DIR`,
//! defaulting to `../shared/pcaps` beside the workspace; the test is
//! skipped, loudly, when it is absent.

use std::collections::HashMap;
use std::fs::File;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use lamina_arp::{ArpPacket, Error};
use lamina_ethernet::{EtherType, EthernetFrame};
use pcap_file::pcap::PcapReader;

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
            "SKIPPED: capture directory {} not found; set LAMINA_PCAP_DIR to the shared pcaps",
            dir.display()
        );
        None
    }
}

/// The frames of a classic pcap file with Ethernet link type.
fn frames(path: &Path) -> Vec<Vec<u8>> {
    let mut r = PcapReader::new(File::open(path).expect("capture")).expect("pcap header");
    assert_eq!(
        u32::from(r.header().datalink) & 0x0fff_ffff,
        1,
        "not Ethernet"
    );
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        out.push(p.expect("pcap record").data.into_owned());
    }
    out
}

/// tshark's decode: column name to cell, one map per frame.
fn tsv_rows(path: &Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).expect("readable tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("tsv header").split('\t').collect();
    lines
        .map(|line| {
            header
                .iter()
                .zip(line.split('\t'))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// Decodes every frame of `name`; returns (frames, ARP packets decoded).
fn check_capture(dir: &Path, name: &str) -> (usize, usize) {
    let frames = frames(&dir.join(name));
    let rows = tsv_rows(&dir.join(format!("{name}.tsv")));
    assert_eq!(frames.len(), rows.len(), "{name}: frame count");
    let mut decoded = 0;
    for (i, (bytes, row)) in frames.iter().zip(&rows).enumerate() {
        let at = format!("{name} frame {}", i + 1);
        let eth = EthernetFrame::parse(bytes).unwrap_or_else(|e| panic!("{at}: {e}"));
        assert_eq!(eth.inner_ethertype(), EtherType::ARP, "{at}");
        let payload = eth.payload();
        match ArpPacket::parse(payload) {
            Ok(arp) => {
                assert_eq!(arp.operation().0.to_string(), row["arp.opcode"], "{at}");
                let spa: Ipv4Addr = row["arp.src.proto_ipv4"].parse().expect("sender IP");
                let tpa: Ipv4Addr = row["arp.dst.proto_ipv4"].parse().expect("target IP");
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
    let Some(dir) = pcap_dir() else { return };
    let (n, decoded) = check_capture(&dir, "pcapplusplus__ArpRequestPacket.pcap");
    assert_eq!((n, decoded), (1, 1));
    // The capture's single frame, field by field.
    let bytes = &frames(&dir.join("pcapplusplus__ArpRequestPacket.pcap"))[0];
    let eth = EthernetFrame::parse(bytes).unwrap();
    let arp = ArpPacket::parse(eth.payload()).unwrap();
    assert_eq!(arp.sender_hardware_addr(), eth.src());
    assert_eq!(arp.sender_hardware_addr().to_string(), "6c:f0:49:b2:de:6e");
    assert!(arp.target_hardware_addr().is_unspecified());
}

#[test]
fn fuzzed_arp_capture_decodes_like_tshark() {
    let Some(dir) = pcap_dir() else { return };
    let (n, decoded) = check_capture(&dir, "tcpdump__arp-oobr.pcap");
    assert_eq!(n, 2282);
    assert!(decoded >= 2000, "only {decoded} of {n} decoded");
    eprintln!("decoded {decoded} of {n} ARP frames like tshark; the rest rejected by type");
}
