//! Fuzz target `tcp`: see the crate `lamina-tcp`.

use std::net::Ipv4Addr;

use lamina_netbuf::Serializer;
use lamina_tcp::{HEADER_LEN, TcpOption, TcpOptionIter, TcpSegment};

/// The pseudo-header addresses the seeds were built with.
const SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const DST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

/// Parses `data` as a TCP segment from 192.0.2.1 to 192.0.2.2 with every
/// entry point, walks its options, and rebuilds what parses: must never
/// panic, and the rebuilt segment must parse to an equal repr (and to the
/// same bytes when the option layout and checksum match).
pub fn fuzz(data: &[u8]) {
    // The raw option walker on arbitrary bytes terminates, one step per
    // byte at most, and stops after its first error.
    let mut steps = 0;
    let mut errors = 0;
    for opt in TcpOptionIter::new(data) {
        steps += 1;
        errors += usize::from(opt.is_err());
    }
    assert!(steps <= data.len() && errors <= 1);

    let strict = TcpSegment::parse(data);
    let lenient = TcpSegment::parse_truncated(data);
    let verified = TcpSegment::parse_verified(data, SRC, DST);

    if let Ok(s) = &lenient {
        exercise(s);
        if s.is_truncated() {
            assert!(strict.is_err());
            assert!(s.payload().is_empty() && !s.checksum_ok(SRC, DST));
        }
    }
    // Headers and payload apart (a payload a device lent by reference):
    // split at any point, the parse agrees with the whole one where the
    // split is at the header's end, and fails elsewhere.
    let at = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let (head, rest) = data.split_at(at);
    match (TcpSegment::parse_split(head, rest), &strict) {
        (Ok(split), Ok(whole)) => {
            assert_eq!(
                at,
                whole.header_len(),
                "split elsewhere than the header's end"
            );
            assert_eq!(split, *whole);
            assert_eq!(split.checksum_ok(SRC, DST), whole.checksum_ok(SRC, DST));
        }
        (Ok(_), Err(e)) => panic!("the split parses, the whole does not: {e:?}"),
        (Err(_), Ok(whole)) => assert_ne!(at, whole.header_len(), "the header's end refused"),
        (Err(_), Err(_)) => {}
    }
    if let Ok(whole) = &strict {
        let (h, p) = data.split_at(whole.header_len());
        assert_eq!(TcpSegment::parse_split(h, p).as_ref(), Ok(whole));
    }
    let Ok(s) = strict else {
        assert!(verified.is_err());
        return;
    };
    assert_eq!(lenient, Ok(s));
    assert_eq!(verified.is_ok(), s.checksum_ok(SRC, DST));
    assert_eq!(s.header_len() + s.payload().len(), data.len());

    let repr = s.to_repr();
    let builder = repr.builder(SRC, DST).expect("a parsed repr always fits");
    let rebuilt = s
        .payload()
        .wrap_in(builder)
        .serialize_vec(0)
        .expect("a parsed payload fits");
    let again = TcpSegment::parse_verified(rebuilt.as_slice(), SRC, DST).expect("rebuilt parses");
    // The header written for a payload held apart, in two pieces cut
    // anywhere, is the one written in front of it.
    let cut = usize::from(s.window_len()) % (s.payload().len() + 1);
    let (p0, p1) = s.payload().split_at(cut);
    let mut head = [0u8; 60];
    let hl = builder.header_len();
    builder.write_header(&mut head[..hl], (p0, p1));
    assert_eq!(
        &head[..hl],
        &rebuilt.as_slice()[..hl],
        "write_header differs"
    );
    assert_eq!(again.to_repr(), repr);
    assert_eq!(again.payload(), s.payload());
    if builder.options() == s.options() && s.checksum_ok(SRC, DST) {
        // Same bytes, except that a sum of all ones can be sent as 0x0000
        // (what the builder computes) or 0xFFFF (one's-complement -0):
        // both verify.
        let mut want = data.to_vec();
        if s.checksum() == 0xffff && again.checksum() == 0 {
            want[16..18].fill(0);
        }
        assert_eq!(rebuilt.as_slice(), want.as_slice());
    }
}

/// Reads every field and option of a parsed segment.
fn exercise(s: &TcpSegment<'_>) {
    let _ = (s.src_port(), s.dst_port(), s.seq_number(), s.ack_number());
    let _ = (s.window_len(), s.checksum(), s.urgent_pointer(), s.header());
    let f = s.flags();
    let _ = (format!("{f}"), format!("{f:#}"), format!("{f:?}"));
    let _ = (
        s.fin(),
        s.syn(),
        s.rst(),
        s.psh(),
        s.ack(),
        s.urg(),
        s.ece(),
        s.cwr(),
        s.ns(),
    );
    assert!(s.header_len() >= HEADER_LEN && s.data_offset() >= 5);
    assert!(s.segment_len() <= s.payload().len() + 2);
    let mut n = 0;
    for opt in s.options_iter() {
        n += 1;
        let _ = opt.kind();
        if let TcpOption::Sack(b) = opt {
            assert!((1..=4).contains(&b.len()));
        }
    }
    assert!(n <= s.options().len());
    let _ = s.sack_blocks();
    // The one-walk SYN options agree with the accessors.
    let o = s.syn_options();
    assert_eq!(o.mss, s.mss());
    assert_eq!(o.window_scale, s.window_scale());
    assert_eq!(o.sack_permitted, s.sack_permitted());
    assert_eq!(o.timestamps, s.timestamps());
    // And the timestamps read by layout (NOP NOP TS, the full SYN layout)
    // agree with a walk over the options.
    let walked = s.options_iter().find_map(|o| match o {
        TcpOption::Timestamps(t) => Some(t),
        _ => None,
    });
    assert_eq!(s.timestamps(), walked);
    let _ = s.checksum_ok(SRC, DST);
}
