//! Real captures: the Ethernet headers of a few frames from
//! `shared/pcaps` (an ARP request, and every capture whose link-layer frames
//! carry 802.1Q tags) must decode as tshark decoded them (the `.tsv` beside
//! each capture). The directory comes from `LAMINA_PCAP_DIR`, defaulting to
//! `../shared/pcaps` beside the workspace; the test is skipped, loudly, when
//! it is absent.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use lamina_ethernet::{EtherType, EthernetFrame, MacAddr};
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};

const FILES: &[&str] = &[
    "pcapplusplus__ArpRequestPacket.pcap",
    "pcapplusplus__SomeIpSd.pcapng",
    "tcpdump__NHRP-responder-address.pcap",
    "tcpdump__OLSRv1_HNA_sgw_1.pcap",
    "tcpdump__bfd_source_port_49152.pcap",
    "tcpdump__ripv2-invalid-length.pcap",
];

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

/// The Ethernet frames of a pcap or pcapng file (by magic number, not by
/// extension), as captured.
fn ethernet_frames(path: &Path) -> Vec<Vec<u8>> {
    let magic = std::fs::read(path).expect("readable capture");
    let mut out = Vec::new();
    if magic.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        let mut r = PcapNgReader::new(File::open(path).unwrap()).expect("pcapng header");
        let mut links = Vec::new();
        while let Some(block) = r.next_block() {
            match block.expect("pcapng block") {
                Block::InterfaceDescription(idb) => links.push(u32::from(idb.linktype)),
                Block::EnhancedPacket(epb) => {
                    let link = links.get(epb.interface_id as usize);
                    assert_eq!(link, Some(&1), "{}: not Ethernet", path.display());
                    out.push(epb.data.into_owned());
                }
                _ => {}
            }
        }
    } else {
        let mut r = PcapReader::new(File::open(path).unwrap()).expect("pcap header");
        // The upper bits of the link type may hold an FCS length: mask them.
        assert_eq!(
            u32::from(r.header().datalink) & 0x0fff_ffff,
            1,
            "{}: not Ethernet",
            path.display()
        );
        while let Some(p) = r.next_packet() {
            out.push(p.expect("pcap record").data.into_owned());
        }
    }
    out
}

/// tshark's decode: one map of column name to the first value of the cell
/// per frame.
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

fn hex16(cell: &str) -> u16 {
    u16::from_str_radix(cell.trim_start_matches("0x"), 16).expect("hex cell")
}

#[test]
fn link_layer_headers_match_tshark() {
    let Some(dir) = pcap_dir() else { return };
    let mut frames_checked = 0;
    let mut tagged = 0;
    for name in FILES {
        let frames = ethernet_frames(&dir.join(name));
        let rows = tsv_rows(&dir.join(format!("{name}.tsv")));
        assert_eq!(frames.len(), rows.len(), "{name}: frame count");
        for (i, (bytes, row)) in frames.iter().zip(&rows).enumerate() {
            let at = format!("{name} frame {}", i + 1);
            let f = EthernetFrame::parse(bytes).unwrap_or_else(|e| panic!("{at}: {e}"));
            assert_eq!(bytes.len().to_string(), row["frame.cap_len"], "{at}");
            assert_eq!(f.src(), row["eth.src"].parse::<MacAddr>().unwrap(), "{at}");
            assert_eq!(f.dst(), row["eth.dst"].parse::<MacAddr>().unwrap(), "{at}");
            assert_eq!(f.src().to_string(), row["eth.src"], "{at}");
            assert_eq!(f.ethertype(), EtherType(hex16(&row["eth.type"])), "{at}");
            let vids: Vec<String> = f.vlan_tags().map(|t| t.vid.to_string()).collect();
            assert_eq!(vids.join(","), row["vlan.id"], "{at}");
            if f.vlan_count() > 0 {
                tagged += 1;
                // vlan.etype: the type after each tag, outermost first.
                let last = row["vlan.etype"]
                    .split(',')
                    .next_back()
                    .unwrap()
                    .to_string();
                assert_eq!(f.inner_ethertype(), EtherType(hex16(&last)), "{at}");
            }
            let inner = f.inner_ethertype();
            let proto = row["frame.protocols"].as_str();
            if inner == EtherType::ARP {
                assert!(proto.ends_with(":arp"), "{at}: {proto}");
            } else if inner == EtherType::IPV4 {
                assert!(proto.contains(":ip:"), "{at}: {proto}");
                // The payload starts with the IPv4 header and holds the
                // whole datagram (ip.len), padding aside.
                assert_eq!(f.payload().first().map(|b| b >> 4), Some(4), "{at}");
                let ip_len: usize = row["ip.len"].split(',').next().unwrap().parse().unwrap();
                assert!(f.payload().len() >= ip_len, "{at}");
            } else if inner == EtherType::IPV6 {
                assert!(proto.contains(":ipv6:"), "{at}: {proto}");
            }
            frames_checked += 1;
        }
    }
    assert!(
        frames_checked >= 9 && tagged >= 7,
        "{frames_checked} frames, {tagged} tagged"
    );
    eprintln!("checked {frames_checked} frames ({tagged} VLAN-tagged) against tshark");
}

