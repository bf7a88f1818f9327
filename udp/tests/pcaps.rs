//! Real captures: UDP headers decoded by this crate agree with tshark's
//! decode (the `.tsv` beside each capture). The captures live outside the
//! repository; the test skips with a message when they are absent.

use lamina_netbuf::Serializer;
use lamina_netdev::pcap::corpus;
use lamina_udp::{ChecksumMode, ChecksumStatus, UdpPacket};

#[test]
fn udp_headers_match_tshark_in_packetnet_udp_pcap() {
    let Some(dir) = corpus::dir() else { return };
    let (capture, decode) =
        corpus::open(&dir, "packetnet__udp.pcap").expect("readable capture and decode");
    let packets: Vec<_> = capture
        .frames
        .iter()
        .map(|f| f.ipv4().map(|d| (d.src, d.dst, d.transport.to_vec())))
        .collect();
    assert_eq!(decode.len(), packets.len());
    let mut checked = 0;
    for (row, pkt) in decode.rows().zip(&packets) {
        if row.get("udp.srcport").is_none() {
            continue;
        }
        let (src, dst, l4) = pkt.as_ref().expect("an IPv4 datagram");
        let udp = UdpPacket::parse(l4).expect("valid UDP");
        assert_eq!(
            udp.src_port().to_string(),
            row.get("udp.srcport").unwrap_or("")
        );
        assert_eq!(
            udp.dst_port().to_string(),
            row.get("udp.dstport").unwrap_or("")
        );
        assert_eq!(
            udp.length().to_string(),
            row.get("udp.length").unwrap_or("")
        );
        let status = match udp.checksum_status(*src, *dst) {
            ChecksumStatus::Bad => "0",
            ChecksumStatus::Good => "1",
            ChecksumStatus::Unverifiable => "2",
            ChecksumStatus::Absent => "3",
        };
        assert_eq!(
            status,
            row.get("udp.checksum.status").unwrap_or(""),
            "frame {}",
            row.get("frame.number").unwrap_or("")
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
