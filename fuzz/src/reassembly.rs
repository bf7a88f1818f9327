//! Fuzz target `reassembly`: `lamina_ipv4::reassembly::Reassembler` fed
//! fragments chosen by the input, with a stepping clock, against a model.
//!
//! The input picks the limits, then a sequence of operations: a fragment
//! of one of four datagrams (offset, length, More Fragments, header
//! options, and whether its bytes are the datagram's own or altered), a
//! raw packet (the input's bytes, parsed as IPv4), a step of the clock,
//! and timeout polls. The model keeps, for each datagram, the fragments it
//! knows the reassembler holds; it stops trusting that knowledge when the
//! reassembler evicts a datagram (which one is not reported) until the
//! datagram ends. The target checks:
//!
//! - the limits of `ReassemblyConfig` always hold (datagrams held, bytes
//!   charged), and the bytes charged are exactly the held fragments'
//!   payload plus `FRAGMENT_OVERHEAD` each whenever the model knows them;
//! - a completed datagram parses, verifies, is not a fragment, carries the
//!   first fragment's header fields, and its payload is exactly the
//!   non-overlapping fragments held, byte for byte;
//! - duplicates, overlaps and blacklisting are reported as documented;
//! - once the clock passes every timeout and the timeouts are polled,
//!   nothing is held.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use arbitrary::{Arbitrary, Result, Unstructured};
use lamina_ipv4::reassembly::{
    FRAGMENT_OVERHEAD, FragmentDrop, Reassembler, Reassembly, ReassemblyConfig,
};
use lamina_ipv4::{
    FragmentKey, IPV4_MAX_PACKET_LEN, IpProtocol, Ipv4Option, Ipv4OptionsBuf, Ipv4Packet, Ipv4Repr,
};
use lamina_netbuf::{Duration, Instant, Serializer};

/// The source of the model's datagrams; raw packets from it are skipped
/// so that they never disturb the model.
const SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const DST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

#[derive(Debug, Arbitrary)]
enum Op {
    Fragment {
        id: u8,
        /// In 8-byte units.
        offset: u16,
        len: u16,
        more: bool,
        /// Options in the header (changes the header length).
        options: bool,
        /// XOR the data with this (0: the datagram's own bytes).
        alter: u8,
    },
    /// A whole datagram of `len` bytes cut at the 8-byte-aligned points
    /// `cuts` (each a step from the previous one, in 8-byte units), its
    /// fragments sent in an order drawn from `order`, with the fragment at
    /// `repeat` (if any) sent twice.
    Datagram {
        id: u8,
        len: u16,
        cuts: Vec<u8>,
        order: u64,
        repeat: Option<u8>,
        options: bool,
    },
    Raw(Vec<u8>),
    Advance(u16),
    Poll,
}

/// What the model knows of one datagram.
#[derive(Debug, Clone)]
enum Known {
    /// These fragments (start → data), and the first fragment's header,
    /// are all that is held; empty: nothing is (or the key is
    /// blacklisted).
    Exactly {
        pieces: BTreeMap<usize, Vec<u8>>,
        header: Option<Ipv4Repr>,
    },
    /// An eviction may have removed it: unknown until it ends.
    Unknown,
}

impl Known {
    fn empty() -> Known {
        Known::Exactly {
            pieces: BTreeMap::new(),
            header: None,
        }
    }
}

fn own_byte(id: u8, at: usize) -> u8 {
    (at as u8) ^ ((at >> 8) as u8).wrapping_mul(7) ^ id.wrapping_mul(0x3b)
}

fn repr(id: u8, offset: u16, more: bool, options: bool) -> Ipv4Repr {
    let mut r = Ipv4Repr::new(SRC, DST, IpProtocol::UDP);
    r.identification = u16::from(id);
    r.fragment_offset = offset;
    r.more_fragments = more;
    r.ttl = 1 + id;
    if options {
        let mut o = Ipv4OptionsBuf::new();
        let _ = o.push(&Ipv4Option::RouterAlert(0));
        r.options = o;
    }
    r
}

