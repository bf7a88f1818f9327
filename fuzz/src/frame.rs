//! Fuzz target `frame`: a whole frame dissected top to bottom, as an
//! Ethernet frame and as a raw IPv4 datagram, through every wire crate.

use lamina_socket::dissect::{LinkType, dissect};

/// Dissects `data` both ways; must never panic, and every rendering of the
/// result must work.
pub fn fuzz(data: &[u8]) {
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
