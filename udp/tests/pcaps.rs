//! Real captures: UDP headers decoded by this crate agree with tshark's
//! decode (the `.tsv` beside each capture). The captures live outside the
//! repository; the test skips with a message when they are absent.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use lamina_netbuf::Serializer;
use lamina_udp::{ChecksumMode, ChecksumStatus, UdpPacket};

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
            "SKIPPED: capture directory {} not found (set LAMINA_PCAP_DIR)",
            dir.display()
        );
        None
    }
}

/// The rows of tshark's decode, each a map from column name to cell.
fn tsv_rows(path: &std::path::Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).expect("readable tsv");
    let mut lines = text.lines();
    let names: Vec<&str> = lines.next().expect("header row").split('\t').collect();
    lines
        .map(|l| {
            names
                .iter()
                .zip(l.split('\t'))
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// The IPv4 datagram inside each Ethernet frame: (source, destination,
/// transport bytes cut at the IPv4 total length).
fn ipv4_payloads(path: &std::path::Path) -> Vec<Option<(Ipv4Addr, Ipv4Addr, Vec<u8>)>> {
    let file = std::fs::File::open(path).expect("readable capture");
    let mut reader = pcap_file::pcap::PcapReader::new(file).expect("pcap header");
    let mut out = Vec::new();
    while let Some(pkt) = reader.next_packet() {
        let frame = pkt.expect("pcap record").data.into_owned();
        out.push((|| {
            if frame.get(12..14)? != [0x08, 0x00] {
                return None;
            }
            let ip = frame.get(14..)?;
            let ihl = usize::from(ip.first()? & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
            let a: [u8; 8] = ip.get(12..20)?.try_into().ok()?;
            let src = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
            let dst = Ipv4Addr::new(a[4], a[5], a[6], a[7]);
            let l4 = ip.get(ihl..total.min(ip.len()))?.to_vec();
            Some((src, dst, l4))
        })());
    }
    out
}

#[test]
fn udp_headers_match_tshark_in_packetnet_udp_pcap() {
    let Some(dir) = pcap_dir() else { return };
    let cap = dir.join("packetnet__udp.pcap");
    let rows = tsv_rows(&dir.join("packetnet__udp.pcap.tsv"));
    let packets = ipv4_payloads(&cap);
    assert_eq!(rows.len(), packets.len());
    let mut checked = 0;
    for (row, pkt) in rows.iter().zip(&packets) {
        if row["udp.srcport"].is_empty() {
            continue;
        }
        let (src, dst, l4) = pkt.as_ref().expect("an IPv4 datagram");
        let udp = UdpPacket::parse(l4).expect("valid UDP");
        assert_eq!(udp.src_port().to_string(), row["udp.srcport"]);
        assert_eq!(udp.dst_port().to_string(), row["udp.dstport"]);
        assert_eq!(udp.length().to_string(), row["udp.length"]);
        let status = match udp.checksum_status(*src, *dst) {
            ChecksumStatus::Bad => "0",
            ChecksumStatus::Good => "1",
            ChecksumStatus::Unverifiable => "2",
            ChecksumStatus::Absent => "3",
        };
        assert_eq!(
            status, row["udp.checksum.status"],
            "frame {}",
            row["frame.number"]
        );
        // parse -> to_repr -> build gives back the datagram byte for byte.
        if status == "1" {
            let rebuilt = udp
                .payload()
                .wrap_in(
                    udp.to_repr()
                        .builder(*src, *dst)
                        .checksum(ChecksumMode::Compute),
                )
                .serialize_vec(0)
                .unwrap();
            assert_eq!(rebuilt.as_slice(), &l4[..usize::from(udp.length())]);
        }
        checked += 1;
    }
    assert_eq!(checked, 10);
}
