//! Fuzz target `icmp`: see the crate `lamina-icmp`.
//!
//! Parses the input as an ICMP message and, when it is an IPv4 datagram
//! carrying ICMP, as that; exercises every accessor, the typed message
//! and the quote; checks that `to_repr` → build → parse gives the same
//! repr and body; and quotes the input in an error with `ErrorBuilder`.

use lamina_icmp::{
    ErrorBuilder, IcmpMessage, IcmpPacket, IcmpRepr, MAX_ERROR_QUOTE_LEN, UnreachableCode,
};
use lamina_ipv4::{IpProtocol, Ipv4Packet};
use lamina_netbuf::Serializer;

/// Parses `data` as input for `lamina-icmp`; must never panic.
pub fn fuzz(data: &[u8]) {
    message(data);
    if let Ok(ip) = Ipv4Packet::parse_truncated(data)
        && ip.protocol() == IpProtocol::ICMP
        && let Some(l4) = ip.l4_payload()
    {
        message(l4);
    }

    // Quote the input as an offending datagram.
    let repr = IcmpRepr::DestUnreachable {
        code: UnreachableCode::PortUnreachable,
        next_hop_mtu: 0,
    };
    if let Ok(e) = ErrorBuilder::new(repr, data) {
        assert!(e.quote().len() <= MAX_ERROR_QUOTE_LEN.max(60 + 8));
        let built = e.serialize_vec(0).expect("an error fits");
        let p = IcmpPacket::parse_verified(built.as_slice()).expect("a built error parses");
        assert_eq!(p.to_repr(), repr);
        let q = p.quote().expect("an error has a quote");
        assert_eq!(q.bytes(), e.quote());
        assert!(q.header().is_some());
    }
}

fn message(data: &[u8]) {
    let verified = IcmpPacket::parse_verified(data);
    let Ok(p) = IcmpPacket::parse(data) else {
        assert!(verified.is_err());
        return;
    };
    assert_eq!(verified.is_ok(), p.checksum_ok());
    // The ping socket's direct reading of an echo reply agrees with the
    // parsed message.
    let direct = lamina_icmp::verified_echo_reply(data).map(|(id, d)| (id.ident, id.seq_no, d));
    let parsed = match verified.as_ref().map(IcmpPacket::message) {
        Ok(IcmpMessage::EchoReply {
            ident,
            seq_no,
            data,
        }) => Some((ident, seq_no, data)),
        _ => None,
    };
    assert_eq!(direct, parsed);
    let _ = (
        p.msg_type().to_string(),
        p.code(),
        p.checksum(),
        p.rest_of_header(),
        p.header(),
        p.rfc4884_length(),
        p.extensions(),
        p.next_hop_mtu(),
    );
    assert_eq!(p.as_bytes(), data);
    assert!(p.body().len() <= p.payload().len());
    assert_eq!(p.quote().is_some(), p.is_error());
    if let Some(q) = p.quote() {
        let _ = (
            q.bytes(),
            q.header(),
            q.protocol(),
            q.l4_bytes(),
            q.ports(),
            q.icmp_ident_seq(),
        );
        if let Ok(inner) = q.ipv4() {
            let _ = (
                inner.src(),
                inner.dst(),
                inner.payload(),
                inner.checksum_ok(),
            );
        }
        let _ = p.quoted();
    } else {
        assert!(p.quoted().is_err());
    }
    match p.message() {
        IcmpMessage::RouterAdvertisement(ra) => {
            assert_eq!(ra.addresses().count(), usize::from(ra.num_addrs));
        }
        IcmpMessage::EchoRequest { data: d, .. } | IcmpMessage::EchoReply { data: d, .. } => {
            assert_eq!(d, p.payload());
        }
        _ => {}
    }

    let repr = p.to_repr();
    assert_eq!(repr.msg_type(), p.msg_type());
    // Messages whose code RFC 792 fixes at 0 are described without one.
    let code_zero_by_rfc = !matches!(
        repr,
        IcmpRepr::DestUnreachable { .. }
            | IcmpRepr::Redirect { .. }
            | IcmpRepr::TimeExceeded { .. }
            | IcmpRepr::ParameterProblem { .. }
            | IcmpRepr::RouterAdvertisement { .. }
            | IcmpRepr::Other { .. }
    );
    assert!(repr.code() == p.code() || (code_zero_by_rfc && repr.code() == 0));
    let Ok(built) = p.body().wrap_in(&repr).serialize_vec(0) else {
        // Only a message longer than an IPv4 datagram can carry.
        assert!(data.len() > 65_535 - 20 - repr.header_len());
        return;
    };
    let q = IcmpPacket::parse_verified(built.as_slice()).expect("a built message parses");
    assert_eq!(q.to_repr(), repr);
    assert_eq!(q.body(), p.body());
}
