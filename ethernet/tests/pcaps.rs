//! Real captures: the Ethernet headers of a few frames from
//! `shared/pcaps` (an ARP request, and every capture whose link-layer frames
//! carry 802.1Q tags) must decode as tshark decoded them (the `.tsv` beside
//! each capture). The directory comes from `LAMINA_PCAP_DIR`, defaulting to
//! `../shared/pcaps` beside the workspace; the test is skipped, loudly, when
//! it is absent.

use lamina_ethernet::{EtherType, EthernetFrame, MacAddr};
use lamina_netdev::pcap::corpus::{self, Decode, Row};

const FILES: &[&str] = &[
    "pcapplusplus__ArpRequestPacket.pcap",
    "pcapplusplus__SomeIpSd.pcapng",
    "tcpdump__NHRP-responder-address.pcap",
    "tcpdump__OLSRv1_HNA_sgw_1.pcap",
    "tcpdump__bfd_source_port_49152.pcap",
    "tcpdump__ripv2-invalid-length.pcap",
];

/// The Ethernet frames of a capture and tshark's decode of them.
fn load(dir: &std::path::Path, name: &str) -> (Vec<Vec<u8>>, Decode) {
    let (capture, decode) = corpus::open(dir, name).expect("readable capture and decode");
    assert!(capture.error.is_none(), "{name}: {:?}", capture.error);
    assert!(
        capture.frames.iter().all(|f| f.link_type == 1),
        "{name}: not Ethernet"
    );
    (capture.frames.into_iter().map(|f| f.data).collect(), decode)
}

/// A cell of tshark's decode, empty where tshark printed nothing.
fn cell<'a>(row: &Row<'a>, field: &str) -> &'a str {
    row.get(field).unwrap_or("")
}

fn hex16(cell: &str) -> u16 {
    u16::from_str_radix(cell.trim_start_matches("0x"), 16).expect("hex cell")
}

#[test]
fn link_layer_headers_match_tshark() {
    let Some(dir) = corpus::dir() else { return };
    let mut frames_checked = 0;
    let mut tagged = 0;
    for name in FILES {
        let (frames, decode) = load(&dir, name);
        assert_eq!(frames.len(), decode.len(), "{name}: frame count");
        for (i, (bytes, row)) in frames.iter().zip(decode.rows()).enumerate() {
            let at = format!("{name} frame {}", i + 1);
            let f = EthernetFrame::parse(bytes).unwrap_or_else(|e| panic!("{at}: {e}"));
            assert_eq!(bytes.len().to_string(), cell(&row, "frame.cap_len"), "{at}");
            assert_eq!(
                f.src(),
                cell(&row, "eth.src").parse::<MacAddr>().unwrap(),
                "{at}"
            );
            assert_eq!(
                f.dst(),
                cell(&row, "eth.dst").parse::<MacAddr>().unwrap(),
                "{at}"
            );
            assert_eq!(f.src().to_string(), cell(&row, "eth.src"), "{at}");
            assert_eq!(
                f.ethertype(),
                EtherType(hex16(cell(&row, "eth.type"))),
                "{at}"
            );
            let vids: Vec<String> = f.vlan_tags().map(|t| t.vid.to_string()).collect();
            assert_eq!(vids.join(","), cell(&row, "vlan.id"), "{at}");
            if f.vlan_count() > 0 {
                tagged += 1;
                // vlan.etype: the type after each tag, outermost first.
                let last = cell(&row, "vlan.etype")
                    .split(',')
                    .next_back()
                    .unwrap()
                    .to_string();
                assert_eq!(f.inner_ethertype(), EtherType(hex16(&last)), "{at}");
            }
            let inner = f.inner_ethertype();
            let proto = cell(&row, "frame.protocols");
            if inner == EtherType::ARP {
                assert!(proto.ends_with(":arp"), "{at}: {proto}");
            } else if inner == EtherType::IPV4 {
                assert!(proto.contains(":ip:"), "{at}: {proto}");
                // The payload starts with the IPv4 header and holds the
                // whole datagram (ip.len), padding aside.
                assert_eq!(f.payload().first().map(|b| b >> 4), Some(4), "{at}");
                let ip_len: usize = cell(&row, "ip.len")
                    .split(',')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
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
    let Some(dir) = corpus::dir() else { return };
    let files = [
        "tcpdump__erspan-type-i-1.pcap",
        "tcpdump__erspan-type-i-3.pcap",
        "tcpdump__erspan-type-ii-3.pcap",
        "tcpdump__erspan-type-iii-ft-0.pcap",
    ];
    let (mut checked, mut llc, mut tagged_llc) = (0, 0, 0);
    for name in files {
        let (frames, decode) = load(&dir, name);
        assert_eq!(frames.len(), decode.len(), "{name}: frame count");
        for (i, (bytes, row)) in frames.iter().zip(decode.rows()).enumerate() {
            let at = format!("{name} frame {}", i + 1);
            let (Some(dst), Some(src)) = (
                cell(&row, "eth.dst").split(',').nth(1),
                cell(&row, "eth.src").split(',').nth(1),
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
            assert_eq!(vids.join(","), cell(&row, "vlan.id"), "{at}");
            let proto = cell(&row, "frame.protocols");
            if let Some(t) = cell(&row, "eth.type").split(',').nth(1) {
                assert_eq!(f.ethertype(), EtherType(hex16(t)), "{at}");
            } else {
                // tshark leaves eth.type empty for an 802.3 length field.
                assert!(f.ethertype().is_length(), "{at}");
            }
            match cell(&row, "vlan.etype") {
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
