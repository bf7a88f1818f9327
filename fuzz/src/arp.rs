//! Fuzz target `arp`: see the crate `lamina-arp`.

use lamina_arp::{ArpPacket, ArpRepr, PACKET_LEN};
use lamina_ethernet::{EtherType, EthernetFrame};
use lamina_netbuf::Serializer;
use lamina_netbuf::serialize::EmptyBody;

/// Parses `data` as an ARP packet, and as an Ethernet frame carrying one;
/// reads every accessor and checks that a packet that parses rebuilds to
/// the same 28 bytes and the same repr, alone and inside a frame. Must
/// never panic.
pub fn fuzz(data: &[u8]) {
    if let Ok(arp) = ArpPacket::parse(data) {
        exercise(&arp);
    }
    if let Ok(eth) = EthernetFrame::parse(data)
        && eth.inner_ethertype() == EtherType::ARP
        && let Ok(arp) = ArpPacket::parse(eth.payload())
    {
        exercise(&arp);
    }
}

fn exercise(arp: &ArpPacket<'_>) {
    let _ = (arp.hardware_type(), arp.protocol_type(), arp.hardware_len());
    let _ = (
        arp.protocol_len(),
        arp.is_gratuitous(),
        arp.is_probe(),
        arp.header(),
    );
    let _ = (
        arp.operation().to_string(),
        format!("{:?}", arp.operation()),
    );
    let _ = arp.trailer();
    let repr = arp.to_repr();
    assert_eq!(&repr.to_bytes()[..], arp.as_bytes());
    assert_eq!(arp.as_bytes().len(), PACKET_LEN);

    let frame = EmptyBody
        .wrap_in(repr)
        .wrap_in(repr.ethernet_repr())
        .serialize_vec(0)
        .expect("an ARP frame builds");
    let eth = EthernetFrame::parse(frame.as_slice()).expect("the frame parses");
    assert_eq!(eth.src(), repr.sender_hardware_addr);
    let back = ArpPacket::parse(eth.payload()).expect("the packet parses");
    assert_eq!(back.to_repr(), repr);

    let reply = ArpRepr::reply_to(&repr, repr.target_hardware_addr);
    assert_eq!(reply.target_protocol_addr, repr.sender_protocol_addr);
}