/// ERSPAN captures mirror whole frames inside GRE: tagged Ethernet II
/// frames and tagged or untagged IEEE 802.3/LLC frames (STP, CDP/NDP).
/// The inner frame is found where tshark's second `eth.dst`/`eth.src`
/// pair sits, and decoded from there.
#[test]
fn mirrored_inner_frames_match_tshark() {
    let Some(dir) = pcap_dir() else { return };
    let files = [
        "tcpdump__erspan-type-i-1.pcap",
        "tcpdump__erspan-type-i-3.pcap",
        "tcpdump__erspan-type-ii-3.pcap",
        "tcpdump__erspan-type-iii-ft-0.pcap",
    ];
    let (mut checked, mut llc, mut tagged_llc) = (0, 0, 0);
    for name in files {
        let frames = ethernet_frames(&dir.join(name));
        let rows = tsv_rows(&dir.join(format!("{name}.tsv")));
        assert_eq!(frames.len(), rows.len(), "{name}: frame count");
        for (i, (bytes, row)) in frames.iter().zip(&rows).enumerate() {
            let at = format!("{name} frame {}", i + 1);
            let (Some(dst), Some(src)) = (
                row["eth.dst"].split(',').nth(1),
                row["eth.src"].split(',').nth(1),
            ) else {
                continue;
            };
            let (dst, src): (MacAddr, MacAddr) = (dst.parse().unwrap(), src.parse().unwrap());
            let needle: Vec<u8> = dst.octets().into_iter().chain(src.octets()).collect();
            let start = (14..bytes.len().saturating_sub(12))
                .find(|&k| bytes[k..].starts_with(&needle))
                .unwrap_or_else(|| panic!("{at}: inner frame not found"));
            let f = EthernetFrame::parse(&bytes[start..]).unwrap_or_else(|e| panic!("{at}: {e}"));
            assert_eq!((f.dst(), f.src()), (dst, src), "{at}");
            let vids: Vec<String> = f.vlan_tags().map(|t| t.vid.to_string()).collect();
            assert_eq!(vids.join(","), row["vlan.id"], "{at}");
            let proto = row["frame.protocols"].as_str();
            if let Some(t) = row["eth.type"].split(',').nth(1) {
                assert_eq!(f.ethertype(), EtherType(hex16(t)), "{at}");
            } else {
                // tshark leaves eth.type empty for an 802.3 length field.
                assert!(f.ethertype().is_length(), "{at}");
            }
            match row["vlan.etype"].as_str() {
                "" => {}
                t => assert_eq!(f.inner_ethertype(), EtherType(hex16(t)), "{at}"),
            }
            if proto.contains(":llc") {
                assert!(f.is_ieee802_3(), "{at}: {proto}");
                let len = usize::from(f.length().unwrap());
                assert_eq!(f.payload().len(), len, "{at}");
                // 802.2 LLC: DSAP, SSAP, control. STP is 0x42/0x42, SNAP 0xaa/0xaa.
                let dsap = f.payload()[0];
                assert!(dsap == 0x42 || dsap == 0xaa, "{at}: DSAP {dsap:#x}");
                llc += 1;
                tagged_llc += usize::from(f.vlan_count() > 0);
            } else {
                assert!(!f.is_ieee802_3(), "{at}: {proto}");
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 100 && llc >= 10 && tagged_llc >= 2,
        "{checked} {llc} {tagged_llc}"
    );
    eprintln!("checked {checked} mirrored frames ({llc} 802.3/LLC, {tagged_llc} of them tagged)");
}
