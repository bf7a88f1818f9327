//! Fuzz target `udp`: see the crate `lamina-udp`.

use std::net::Ipv4Addr;

use lamina_netbuf::Serializer;
use lamina_udp::{ChecksumMode, ChecksumStatus, HEADER_LEN, UdpPacket};

/// The pseudo-header addresses the seeds were built with.
const SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const DST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

/// Parses `data` as a UDP datagram from 192.0.2.1 to 192.0.2.2 with every
/// entry point; must never panic. Whatever parses must agree across entry
/// points and rebuild to an equal repr (and, when its checksum is good, to
/// the same bytes).
pub fn fuzz(data: &[u8]) {
    let strict = UdpPacket::parse(data);
    let lenient = UdpPacket::parse_truncated(data);
    let verified = UdpPacket::parse_verified(data, SRC, DST);
    let required = UdpPacket::parse_verified_strict(data, SRC, DST);

    if let Ok(p) = &lenient {
        let _ = (p.src_port(), p.dst_port(), p.checksum(), p.header());
        let _ = p.checksum_ok(SRC, DST);
        assert!(p.payload().len() + HEADER_LEN <= usize::from(p.length()));
        assert_eq!(
            p.is_truncated(),
            p.payload().len() + HEADER_LEN < usize::from(p.length())
        );
        if p.is_truncated() {
            assert!(strict.is_err());
            assert!(matches!(
                p.checksum_status(SRC, DST),
                ChecksumStatus::Unverifiable | ChecksumStatus::Absent
            ));
        }
    }
    assert_eq!(
        verified.is_ok(),
        required.is_ok() || matches!(required, Err(lamina_udp::Error::MissingChecksum))
    );

    let Ok(p) = strict else {
        return;
    };
    assert_eq!(lenient, Ok(p));
    assert!(!p.is_truncated());
    assert_eq!(verified.is_ok(), p.checksum_ok(SRC, DST));
    // Verified later, from the header's sum kept and the payload's: the
    // same verdict.
    if p.checksum() != 0 {
        let mut later = lamina_netbuf::checksum::Checksum::new();
        later.add_u16(p.header_sum(SRC, DST));
        later.add_bytes(p.payload());
        assert_eq!(
            later.finish() == 0,
            p.checksum_status(SRC, DST) == ChecksumStatus::Good
        );
    }

    let repr = p.to_repr();
    let rebuilt = p
        .payload()
        .wrap_in(repr.builder(SRC, DST))
        .serialize_vec(0)
        .expect("a parsed payload fits");
    let again = UdpPacket::parse_verified(rebuilt.as_slice(), SRC, DST).expect("rebuilt parses");
    assert_eq!(again.to_repr(), repr);
    assert_eq!(again.payload(), p.payload());
    if p.checksum_status(SRC, DST) == ChecksumStatus::Good {
        assert_eq!(
            Some(rebuilt.as_slice()),
            data.get(..usize::from(p.length()))
        );
    }
    let zero = p
        .payload()
        .wrap_in(repr.builder(SRC, DST).checksum(ChecksumMode::Zero))
        .serialize_vec(0)
        .expect("a parsed payload fits");
    let again = UdpPacket::parse(zero.as_slice()).expect("rebuilt parses");
    assert_eq!(again.checksum_status(SRC, DST), ChecksumStatus::Absent);
}
