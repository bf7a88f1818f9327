//! Property tests: build → parse is the identity on `ArpRepr`, and
//! parsing arbitrary bytes never panics (and re-builds to the same 28 bytes
//! whenever it succeeds).
#![cfg(feature = "arbitrary")]

use arbitrary::{Arbitrary, Unstructured};
use lamina_arp::{ArpPacket, ArpRepr, Error, PACKET_LEN};
use lamina_ethernet::EthernetFrame;
use lamina_netbuf::serialize::EmptyBody;
use lamina_netbuf::{Rng, SeededRng, Serializer};

const CASES: u64 = 5_000;

fn random_bytes(rng: &mut SeededRng, max_len: u32) -> Vec<u8> {
    let mut v = vec![0u8; rng.below(max_len + 1) as usize];
    rng.fill_bytes(&mut v);
    v
}

#[test]
fn build_then_parse_gives_back_the_repr() {
    let mut rng = SeededRng::new(0xa4b);
    let mut checked = 0;
    for case in 0..CASES {
        let seed = random_bytes(&mut rng, 64);
        let Ok(repr) = ArpRepr::arbitrary(&mut Unstructured::new(&seed)) else {
            continue;
        };
        // Alone, and inside a padded Ethernet frame.
        let bytes = repr.to_bytes();
        assert_eq!(
            ArpPacket::parse(&bytes).unwrap().to_repr(),
            repr,
            "case {case}"
        );
        let frame = EmptyBody
            .wrap_in(repr)
            .wrap_in(repr.ethernet_repr())
            .serialize_vec(0)
            .unwrap();
        let eth = EthernetFrame::parse(frame.as_slice()).unwrap();
        let arp = ArpPacket::parse(eth.payload()).unwrap();
        assert_eq!(arp.to_repr(), repr, "case {case}");
        assert_eq!(arp.as_bytes(), &bytes);
        assert_eq!(eth.src(), repr.sender_hardware_addr);
        checked += 1;
    }
    assert!(checked > CASES / 2, "only {checked} reprs generated");
}

#[test]
fn parsing_arbitrary_bytes_never_panics() {
    let mut rng = SeededRng::new(0xdead);
    let (mut ok, mut hw, mut proto, mut short) = (0, 0, 0, 0);
    for _ in 0..CASES * 4 {
        let mut bytes = random_bytes(&mut rng, 48);
        // Make each type and length byte mostly valid, so that every
        // check is reached.
        let valid = [0x00, 0x01, 0x08, 0x00, 6, 4];
        for (b, v) in bytes.iter_mut().zip(valid) {
            if rng.below(8) != 0 {
                *b = v;
            }
        }
        match ArpPacket::parse(&bytes) {
            Ok(p) => {
                ok += 1;
                let _ = (p.hardware_type(), p.protocol_type(), p.hardware_len());
                let _ = (
                    p.protocol_len(),
                    p.is_gratuitous(),
                    p.is_probe(),
                    p.header(),
                );
                assert_eq!(p.as_bytes().len() + p.trailer().len(), bytes.len());
                let repr = p.to_repr();
                assert_eq!(&repr.to_bytes()[..], p.as_bytes());
                assert_eq!(&repr.to_bytes()[..], &bytes[..PACKET_LEN]);
            }
            Err(Error::Truncated { needed, got }) => {
                assert_eq!((needed, got), (PACKET_LEN, bytes.len()));
                short += 1;
            }
            Err(Error::UnsupportedHardware { htype, hlen }) => {
                assert!(htype != 1 || hlen != 6);
                hw += 1;
            }
            Err(Error::UnsupportedProtocol { ptype, plen }) => {
                assert!(ptype != 0x0800 || plen != 4);
                proto += 1;
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    // Every path is reached.
    assert!(
        ok > 1000 && hw > 100 && proto > 10 && short > 100,
        "{ok} {hw} {proto} {short}"
    );
}