fn key(id: u8) -> FragmentKey {
    FragmentKey {
        src: SRC,
        dst: DST,
        protocol: IpProtocol::UDP,
        identification: u16::from(id),
    }
}

/// Runs one input; must never panic.
pub fn fuzz(data: &[u8]) {
    let _ = run(&mut Unstructured::new(data));
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let config = ReassemblyConfig {
        max_datagrams: u.int_in_range(0..=6)?,
        max_bytes: u.int_in_range(0..=20_000)?,
        max_fragments: u.int_in_range(0..=12)?,
        timeout: Duration::from_millis(u.int_in_range(0..=5_000)?),
    };
    let mut r = Reassembler::new(config);
    let mut now = Instant::from_secs(1);
    let mut model: BTreeMap<u8, Known> = (0..4).map(|i| (i, Known::empty())).collect();
    // Raw packets may be held under keys the model does not track.
    let mut foreign = false;
    let mut steps = 0;
    while !u.is_empty() && steps < 200 {
        steps += 1;
        let evictions = r.stats().reasm_evictions;
        match u.arbitrary::<Op>()? {
            Op::Fragment {
                id,
                offset,
                len,
                more,
                options,
                alter,
            } => {
                // Mostly near the start, where datagrams can complete.
                let offset = if offset & 0x8000 != 0 {
                    offset & 0x1fff
                } else {
                    offset % 64
                };
                let len = usize::from(len % 3000);
                let frag = Frag {
                    id: id % 4,
                    offset,
                    len,
                    more,
                    options,
                    alter,
                };
                push(&mut r, &mut model, now, frag, foreign);
            }
            Op::Datagram {
                id,
                len,
                cuts,
                order,
                repeat,
                options,
            } => {
                let total = usize::from(len % 4000) + 1;
                let mut starts = vec![0usize];
                for c in cuts {
                    let next = starts.last().copied().unwrap_or(0) + (usize::from(c) + 1) * 8;
                    if next >= total {
                        break;
                    }
                    starts.push(next);
                }
                let mut frags: Vec<Frag> = starts
                    .iter()
                    .enumerate()
                    .map(|(i, &s)| {
                        let end = starts.get(i + 1).copied().unwrap_or(total);
                        Frag {
                            id: id % 4,
                            offset: (s / 8) as u16,
                            len: end - s,
                            more: end != total,
                            options: options && s == 0,
                            alter: 0,
                        }
                    })
                    .collect();
                // A permutation: sort by a hash of the position.
                frags.sort_by_key(|f| {
                    (u64::from(f.offset) ^ order).wrapping_mul(0x9e37_79b9_7f4a_7c15)
                });
                if let Some(i) = repeat
                    && let Some(f) = frags.get(usize::from(i) % frags.len()).copied()
                {
                    frags.push(f);
                }
                for f in frags {
                    push(&mut r, &mut model, now, f, foreign);
                }
            }
            Op::Raw(bytes) => {
                if let Ok(p) = Ipv4Packet::parse_truncated(&bytes)
                    && p.src() != SRC
                {
                    match r.push(&p, now) {
                        Reassembly::Held => foreign = true,
                        Reassembly::Complete(d) => check_complete(d.as_slice(), p.fragment_key()),
                        Reassembly::Dropped(why) => {
                            if !p.is_fragment() {
                                assert_eq!(why, FragmentDrop::NotAFragment);
                            } else if p.is_truncated() {
                                assert_eq!(why, FragmentDrop::Truncated);
                            }
                        }
                    }
                }
            }
            Op::Advance(ms) => now += Duration::from_millis(u64::from(ms)),
            Op::Poll => poll(&mut r, &mut model, now),
        }
        after(&r, &mut model, evictions, foreign);
    }
    // Past every timeout, nothing is left.
    now = now + config.timeout + Duration::from_millis(1);
    if let Some(at) = r.poll_at() {
        assert!(at <= now, "a deadline beyond the timeout: {at:?} > {now:?}");
    }
    poll(&mut r, &mut model, now);
    assert!(r.is_empty(), "{} datagrams left after the timeout", r.len());
    assert_eq!(r.bytes_held(), 0);
    assert_eq!(r.poll_at(), None);
    let s = r.stats();
    assert!(s.reasm_oks + s.reasm_fails <= s.reasm_reqds);
    Ok(())
}

