//! Property tests: build → parse is the identity on `EthernetRepr`, and
//! parsing arbitrary bytes never panics (and re-builds to the same bytes
//! whenever it succeeds).
#![cfg(feature = "arbitrary")]

use arbitrary::{Arbitrary, Unstructured};
use lamina_ethernet::fcs::{RESIDUE, crc32};
use lamina_ethernet::{EtherType, EthernetFrame, EthernetRepr, MIN_FRAME_LEN, MacAddr};
use lamina_netbuf::{Rng, SeededRng, Serializer};

const CASES: u64 = 5_000;

fn random_bytes(rng: &mut SeededRng, max_len: u32) -> Vec<u8> {
    let mut v = vec![0u8; rng.below(max_len + 1) as usize];
    rng.fill_bytes(&mut v);
    v
}

#[test]
fn build_then_parse_gives_back_the_repr() {
    let mut rng = SeededRng::new(0xe7e7);
    let mut checked = 0;
    for case in 0..CASES {
        let seed = random_bytes(&mut rng, 128);
        let mut u = Unstructured::new(&seed);
        let Ok(repr) = EthernetRepr::arbitrary(&mut u) else {
            continue;
        };
        let pad = rng.below(2) == 1;
        let fcs = rng.below(2) == 1;
        let body = if repr.ethertype.is_length() {
            let mut b = vec![0u8; usize::from(repr.ethertype.0)];
            rng.fill_bytes(&mut b);
            b
        } else {
            random_bytes(&mut rng, 100)
        };
        let builder = repr.builder().with_padding(pad).with_fcs(fcs);
        let built = body.as_slice().wrap_in(builder).serialize_vec(0).unwrap();
        let bytes = built.as_slice();
        let frame_len = bytes.len() - if fcs { 4 } else { 0 };
        if pad {
            assert!(frame_len >= MIN_FRAME_LEN, "case {case}");
        } else {
            assert_eq!(frame_len, repr.header_len() + body.len(), "case {case}");
        }
        let parsed = if fcs {
            assert_eq!(crc32(bytes), RESIDUE);
            EthernetFrame::parse_with_fcs_verified(bytes)
        } else {
            EthernetFrame::parse(bytes)
        }
        .unwrap_or_else(|e| panic!("case {case}: {repr:?} failed to parse: {e}"));
        assert_eq!(parsed.to_repr(), repr, "case {case}");
        assert_eq!(parsed.ethertype(), repr.outer_ethertype(), "case {case}");
        assert!(parsed.payload().starts_with(&body), "case {case}");
        if repr.ethertype.is_length() {
            assert_eq!(parsed.payload(), &body[..], "case {case}");
        }
        checked += 1;
    }
    assert!(checked > CASES / 2, "only {checked} reprs generated");
}

/// Reads every accessor, and when the parse succeeded, rebuilds the frame
/// from its repr and payload and checks the bytes and repr come back.
fn exercise(frame: &EthernetFrame<'_>) {
    let _ = (
        frame.dst(),
        frame.src(),
        frame.header(),
        frame.fcs(),
        frame.fcs_ok(),
    );
    let _ = (
        frame.length(),
        frame.is_ieee802_3(),
        frame.is_truncated(),
        frame.vlan_id(),
    );
    let tags: Vec<_> = frame.vlan_tags().collect();
    assert_eq!(tags.len(), frame.vlan_count());
    assert_eq!(frame.header_len(), 14 + 4 * tags.len());
    let repr = frame.to_repr();
    assert_eq!(repr.outer_ethertype(), frame.ethertype());
    assert_eq!(repr.ethertype, frame.inner_ethertype());
    if frame.is_truncated() {
        return;
    }
    let rebuilt = frame
        .payload()
        .wrap_in(repr.builder().with_padding(false))
        .serialize_vec(0)
        .unwrap();
    let want_len = frame.as_bytes().len() - frame.trailer().len();
    assert_eq!(rebuilt.as_slice(), &frame.as_bytes()[..want_len]);
    let again = EthernetFrame::parse(rebuilt.as_slice()).unwrap();
    assert_eq!(again.to_repr(), repr);
}

#[test]
fn parsing_arbitrary_bytes_never_panics() {
    let mut rng = SeededRng::new(0xbad);
    let tpids = [0x8100u16, 0x88a8, 0x9100];
    let (mut ok, mut tagged, mut llc) = (0, 0, 0);
    for _ in 0..CASES * 4 {
        let mut bytes = random_bytes(&mut rng, 90);
        // Bias the type fields towards VLAN TPIDs and short 802.3 lengths
        // so that the tag walk and the length check are exercised.
        let mut at = 12;
        while at + 2 <= bytes.len() && rng.below(3) != 0 {
            let v = match rng.below(3) {
                0 => tpids[rng.below(3) as usize],
                1 => rng.below(80) as u16,
                _ => 0x0800,
            };
            bytes[at..at + 2].copy_from_slice(&v.to_be_bytes());
            at += 4;
        }
        let parsed = [
            EthernetFrame::parse(&bytes),
            EthernetFrame::parse_truncated(&bytes),
            EthernetFrame::parse_with_fcs(&bytes),
            EthernetFrame::parse_with_fcs_verified(&bytes),
        ];
        for frame in parsed.iter().flatten() {
            exercise(frame);
            ok += 1;
            tagged += usize::from(frame.vlan_count() > 0);
            llc += usize::from(frame.is_ieee802_3());
        }
    }
    // The inputs reach the interesting paths, not just the early errors.
    assert!(
        ok > 1000 && tagged > 500 && llc > 100,
        "{ok} {tagged} {llc}"
    );
}

#[test]
fn mac_text_round_trips_and_bad_text_is_an_error() {
    let mut rng = SeededRng::new(0x3ac);
    for _ in 0..CASES {
        let seed = random_bytes(&mut rng, 16);
        let mut u = Unstructured::new(&seed);
        if let Ok(mac) = MacAddr::arbitrary(&mut u) {
            assert_eq!(mac.to_string().parse::<MacAddr>(), Ok(mac));
            assert_eq!(
                mac.to_string().replace(':', "-").parse::<MacAddr>(),
                Ok(mac)
            );
        }
        let text = String::from_utf8_lossy(&seed);
        let _ = text.parse::<MacAddr>();
        let _ = EtherType(u16::from_le_bytes([seed.first().copied().unwrap_or(0), 0])).to_string();
    }
}
