use super::*;
use alloc::vec;
use alloc::vec::Vec;
use arbitrary::{Arbitrary, Unstructured};
use lamina_netbuf::serialize::{EmptyBody, Serializer};
use lamina_netbuf::{Rng, SeededRng};

const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

/// A segment written byte by byte: ports 49152 -> 80, seq 0x01020304,
/// ack 0x0a0b0c0d, the given flags, window 0x7210, urgent 0x0009, options
/// padded by the caller, and a payload; checksum computed independently
/// over an explicit pseudo-header.
fn raw(flags: u16, options: &[u8], payload: &[u8]) -> Vec<u8> {
    assert_eq!(options.len() % 4, 0);
    let offset = ((20 + options.len()) / 4) as u16;
    let mut s = vec![
        0xc0, 0x00, 0x00, 0x50, 0x01, 0x02, 0x03, 0x04, 0x0a, 0x0b, 0x0c, 0x0d,
    ];
    s.extend_from_slice(&((offset << 12) | flags).to_be_bytes());
    s.extend_from_slice(&[0x72, 0x10, 0, 0, 0x00, 0x09]);
    s.extend_from_slice(options);
    s.extend_from_slice(payload);
    let mut pseudo = vec![192, 0, 2, 1, 192, 0, 2, 2, 0, 6];
    pseudo.extend_from_slice(&(s.len() as u16).to_be_bytes());
    pseudo.extend_from_slice(&s);
    let c = checksum::checksum(&pseudo);
    s[16..18].copy_from_slice(&c.to_be_bytes());
    s
}

fn build(repr: &TcpRepr, payload: &[u8]) -> Vec<u8> {
    payload
        .wrap_in(repr.builder(A, B).expect("options fit"))
        .serialize_vec(0)
        .expect("buildable")
        .into_vec()
}

const LINUX_SYN_OPTIONS: [u8; 20] = [
    2, 4, 0x05, 0xb4, // MSS 1460
    4, 2, // SACK permitted
    8, 10, 0x07, 0xd6, 0xcb, 0x4e, 0, 0, 0, 0, // TS val 131517262, ecr 0
    1, 3, 3, 7, // NOP, WS 7
];

#[test]
fn fixed_header_is_twenty_bytes_rfc9293_3_1() {
    assert_eq!(core::mem::size_of::<TcpHeader>(), HEADER_LEN);
}

#[test]
fn parses_every_fixed_header_field_rfc9293_3_1() {
    let bytes = raw(0x018, &[], b"GET /");
    let s = TcpSegment::parse_verified(&bytes, A, B).unwrap();
    assert_eq!(s.src_port(), 49152);
    assert_eq!(s.dst_port(), 80);
    assert_eq!(s.seq_number(), SeqNumber(0x0102_0304));
    assert_eq!(s.ack_number(), SeqNumber(0x0a0b_0c0d));
    assert_eq!(s.data_offset(), 5);
    assert_eq!(s.header_len(), 20);
    assert_eq!(s.flags(), TcpFlags::PSH | TcpFlags::ACK);
    assert!(s.psh() && s.ack());
    assert!(!(s.syn() || s.fin() || s.rst() || s.urg() || s.ece() || s.cwr() || s.ns()));
    assert_eq!(s.window_len(), 0x7210);
    assert_eq!(s.checksum(), u16::from_be_bytes([bytes[16], bytes[17]]));
    assert_eq!(s.urgent_pointer(), 9);
    assert_eq!(s.options(), b"");
    assert_eq!(s.payload(), b"GET /");
    assert_eq!(s.segment_len(), 5);
    assert!(!s.is_truncated());
    assert_eq!(s.header().seq_number.get(), 0x0102_0304);
}

#[test]
fn reads_all_twelve_control_bits_including_reserved_rfc9293_3_1() {
    let bytes = raw(0xfff, &[], &[]);
    let s = TcpSegment::parse(&bytes).unwrap();
    assert_eq!(s.flags(), TcpFlags::ALL);
    assert!(s.fin() && s.syn() && s.rst() && s.psh() && s.ack());
    assert!(s.urg() && s.ece() && s.cwr() && s.ns());
    assert_eq!(s.data_offset(), 5, "flags do not leak into the offset");
    for bit in 0..12 {
        let bytes = raw(1 << bit, &[], &[]);
        let s = TcpSegment::parse(&bytes).unwrap();
        assert_eq!(s.flags().bits(), 1 << bit);
        assert_eq!(s.to_repr().flags.bits(), 1 << bit);
    }
}