/// One fragment the model knows the bytes of.
#[derive(Debug, Clone, Copy)]
struct Frag {
    id: u8,
    /// In 8-byte units.
    offset: u16,
    len: usize,
    more: bool,
    options: bool,
    alter: u8,
}

fn push(
    r: &mut Reassembler,
    model: &mut BTreeMap<u8, Known>,
    now: Instant,
    f: Frag,
    foreign: bool,
) {
    let evictions = r.stats().reasm_evictions;
    let start = usize::from(f.offset) * 8;
    let data: Vec<u8> = (start..start + f.len)
        .map(|i| own_byte(f.id, i) ^ f.alter)
        .collect();
    let h = repr(f.id, f.offset, f.more, f.options);
    let Ok(bytes) = data.as_slice().wrap_in(&h).serialize_vec(0) else {
        return; // longer than a datagram can be
    };
    let packet = Ipv4Packet::parse_verified(bytes.as_slice()).expect("built parses");
    let got = r.push(&packet, now);
    fragment_outcome(model, f.id, &h, start, data, f.more, &packet, got);
    after(r, model, evictions, foreign);
}

/// After an operation: forget what an eviction may have removed, and
/// check the invariants.
fn after(r: &Reassembler, model: &mut BTreeMap<u8, Known>, evictions: u64, foreign: bool) {
    if r.stats().reasm_evictions != evictions {
        for k in model.values_mut() {
            if matches!(k, Known::Exactly { pieces, .. } if !pieces.is_empty()) {
                *k = Known::Unknown;
            }
        }
    }
    invariants(r, model, foreign);
}

fn poll(r: &mut Reassembler, model: &mut BTreeMap<u8, Known>, now: Instant) {
    let mut n = 0;
    while let Some(e) = r.poll_timeout(now) {
        n += 1;
        assert!(n <= 1000, "poll_timeout does not end");
        if e.key.src != SRC {
            continue;
        }
        let id = e.key.identification as u8;
        let k = model.get_mut(&id).expect("model key");
        if let Known::Exactly { pieces, header } = k {
            assert!(!pieces.is_empty(), "an expired datagram was held");
            // RFC 1122 §3.3.2: the first fragment comes back iff it arrived.
            match (&e.first_fragment, pieces.get(&0)) {
                (Some(f), Some(first)) => {
                    let p = Ipv4Packet::parse_verified(f.as_slice()).expect("first fragment");
                    assert_eq!(p.payload(), &first[..]);
                    assert_eq!(Some(p.to_repr()), *header);
                }
                (None, None) => {}
                (f, first) => panic!("first fragment {f:?} vs model {first:?}"),
            }
        }
        *k = Known::empty();
    }
    if let Some(at) = r.poll_at() {
        assert!(at > now);
    }
}

