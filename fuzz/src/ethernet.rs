//! Fuzz target `ethernet`: see the crate `lamina-ethernet`.

use lamina_ethernet::fcs::{RESIDUE, crc32};
use lamina_ethernet::{EtherType, EthernetFrame, MacAddr};
use lamina_netbuf::Serializer;

/// Parses `data` with every entry point of `lamina-ethernet`, reads every
/// accessor, and checks that a frame that parses rebuilds from its repr
/// and payload to the same bytes and the same repr. Also checks the CRC
/// residue property and MAC address text round trips. Must never panic.
pub fn fuzz(data: &[u8]) {
    for (parsed, with_fcs) in [
        (EthernetFrame::parse(data), false),
        (EthernetFrame::parse_truncated(data), false),
        (EthernetFrame::parse_with_fcs(data), true),
        (EthernetFrame::parse_with_fcs_verified(data), true),
    ] {
        if let Ok(frame) = parsed {
            exercise(data, &frame, with_fcs);
        }
    }

    let mut with_fcs = data.to_vec();
    with_fcs.extend_from_slice(&crc32(data).to_le_bytes());
    assert_eq!(crc32(&with_fcs), RESIDUE);

    if let Ok(text) = core::str::from_utf8(data)
        && let Ok(mac) = text.parse::<MacAddr>()
    {
        assert_eq!(mac.to_string().parse::<MacAddr>(), Ok(mac));
    }
    if let Some(mac) = MacAddr::from_slice(data) {
        let _ = (mac.is_broadcast(), mac.is_multicast(), mac.is_local());
        assert_eq!(mac.to_string().parse::<MacAddr>(), Ok(mac));
    }
    if let Some(t) = data.first_chunk::<2>() {
        let t = EtherType(u16::from_be_bytes(*t));
        let _ = (t.to_string(), format!("{t:?}"), t.is_vlan_tpid(), t.name());
    }
}

fn exercise(data: &[u8], frame: &EthernetFrame<'_>, with_fcs: bool) {
    let _ = (
        frame.dst(),
        frame.src(),
        frame.header(),
        frame.fcs_ok(),
        frame.vlan_id(),
    );
    let _ = (frame.length(), frame.is_ieee802_3(), frame.vlan_tag(1));
    assert_eq!(frame.fcs().is_some(), with_fcs);
    let tags: Vec<_> = frame.vlan_tags().collect();
    assert_eq!(tags.len(), frame.vlan_count());
    assert_eq!(frame.header_len(), 14 + 4 * tags.len());
    assert_eq!(
        frame.header_len() + frame.payload().len() + frame.trailer().len(),
        frame.as_bytes().len()
    );

    let repr = frame.to_repr();
    assert_eq!(repr.outer_ethertype(), frame.ethertype());
    assert_eq!(repr.ethertype, frame.inner_ethertype());
    assert_eq!(repr.vlan.as_slice(), &tags[..]);

    // Rebuild without padding: the same bytes, up to the trailer.
    let rebuilt = frame
        .payload()
        .wrap_in(repr.builder().with_padding(false).with_fcs(with_fcs))
        .serialize_vec(0)
        .expect("an Ethernet frame of any length builds");
    let reparsed = if with_fcs {
        EthernetFrame::parse_with_fcs_verified(rebuilt.as_slice())
    } else {
        EthernetFrame::parse_truncated(rebuilt.as_slice())
    }
    .expect("a rebuilt frame parses");
    assert_eq!(reparsed.to_repr(), repr);
    assert_eq!(reparsed.payload(), frame.payload());
    let kept = frame.as_bytes().len() - frame.trailer().len();
    assert_eq!(&rebuilt.as_slice()[..kept], &frame.as_bytes()[..kept]);
    if with_fcs && frame.fcs_ok() && frame.trailer().is_empty() {
        assert_eq!(rebuilt.as_slice(), data);
    }

    // Rebuild padded, with an FCS: still the same repr.
    if !frame.is_truncated() {
        let padded = frame
            .payload()
            .wrap_in(repr.builder().with_fcs(true))
            .serialize_vec(0)
            .expect("builds");
        assert!(padded.len() >= 64);
        let back = EthernetFrame::parse_with_fcs_verified(padded.as_slice()).expect("parses");
        assert_eq!(back.to_repr(), repr);
    }
}