#[test]
fn rejects_buffer_shorter_than_fixed_header() {
    let bytes = raw(0x010, &[], &[]);
    for n in 0..HEADER_LEN {
        let want = Err(Error::Truncated { needed: 20, got: n });
        assert_eq!(TcpSegment::parse(&bytes[..n]), want);
        assert_eq!(TcpSegment::parse_truncated(&bytes[..n]), want);
    }
}

#[test]
fn rejects_data_offset_below_five_words_rfc9293_3_1() {
    for offset in 0..5u8 {
        let mut bytes = raw(0x010, &[], b"data");
        bytes[12] = offset << 4;
        let want = Err(Error::BadHeaderLength {
            header_len: usize::from(offset) * 4,
        });
        assert_eq!(TcpSegment::parse(&bytes), want);
        assert_eq!(TcpSegment::parse_truncated(&bytes), want);
    }
}

#[test]
fn rejects_data_offset_beyond_the_buffer_rfc9293_3_1() {
    let bytes = raw(0x002, &LINUX_SYN_OPTIONS, &[]);
    assert_eq!(
        TcpSegment::parse(&bytes[..39]),
        Err(Error::Truncated {
            needed: 40,
            got: 39
        })
    );
    let mut bytes = raw(0x010, &[], &[]);
    bytes[12] = 0xf0; // 60 bytes declared, 20 present
    assert_eq!(
        TcpSegment::parse(&bytes),
        Err(Error::Truncated {
            needed: 60,
            got: 20
        })
    );
}

#[test]
fn parse_truncated_reads_a_header_cut_inside_its_options() {
    let bytes = raw(0x002, &LINUX_SYN_OPTIONS, &[]);
    // Cut in the middle of the timestamps option: MSS and SACK-permitted
    // are whole; the cut option is left out rather than an error.
    let s = TcpSegment::parse_truncated(&bytes[..30]).unwrap();
    assert!(s.is_truncated());
    assert_eq!(s.header_len(), 40);
    assert_eq!(s.seq_number(), SeqNumber(0x0102_0304));
    assert_eq!(s.mss(), Some(1460));
    assert!(s.sack_permitted());
    assert_eq!(s.timestamps(), None);
    assert_eq!(s.payload(), b"");
    assert!(!s.checksum_ok(A, B));
    // Cut right after a kind byte: only the MSS is whole.
    let s = TcpSegment::parse_truncated(&bytes[..25]).unwrap();
    assert_eq!(s.options_iter().count(), 1);
    // Options present are still checked.
    let mut bad = bytes.clone();
    bad[21] = 3;
    assert_eq!(
        TcpSegment::parse_truncated(&bad[..30]),
        Err(Error::BadOptionLength { kind: 2, len: 3 })
    );
    // A whole segment is not truncated.
    assert!(!TcpSegment::parse_truncated(&bytes).unwrap().is_truncated());
}

/// What one walk over the options finds for a SYN: the first of each
/// kind, as `syn_options` documents.
fn walked_syn_options(s: &TcpSegment<'_>) -> SynOptions {
    let mut o = SynOptions::default();
    for opt in s.options_iter() {
        match opt {
            TcpOption::MaxSegmentSize(m) => {
                o.mss.get_or_insert(m);
            }
            TcpOption::WindowScale(w) => {
                o.window_scale.get_or_insert(w);
            }
            TcpOption::SackPermitted => o.sack_permitted = true,
            TcpOption::Timestamps(t) => {
                o.timestamps.get_or_insert(t);
            }
            _ => {}
        }
    }
    o
}