#[allow(clippy::too_many_arguments)]
fn fragment_outcome(
    model: &mut BTreeMap<u8, Known>,
    id: u8,
    h: &Ipv4Repr,
    start: usize,
    data: Vec<u8>,
    more: bool,
    packet: &Ipv4Packet<'_>,
    got: Reassembly,
) {
    let end = start + data.len();
    let k = model.get_mut(&id).expect("model key");
    match got {
        Reassembly::Held => {
            assert!(!data.is_empty());
            assert!(
                !more || data.len().is_multiple_of(8),
                "RFC 791: misaligned fragment held"
            );
            if let Known::Exactly { pieces, header } = k {
                // Held: it overlaps nothing held.
                for (&s, d) in pieces.iter() {
                    assert!(s + d.len() <= start || end <= s, "overlap held");
                }
                pieces.insert(start, data);
                if start == 0 {
                    *header = Some(*h);
                }
            }
        }
        Reassembly::Complete(d) => {
            check_complete(d.as_slice(), key(id));
            let p = Ipv4Packet::parse_verified(d.as_slice()).expect("complete parses");
            if let Known::Exactly { pieces, header } = k {
                pieces.insert(start, data);
                if start == 0 {
                    *header = Some(*h);
                }
                // The payload is exactly the held pieces, contiguous.
                let mut want = Vec::new();
                for (&s, d) in pieces.iter() {
                    assert_eq!(s, want.len(), "pieces tile the datagram");
                    want.extend_from_slice(d);
                }
                assert_eq!(p.payload(), &want[..]);
                let first = header.as_ref().expect("the first fragment arrived");
                assert_eq!(p.ttl(), first.ttl);
                assert_eq!(p.options(), packet_options(first).as_slice());
            }
            *k = Known::empty();
        }
        Reassembly::Dropped(why) => {
            match why {
                FragmentDrop::ZeroLength => assert!(data.is_empty()),
                FragmentDrop::Misaligned => assert!(more && !data.len().is_multiple_of(8)),
                FragmentDrop::TooLong => {}
                FragmentDrop::NotAFragment => assert!(!packet.is_fragment()),
                FragmentDrop::Truncated => panic!("a whole packet is not truncated"),
                FragmentDrop::Duplicate => {
                    if let Known::Exactly { pieces, .. } = k {
                        assert_eq!(pieces.get(&start), Some(&data), "duplicate of what?");
                    }
                }
                FragmentDrop::Blacklisted => {
                    if let Known::Exactly { pieces, .. } = k {
                        assert!(pieces.is_empty(), "blacklisted while held");
                    }
                }
                FragmentDrop::Overlap => {
                    if let Known::Exactly { pieces, .. } = k {
                        assert!(
                            pieces.iter().any(|(&s, d)| s < end && start < s + d.len()),
                            "overlap with nothing"
                        );
                    }
                }
                _ => {}
            }
            if !packet.is_fragment() {
                return;
            }
            if why.discards_datagram() {
                *k = Known::empty();
            }
        }
    }
}

fn packet_options(r: &Ipv4Repr) -> Vec<u8> {
    let bytes = [0u8; 0]
        .as_slice()
        .wrap_in(r)
        .serialize_vec(0)
        .expect("header builds");
    Ipv4Packet::parse(bytes.as_slice())
        .expect("header parses")
        .options()
        .to_vec()
}

fn check_complete(d: &[u8], want: FragmentKey) {
    let p = Ipv4Packet::parse_verified(d).expect("a completed datagram verifies");
    assert!(!p.is_fragment());
    assert!(!p.is_truncated());
    assert_eq!(usize::from(p.total_len()), d.len());
    assert_eq!(p.fragment_key(), want);
    assert!(d.len() <= IPV4_MAX_PACKET_LEN);
}

fn invariants(r: &Reassembler, model: &BTreeMap<u8, Known>, foreign: bool) {
    let c = r.config();
    assert!(
        r.len() <= c.max_datagrams,
        "{} > {}",
        r.len(),
        c.max_datagrams
    );
    assert!(r.bytes_held() <= c.max_bytes);
    let mut held = 0;
    let mut exact = true;
    let mut datagrams = 0;
    for k in model.values() {
        match k {
            Known::Exactly { pieces, .. } => {
                held += pieces
                    .values()
                    .map(|d| d.len() + FRAGMENT_OVERHEAD)
                    .sum::<usize>();
                datagrams += usize::from(!pieces.is_empty());
                assert!(pieces.len() <= c.max_fragments);
            }
            Known::Unknown => exact = false,
        }
    }
    if exact && !foreign {
        assert_eq!(r.bytes_held(), held, "bytes charged = pieces + overhead");
    }
    assert!(r.len() >= datagrams || !exact);
}
