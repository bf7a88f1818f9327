//! Fuzz target `ipv4`: see the crate `lamina-ipv4`.
//!
//! Parses the input with every entry point, checks that they agree,
//! exercises every accessor and the option iterator, and for every parsed
//! datagram checks that `to_repr` → build → parse gives the same repr (and
//! the same bytes when the input was a complete datagram with a correct
//! checksum). Also feeds the input to the option iterator directly and,
//! as text, to the CIDR parser.

use lamina_ipv4::{Ipv4Cidr, Ipv4Header, Ipv4Option, Ipv4OptionIter, Ipv4OptionsBuf, Ipv4Packet};
use lamina_netbuf::Serializer;

/// Parses `data` as input for `lamina-ipv4`; must never panic.
pub fn fuzz(data: &[u8]) {
    if let Ok(h) = Ipv4Header::peek(data) {
        let _ = (
            h.version(),
            h.header_len(),
            h.dscp(),
            h.ecn(),
            h.total_len(),
            h.identification(),
            h.reserved_flag(),
            h.dont_fragment(),
            h.more_fragments(),
            h.fragment_offset_bytes(),
            h.ttl(),
            h.protocol().to_string(),
            h.checksum(),
            h.src(),
            h.dst(),
        );
    }

    let strict = Ipv4Packet::parse(data);
    let lenient = Ipv4Packet::parse_truncated(data);
    let verified = Ipv4Packet::parse_verified(data);
    match (&strict, &lenient) {
        (Ok(s), Ok(l)) => {
            assert!(!s.is_truncated() && !l.is_truncated());
            assert_eq!(s.to_repr(), l.to_repr());
            assert_eq!(s.as_bytes(), l.as_bytes());
        }
        (Ok(_), Err(e)) => panic!("strict parse succeeded, lenient failed: {e}"),
        (Err(_), Ok(l)) => assert!(l.is_truncated()),
        (Err(a), Err(b)) => assert_eq!(a, b),
    }
    match (&strict, &verified) {
        (Ok(s), Ok(_)) => assert!(s.checksum_ok()),
        (Ok(s), Err(e)) => {
            assert!(!s.checksum_ok());
            assert_eq!(*e, lamina_ipv4::Error::BadChecksum);
        }
        (Err(_), Ok(_)) => panic!("verified parse succeeded, strict failed"),
        (Err(a), Err(b)) => assert_eq!(a, b),
    }
    if let Ok(p) = lenient {
        exercise(&p);
    }

    // The iterator over arbitrary bytes ends, one option per octet at most.
    let n = Ipv4OptionIter::new(data).take(data.len() + 1).count();
    assert!(n <= data.len());
    if let Ok(opts) = Ipv4OptionsBuf::from_bytes(data) {
        assert!(opts.iter().all(|o| o.is_ok()));
        let mut again = Ipv4OptionsBuf::new();
        for o in opts.iter().flatten() {
            again.push(&o).expect("a valid option pushes");
            if o == Ipv4Option::EndOfList {
                break;
            }
        }
    }

    if let Ok(s) = core::str::from_utf8(data)
        && let Ok(c) = s.parse::<Ipv4Cidr>()
    {
        assert_eq!(c.to_string().parse::<Ipv4Cidr>(), Ok(c));
        assert!(c.contains(c.network()) && c.normalized().is_normalized());
        assert!(c.contains_cidr(&c.normalized()));
    }
}

fn exercise(p: &Ipv4Packet<'_>) {
    let _ = (
        p.version(),
        p.ihl(),
        p.dscp(),
        p.ecn(),
        p.identification(),
        p.reserved_flag(),
        p.dont_fragment(),
        p.more_fragments(),
        p.fragment_offset(),
        p.fragment_offset_bytes(),
        p.ttl(),
        p.protocol(),
        p.checksum(),
        p.src(),
        p.dst(),
        p.is_fragment(),
        p.is_first_fragment(),
        p.is_last_fragment(),
        p.fragment_key(),
        p.fragment_range(),
        p.header(),
    );
    assert_eq!(p.header_bytes().len(), p.header_len());
    assert_eq!(p.options().len(), p.header_len() - 20);
    assert_eq!(p.header_len() + p.payload().len(), p.as_bytes().len());
    assert_eq!(p.l4_payload().is_some(), p.fragment_offset() == 0);
    for o in p.iter_options() {
        match o.expect("a parsed view has valid options") {
            Ipv4Option::RecordRoute(r)
            | Ipv4Option::LooseSourceRoute(r)
            | Ipv4Option::StrictSourceRoute(r) => {
                assert_eq!(r.addresses().count(), r.slots());
                assert!(r.filled() <= r.slots());
                let _ = (r.next_address(), r.is_full());
            }
            Ipv4Option::Timestamp(t) => {
                assert_eq!(t.entries().count(), t.slots());
                assert!(t.filled() <= t.slots());
            }
            o => {
                let _ = (o.kind(), o.is_copied(), o.encoded_len());
            }
        }
    }

    // to_repr → build → parse gives the same repr.
    let repr = p.to_repr();
    let built = p
        .payload()
        .wrap_in(&repr)
        .serialize_vec(0)
        .expect("a parsed payload fits");
    let q = Ipv4Packet::parse_verified(built.as_slice()).expect("a built datagram parses");
    assert_eq!(q.to_repr(), repr);
    assert_eq!(q.payload(), p.payload());
    // And the same bytes, for a complete datagram with a correct checksum
    // (which may be either zero of one's complement arithmetic).
    if !p.is_truncated() && p.checksum_ok() {
        let (a, b) = (p.as_bytes(), built.as_slice());
        assert_eq!(a.len(), b.len());
        let zeros = [0x0000, 0xffff];
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            if (i == 10 || i == 11)
                && zeros.contains(&p.checksum())
                && zeros.contains(&q.checksum())
            {
                continue;
            }
            assert_eq!(x, y, "byte {i} differs after rebuild");
        }
    }
}