#[test]
fn the_full_syn_layout_is_read_as_the_walk_reads_it_rfc7323_rfc2018() {
    // The layout read without a walk, and every one-byte change of it
    // (other layouts, malformed ones, other values): validation, the SYN
    // options and the timestamps agree with the walk over the options.
    let mut rng = SeededRng::new(41);
    let mut layouts = vec![LINUX_SYN_OPTIONS];
    for i in 0..LINUX_SYN_OPTIONS.len() {
        for v in [0u8, 1, 2, 3, 4, 8, 10, 0xff] {
            let mut o = LINUX_SYN_OPTIONS;
            o[i] = v;
            layouts.push(o);
        }
        let mut o = LINUX_SYN_OPTIONS;
        o[i] = rng.next_u32() as u8;
        layouts.push(o);
    }
    let mut fast = 0;
    for opts in layouts {
        let bytes = raw(0x002, &opts, &[]);
        let walked_ok = TcpOptionIter::new_cut_ok(&opts, false).all(|o| o.is_ok());
        let Ok(s) = TcpSegment::parse(&bytes) else {
            assert!(!walked_ok, "{opts:?} decode but were refused");
            continue;
        };
        assert!(walked_ok, "{opts:?} do not decode but were taken");
        let walked = walked_syn_options(&s);
        assert_eq!(s.syn_options(), walked, "{opts:?}");
        assert_eq!(s.timestamps(), walked.timestamps);
        // The read by layout itself: taken exactly where the layout is
        // the full one, and right there.
        let full = opts[..2] == [2, 4] && opts[4..8] == [4, 2, 8, 10] && opts[16..19] == [1, 3, 3];
        match options::full_syn_layout(&opts) {
            Some(o) => {
                assert!(full, "{opts:?} read by layout");
                assert_eq!(o, walked, "{opts:?}");
                fast += 1;
            }
            None => assert!(!full, "{opts:?} not read by layout"),
        }
    }
    // The layout itself and every change of a value byte (MSS, TS, WS).
    assert!(fast > 11 * 9, "only {fast} layouts took the read by layout");
}

#[test]
fn decodes_linux_syn_options_rfc9293_3_2_rfc7323_rfc2018() {
    let bytes = raw(0x002, &LINUX_SYN_OPTIONS, &[]);
    let s = TcpSegment::parse_verified(&bytes, A, B).unwrap();
    assert_eq!(s.header_len(), 40);
    assert_eq!(s.options(), &LINUX_SYN_OPTIONS);
    let opts: Vec<_> = s.options_iter().collect();
    assert_eq!(
        opts,
        [
            TcpOption::MaxSegmentSize(1460),
            TcpOption::SackPermitted,
            TcpOption::Timestamps(Timestamps {
                tsval: 131_517_262,
                tsecr: 0
            }),
            TcpOption::NoOperation,
            TcpOption::WindowScale(7),
        ]
    );
    assert_eq!(s.mss(), Some(1460));
    assert_eq!(s.window_scale(), Some(7));
    assert!(s.sack_permitted());
    assert_eq!(s.sack_blocks(), None);
    assert_eq!(
        s.timestamps(),
        Some(Timestamps {
            tsval: 131_517_262,
            tsecr: 0
        })
    );
    assert_eq!(s.segment_len(), 1, "SYN occupies one sequence number");
}

fn sack_option(n: u32) -> Vec<u8> {
    let mut o = vec![1, 1, 5, (2 + 8 * n) as u8];
    for i in 0..n {
        o.extend_from_slice(&(1000 * i + 100).to_be_bytes());
        o.extend_from_slice(&(1000 * i + 600).to_be_bytes());
    }
    o
}

#[test]
fn decodes_one_to_four_sack_blocks_rfc2018_3() {
    for n in 1..=4u32 {
        let bytes = raw(0x010, &sack_option(n), &[]);
        let s = TcpSegment::parse(&bytes).unwrap();
        let blocks = s.sack_blocks().unwrap();
        assert_eq!(blocks.len(), n as usize);
        for (i, b) in blocks.iter().enumerate() {
            let i = i as u32;
            assert_eq!(b.left, SeqNumber(1000 * i + 100));
            assert_eq!(b.right, SeqNumber(1000 * i + 600));
        }
        assert_eq!(s.to_repr().sack_blocks, blocks);
    }
}

#[test]
fn rejects_sack_lengths_not_two_plus_eight_n_rfc2018_3() {
    for len in [2u8, 3, 9, 11, 17, 19, 25, 33] {
        let mut o = vec![5, len];
        o.resize(36, 0);
        let bytes = raw(0x010, &o, &[]);
        assert_eq!(
            TcpSegment::parse(&bytes),
            Err(Error::BadOptionLength { kind: 5, len }),
            "len {len}"
        );
    }
}

#[test]
fn rejects_wrong_length_for_fixed_length_options() {
    // MSS is 4 (RFC 9293 §3.2), WS 3 and TS 10 (RFC 7323 §2.2, §3.2),
    // SACK-permitted 2 (RFC 2018 §2).
    for (kind, len) in [
        (2u8, 2u8),
        (2, 3),
        (2, 5),
        (3, 2),
        (3, 4),
        (4, 3),
        (4, 4),
        (8, 8),
        (8, 9),
        (8, 11),
    ] {
        let mut o = vec![kind, len];
        o.resize(12, 0);
        let bytes = raw(0x002, &o, &[]);
        assert_eq!(
            TcpSegment::parse(&bytes),
            Err(Error::BadOptionLength { kind, len }),
            "kind {kind} len {len}"
        );
    }
}

