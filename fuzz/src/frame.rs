//! Fuzz target `frame`: a whole frame dissected top to bottom, as an
//! Ethernet frame and as a raw IPv4 datagram, through every wire crate;
//! and cut by software TCP segmentation (`lamina_netdev::gso`), whose
//! pieces must be valid TCP/IPv4 frames carrying the frame's payload in
//! order.

use lamina_socket::dissect::{LinkType, dissect};

/// Dissects `data` both ways; must never panic, and every rendering of the
/// result must work.
pub fn fuzz(data: &[u8]) {
    segmentation(data);
    for link in [LinkType::Ethernet, LinkType::RawIpv4] {
        let d = dissect(link, data, data.len());
        let json = d.to_json(1);
        assert!(json.starts_with("{\"frame\":1,") && json.ends_with('}'));
        let _ = d.summary(1);
        // A header that parsed cleanly satisfies its invariants.
        if let (Some(ip), None) = (&d.ipv4, &d.error) {
            assert!(ip.ihl >= 20 && usize::from(ip.len) >= ip.ihl);
        }
        if let Some(tcp) = &d.tcp {
            assert!(tcp.hdr_len >= 20 && tcp.payload_len <= data.len());
        }
    }
}

/// Software segmentation of `data` (after a two-byte segment size) as an
/// Ethernet frame: a frame it accepts comes out as pieces that parse and
/// verify (IPv4 and TCP checksums), each within the segment size, whose
/// payloads put back together are the original payload.
fn segmentation(data: &[u8]) {
    use lamina_netdev::gso::{TcpChecksum, segment_tcp_ipv4};
    let Some((size, frame)) = data.split_first_chunk::<2>() else {
        return;
    };
    let mss = usize::from(u16::from_le_bytes(*size) % 4096);
    let mut pieces: Vec<Vec<u8>> = Vec::new();
    let mut scratch = Vec::new();
    let Ok(n) = segment_tcp_ipv4(frame, 14, mss, TcpChecksum::Full, &mut scratch, |p| {
        pieces.push(p.to_vec())
    }) else {
        return;
    };
    assert_eq!(n, pieces.len());
    // Where our own parsers take the frame (options well-formed), every
    // piece must parse and verify.
    let Ok(ip) = lamina_ipv4::Ipv4Packet::parse(&frame[14..]) else {
        return;
    };
    let Ok(whole) = lamina_tcp::TcpSegment::parse(ip.payload()) else {
        return;
    };
    let mut stream = Vec::new();
    for p in &pieces {
        let pip = lamina_ipv4::Ipv4Packet::parse_verified(&p[14..]).expect("a piece's IPv4");
        let seg = lamina_tcp::TcpSegment::parse_verified(pip.payload(), pip.src(), pip.dst())
            .expect("a piece's TCP, checksum included");
        assert!(seg.payload().len() <= mss);
        assert_eq!(seg.header_len(), whole.header_len());
        stream.extend_from_slice(seg.payload());
    }
    assert_eq!(stream, whole.payload());
}