#[test]
fn rejects_option_length_below_two_instead_of_looping_rfc9293_3_2() {
    for len in [0u8, 1] {
        for kind in [2u8, 99, 254] {
            let bytes = raw(0x010, &[kind, len, 0, 0], &[]);
            assert_eq!(
                TcpSegment::parse(&bytes),
                Err(Error::BadOptionLength { kind, len })
            );
        }
    }
}

#[test]
fn rejects_option_running_past_the_header_rfc9293_3_2() {
    // A length byte that reaches beyond the options area.
    let bytes = raw(0x010, &[1, 1, 99, 8], &[0xaa; 8]);
    assert_eq!(
        TcpSegment::parse(&bytes),
        Err(Error::TruncatedOption { kind: 99 })
    );
    // A kind byte with no room for its length byte.
    let bytes = raw(0x010, &[1, 1, 1, 2], &[4, 0]);
    assert_eq!(
        TcpSegment::parse(&bytes),
        Err(Error::TruncatedOption { kind: 2 })
    );
}

#[test]
fn skips_unknown_options_by_their_length_rfc9293_3_2() {
    let o = [99, 6, 0xde, 0xad, 0xbe, 0xef, 2, 4, 0x02, 0x18, 1, 1];
    let bytes = raw(0x002, &o, &[]);
    let s = TcpSegment::parse(&bytes).unwrap();
    let opts: Vec<_> = s.options_iter().collect();
    assert_eq!(
        opts[0],
        TcpOption::Unknown {
            kind: 99,
            data: &[0xde, 0xad, 0xbe, 0xef]
        }
    );
    assert_eq!(opts[0].kind(), 99);
    assert_eq!(s.mss(), Some(536));
}

#[test]
fn recognises_fast_open_mptcp_and_accurate_ecn() {
    let o = [
        34, 10, 1, 2, 3, 4, 5, 6, 7, 8, // TFO cookie (RFC 7413 §4.1.1)
        34, 2, // TFO cookie request
        30, 4, 0x00, 0x81, // MP_CAPABLE v1 (RFC 8684 §3.1)
        172, 5, 0, 0, 1, // AccECN0 with one counter
        1, 1, 0, // NOP NOP EOL
    ];
    let bytes = raw(0x002, &o, &[]);
    let s = TcpSegment::parse(&bytes).unwrap();
    let opts: Vec<_> = s.options_iter().collect();
    assert_eq!(opts[0], TcpOption::FastOpen(&[1, 2, 3, 4, 5, 6, 7, 8]));
    assert_eq!(opts[1], TcpOption::FastOpen(&[]));
    assert_eq!(opts[2], TcpOption::Mptcp(&[0x00, 0x81]));
    assert_eq!(
        opts[3],
        TcpOption::AccEcn {
            kind: 172,
            data: &[0, 0, 1]
        }
    );
    assert_eq!(
        opts.iter().map(TcpOption::kind).collect::<Vec<_>>(),
        [34, 34, 30, 172, 1, 1, 0]
    );
}

#[test]
fn end_of_list_ends_the_options_and_what_follows_is_padding_rfc9293_3_2() {
    // Bytes after EOL would be a malformed MSS; they are not examined.
    let bytes = raw(0x002, &[1, 0, 2, 3, 0xff, 0xff, 0xff, 0xff], &[]);
    let s = TcpSegment::parse(&bytes).unwrap();
    let opts: Vec<_> = s.options_iter().collect();
    assert_eq!(opts, [TcpOption::NoOperation, TcpOption::EndOfList]);
    assert_eq!(s.mss(), None);
}

#[test]
fn to_repr_takes_the_first_of_repeated_options() {
    let o = [2, 4, 0, 100, 2, 4, 0, 200, 1, 3, 3, 1, 1, 3, 3, 2];
    let bytes = raw(0x002, &o, &[]);
    let s = TcpSegment::parse(&bytes).unwrap();
    assert_eq!(s.mss(), Some(100));
    let r = s.to_repr();
    assert_eq!(r.max_seg_size, Some(100));
    assert_eq!(r.window_scale, Some(1));
}

#[test]
fn window_scale_above_fourteen_is_reported_as_sent_rfc7323_2_3() {
    let bytes = raw(0x002, &[1, 3, 3, 15], &[]);
    let s = TcpSegment::parse(&bytes).unwrap();
    assert_eq!(s.window_scale(), Some(15));
}

#[test]
fn segment_length_counts_syn_and_fin_rfc9293_3_4() {
    assert_eq!(
        TcpSegment::parse(&raw(0x003, &[], b"ab"))
            .unwrap()
            .segment_len(),
        4
    );
    assert_eq!(
        TcpSegment::parse(&raw(0x011, &[], b"ab"))
            .unwrap()
            .segment_len(),
        3
    );
    assert_eq!(
        TcpSegment::parse(&raw(0x010, &[], &[]))
            .unwrap()
            .segment_len(),
        0
    );
    let repr = TcpRepr {
        flags: TcpFlags::SYN | TcpFlags::FIN,
        ..TcpRepr::default()
    };
    assert_eq!(repr.segment_len(10), 12);
}

#[test]
fn detects_any_corrupted_byte_through_checksum_rfc9293_3_1() {
    let bytes = raw(0x018, &LINUX_SYN_OPTIONS, b"payload!");
    assert!(TcpSegment::parse(&bytes).unwrap().checksum_ok(A, B));
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x01;
        if let Ok(s) = TcpSegment::parse(&bad) {
            assert!(!s.checksum_ok(A, B), "byte {i}");
            assert_eq!(
                TcpSegment::parse_verified(&bad, A, B),
                Err(Error::BadChecksum)
            );
        }
    }
    // The pseudo-header covers the addresses.
    let s = TcpSegment::parse(&bytes).unwrap();
    assert!(!s.checksum_ok(A, Ipv4Addr::new(192, 0, 2, 3)));
}

#[test]
fn checksum_of_all_ones_verifies_as_zero_does_rfc1624_3() {
    // A segment whose sum comes to all ones: its checksum may be sent as
    // 0x0000 or as 0xFFFF (one's-complement minus zero); both verify.
    let sent = [
        0xc0, 0, 0, 0x50, 1, 2, 3, 4, 0, 0, 0, 0, 0x5f, 0x88, 0xdf, 0xff, 0xff, 0xff, 0, 1, b'x',
    ];
    let s = TcpSegment::parse_verified(&sent, A, B).unwrap();
    let rebuilt = build(&s.to_repr(), s.payload());
    assert_eq!(rebuilt[16..18], [0, 0]);
    assert!(TcpSegment::parse(&rebuilt).unwrap().checksum_ok(A, B));
    assert_eq!(rebuilt[..16], sent[..16]);
    assert_eq!(rebuilt[18..], sent[18..]);
}

#[test]
fn builder_reproduces_a_hand_written_segment() {
    let bytes = raw(0x002, &LINUX_SYN_OPTIONS, &[]);
    let repr = TcpSegment::parse(&bytes).unwrap().to_repr();
    assert_eq!(build(&repr, &[]), bytes);
    let bytes = raw(0x018, &[], b"GET /");
    let repr = TcpSegment::parse(&bytes).unwrap().to_repr();
    assert_eq!(build(&repr, b"GET /"), bytes);
}

fn data_repr() -> TcpRepr {
    TcpRepr {
        src_port: 80,
        dst_port: 49152,
        seq_number: SeqNumber(u32::MAX - 2),
        ack_number: SeqNumber(7),
        flags: TcpFlags::ACK | TcpFlags::PSH,
        window_len: 501,
        ..TcpRepr::default()
    }
}

#[test]
fn builder_lays_out_timestamps_as_nop_nop_ts_rfc7323_appendix_a() {
    let repr = TcpRepr {
        timestamps: Some(Timestamps {
            tsval: 0x0102_0304,
            tsecr: 0x0506_0708,
        }),
        ..data_repr()
    };
    let b = repr.builder(A, B).unwrap();
    assert_eq!(&b.options()[..], &[1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(b.header_len(), 32);
    assert_eq!(repr.header_len(), Ok(32));
}

#[test]
fn builder_lays_out_sack_blocks_after_timestamps_rfc2018_3() {
    let mut blocks = SackBlocks::new();
    blocks
        .push(SackBlock {
            left: SeqNumber(10),
            right: SeqNumber(20),
        })
        .unwrap();
    let repr = TcpRepr {
        timestamps: Some(Timestamps { tsval: 1, tsecr: 2 }),
        sack_blocks: blocks,
        ..data_repr()
    };
    let b = repr.builder(A, B).unwrap();
    assert_eq!(
        &b.options()[..],
        &[
            1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 5, 10, 0, 0, 0, 10, 0, 0, 0, 20
        ]
    );
}

#[test]
fn builder_lays_out_syn_without_timestamps_with_nop_alignment() {
    let repr = TcpRepr {
        flags: TcpFlags::SYN,
        max_seg_size: Some(1460),
        window_scale: Some(8),
        sack_permitted: true,
        ..data_repr()
    };
    let b = repr.builder(A, B).unwrap();
    assert_eq!(&b.options()[..], &[2, 4, 5, 0xb4, 1, 3, 3, 8, 1, 1, 4, 2]);
    let repr = TcpRepr {
        flags: TcpFlags::SYN,
        max_seg_size: Some(1460),
        ..data_repr()
    };
    assert_eq!(&repr.builder(A, B).unwrap().options()[..], &[2, 4, 5, 0xb4]);
}

#[test]
fn builder_packs_options_when_nop_alignment_does_not_fit() {
    // MSS + TS + 3 SACK blocks is exactly 40 bytes packed, 44 aligned.
    let blocks = SackBlocks::from_slice(&[
        SackBlock {
            left: SeqNumber(1),
            right: SeqNumber(2),
        },
        SackBlock {
            left: SeqNumber(3),
            right: SeqNumber(4),
        },
        SackBlock {
            left: SeqNumber(5),
            right: SeqNumber(6),
        },
    ])
    .unwrap();
    let repr = TcpRepr {
        max_seg_size: Some(1400),
        timestamps: Some(Timestamps { tsval: 9, tsecr: 8 }),
        sack_blocks: blocks,
        ..data_repr()
    };
    let b = repr.builder(A, B).unwrap();
    assert_eq!(b.header_len(), 60);
    let bytes = build(&repr, b"x");
    let s = TcpSegment::parse_verified(&bytes, A, B).unwrap();
    assert!(
        !s.options_iter()
            .any(|o| matches!(o, TcpOption::NoOperation | TcpOption::EndOfList))
    );
    assert_eq!(s.to_repr(), repr);
    // WS + TS + 3 SACK blocks: 39 bytes packed, then one end-of-list.
    let repr = TcpRepr {
        window_scale: Some(2),
        timestamps: Some(Timestamps { tsval: 9, tsecr: 8 }),
        sack_blocks: blocks,
        ..data_repr()
    };
    let b = repr.builder(A, B).unwrap();
    assert_eq!(b.options().len(), 40);
    assert_eq!(b.options()[..3], [3, 3, 2]);
    assert_eq!(b.options()[39], kind::END_OF_LIST);
    let bytes = build(&repr, &[]);
    let s = TcpSegment::parse_verified(&bytes, A, B).unwrap();
    assert_eq!(s.options_iter().last(), Some(TcpOption::EndOfList));
    assert_eq!(s.to_repr(), repr);
    // Every option with two SACK blocks fits the aligned layout exactly.
    let repr = TcpRepr {
        max_seg_size: Some(1),
        sack_permitted: true,
        sack_blocks: SackBlocks::from_slice(&blocks.as_slice()[..2]).unwrap(),
        ..repr
    };
    let b = repr.builder(A, B).unwrap();
    assert_eq!(b.options().len(), 40);
    assert_eq!(b.options()[..6], [2, 4, 0, 1, 4, 2]);
    assert_eq!(
        TcpSegment::parse(&build(&repr, &[])).unwrap().to_repr(),
        repr
    );
}

#[test]
fn builder_refuses_options_beyond_forty_bytes_rfc9293_3_1() {
    let blocks = SackBlocks::from_slice(&[SackBlock::default(); 4]).unwrap();
    let repr = TcpRepr {
        timestamps: Some(Timestamps::default()),
        sack_blocks: blocks,
        ..data_repr()
    };
    assert_eq!(
        repr.builder(A, B).err(),
        Some(Error::OptionsTooLong { len: 44 })
    );
    assert_eq!(repr.header_len(), Err(Error::OptionsTooLong { len: 44 }));
}

#[test]
fn builder_writes_every_header_byte() {
    let repr = TcpRepr {
        max_seg_size: Some(1),
        window_scale: Some(0),
        ..TcpRepr::default()
    };
    for mode in [ChecksumMode::Compute, ChecksumMode::Offload] {
        let s = b"x".wrap_in(repr.builder(A, B).unwrap().checksum(mode));
        let mut dirty = [0xa5u8; 29];
        let mut clean = [0u8; 29];
        assert_eq!(s.serialize_into(&mut dirty), Ok(29));
        assert_eq!(s.serialize_into(&mut clean), Ok(29));
        assert_eq!(dirty, clean, "{mode:?}");
    }
}

#[test]
fn offload_mode_leaves_pseudo_header_sum_for_the_device() {
    let repr = data_repr();
    let b = repr.builder(A, B).unwrap().checksum(ChecksumMode::Offload);
    let mut bytes = b"abc".wrap_in(b).serialize_vec(0).unwrap().into_vec();
    assert_eq!(
        u16::from_be_bytes([bytes[16], bytes[17]]),
        checksum::ipv4_pseudo_header(A, B, IP_PROTOCOL, 23).sum()
    );
    let c = checksum::checksum(&bytes);
    bytes[16..18].copy_from_slice(&c.to_be_bytes());
    assert!(TcpSegment::parse(&bytes).unwrap().checksum_ok(A, B));
    assert_eq!(bytes, build(&repr, b"abc"));
}

#[test]
fn builder_refuses_bodies_the_pseudo_header_cannot_count() {
    let repr = data_repr();
    let body = vec![0u8; 65535 - 20 + 1];
    assert!(matches!(
        body.as_slice()
            .wrap_in(repr.builder(A, B).unwrap())
            .serialized_len(),
        Err(lamina_netbuf::Error::BodyTooLong { .. })
    ));
    let bytes = EmptyBody
        .wrap_in(repr.builder(A, B).unwrap())
        .serialize_vec(0)
        .unwrap();
    assert_eq!(bytes.len(), 20);
}

#[test]
fn sack_blocks_hold_at_most_four() {
    let mut b = SackBlocks::new();
    for i in 0..4 {
        assert!(
            b.push(SackBlock {
                left: SeqNumber(i),
                right: SeqNumber(i + 1)
            })
            .is_ok()
        );
    }
    let extra = SackBlock::default();
    assert_eq!(b.push(extra), Err(extra));
    assert_eq!(b.len(), 4);
    assert_eq!(b.option_len(), 34);
    assert!(SackBlocks::from_slice(&[extra; 5]).is_none());
    b.clear();
    assert!(b.is_empty() && b == SackBlocks::new());
}

fn random_bytes(rng: &mut SeededRng, max: u32) -> Vec<u8> {
    let mut v = vec![0u8; rng.below(max) as usize];
    rng.fill_bytes(&mut v);
    v
}

/// Bytes of the options of `r` packed with no padding, rounded up to 4.
fn packed_len(r: &TcpRepr) -> usize {
    (4 * usize::from(r.max_seg_size.is_some())
        + 3 * usize::from(r.window_scale.is_some())
        + 2 * usize::from(r.sack_permitted)
        + 10 * usize::from(r.timestamps.is_some())
        + r.sack_blocks.option_len())
    .next_multiple_of(4)
}

#[test]
fn property_build_then_parse_gives_back_the_repr() {
    let mut rng = SeededRng::new(9293);
    let mut built = 0;
    for _ in 0..5000 {
        let seed = random_bytes(&mut rng, 160);
        let mut u = Unstructured::new(&seed);
        let Ok(repr) = TcpRepr::arbitrary(&mut u) else {
            continue;
        };
        let src = Ipv4Addr::from_bits(rng.next_u32());
        let dst = Ipv4Addr::from_bits(rng.next_u32());
        let builder = match repr.builder(src, dst) {
            Ok(b) => b,
            Err(e) => {
                assert_eq!(
                    e,
                    Error::OptionsTooLong {
                        len: packed_len(&repr)
                    }
                );
                assert!(packed_len(&repr) > MAX_OPTIONS_LEN);
                continue;
            }
        };
        assert!(packed_len(&repr) <= MAX_OPTIONS_LEN);
        let payload = random_bytes(&mut rng, 300);
        let bytes = payload
            .as_slice()
            .wrap_in(builder)
            .serialize_vec(0)
            .unwrap();
        let s = TcpSegment::parse_verified(bytes.as_slice(), src, dst).unwrap();
        assert_eq!(s.to_repr(), repr);
        assert_eq!(s.payload(), payload.as_slice());
        assert_eq!(s.header_len(), builder.header_len());
        assert_eq!(s.header_len() % 4, 0);
        assert_eq!(s.mss(), repr.max_seg_size);
        assert_eq!(s.window_scale(), repr.window_scale);
        assert_eq!(s.sack_permitted(), repr.sack_permitted);
        assert_eq!(s.sack_blocks().unwrap_or_default(), repr.sack_blocks);
        assert_eq!(s.timestamps(), repr.timestamps);
        let o = s.syn_options();
        assert_eq!(
            (o.mss, o.window_scale, o.sack_permitted, o.timestamps),
            (
                repr.max_seg_size,
                repr.window_scale,
                repr.sack_permitted,
                repr.timestamps
            )
        );
        built += 1;
    }
    assert!(built > 2000, "only {built} reprs were buildable");
}

/// Exercises everything a parsed segment offers; its repr must rebuild.
fn exercise(s: &TcpSegment<'_>) {
    let _ = (s.src_port(), s.dst_port(), s.seq_number(), s.ack_number());
    let _ = (s.window_len(), s.checksum(), s.urgent_pointer(), s.flags());
    let _ = (s.mss(), s.window_scale(), s.sack_permitted());
    let _ = (s.sack_blocks(), s.timestamps(), s.segment_len());
    let o = s.syn_options();
    assert_eq!(o.mss, s.mss());
    assert_eq!(o.window_scale, s.window_scale());
    assert_eq!(o.sack_permitted, s.sack_permitted());
    assert_eq!(o.timestamps, s.timestamps());
    let _ = s.checksum_ok(A, B);
    assert!(s.options_iter().count() <= s.options().len());
    assert!(s.header_len() >= HEADER_LEN);
    let repr = s.to_repr();
    let b = repr.builder(A, B).expect("a parsed repr always fits");
    let bytes = s.payload().wrap_in(b).serialize_vec(0).unwrap();
    let again = TcpSegment::parse_verified(bytes.as_slice(), A, B).unwrap();
    assert_eq!(again.to_repr(), repr);
    assert_eq!(again.payload(), s.payload());
}

#[test]
fn property_parse_of_arbitrary_bytes_never_panics() {
    let mut rng = SeededRng::new(793);
    let valid = [
        raw(0x002, &LINUX_SYN_OPTIONS, &[]),
        raw(0x010, &sack_option(3), b"abc"),
        raw(0x018, &[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2], b"x"),
    ];
    for i in 0..30_000 {
        let bytes = if i % 3 == 0 {
            random_bytes(&mut rng, 80)
        } else {
            let mut b = valid[i % valid.len()].clone();
            for _ in 0..rng.below(4) + 1 {
                let at = rng.below(b.len() as u32) as usize;
                b[at] = rng.next_u32() as u8;
            }
            b.truncate(rng.below(b.len() as u32 + 1) as usize);
            b
        };
        for s in [
            TcpSegment::parse(&bytes),
            TcpSegment::parse_truncated(&bytes),
            TcpSegment::parse_verified(&bytes, A, B),
        ]
        .into_iter()
        .flatten()
        {
            exercise(&s);
        }
        // The raw option walker terminates within one step per byte.
        let opts = bytes.get(20..).unwrap_or(&bytes);
        assert!(TcpOptionIter::new(opts).count() <= opts.len());
    }
}

/// The checksum covers the pseudo-header, the header, the options and the
/// payload (RFC 9293 §3.1) whether the payload follows the header in one
/// buffer or lies apart (`parse_split`, a payload lent by reference), at
/// every length and parity; one changed byte anywhere is caught either
/// way, and the two views are equal.
#[test]
fn checksum_covers_header_options_and_payload_whole_or_split_rfc9293_3_1() {
    let ts = [1u8, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9];
    for options in [&[][..], &ts[..]] {
        for len in [0usize, 1, 2, 31, 32, 33, 64, 65, 1460] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let seg = raw(0x018, options, &payload);
            let hl = 20 + options.len();
            let whole = TcpSegment::parse(&seg).unwrap();
            let split = TcpSegment::parse_split(&seg[..hl], &seg[hl..]).unwrap();
            assert!(whole.checksum_ok(A, B), "{len}");
            assert!(split.checksum_ok(A, B), "{len}");
            assert_eq!(whole, split);
            for at in [0, 13, hl - 1, hl, seg.len() - 1] {
                if at >= seg.len() {
                    continue;
                }
                let mut bad = seg.clone();
                bad[at] ^= 0x40;
                let whole = TcpSegment::parse(&bad).unwrap();
                let split = TcpSegment::parse_split(&bad[..hl], &bad[hl..]).unwrap();
                assert!(!whole.checksum_ok(A, B), "{len} at {at}");
                assert!(!split.checksum_ok(A, B), "{len} at {at}");
            }
        }
    }
}
