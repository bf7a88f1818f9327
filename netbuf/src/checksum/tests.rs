use super::*;
use crate::rng::{Rng, SeededRng};
use alloc::vec::Vec;

fn random_bytes(rng: &mut SeededRng, len: usize) -> Vec<u8> {
    let mut v = alloc::vec![0u8; len];
    rng.fill_bytes(&mut v);
    v
}

/// Lengths that hit every kernel boundary: empty, odd, just under and over
/// each vector width (16, 32, 64) and unroll step (64, 128, 256), the
/// scalar/vector threshold (32) and the scalar unroll threshold (64), and
/// packet sizes.
const LENGTHS: &[usize] = &[
    0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 20, 30, 31, 32, 33, 34, 47, 48, 63, 64, 65, 66, 95, 96, 97,
    127, 128, 129, 191, 192, 193, 255, 256, 257, 319, 320, 321, 511, 512, 513, 1023, 1024, 1025,
    1499, 1500, 1514, 4095, 9000, 65535, 65536,
];

/// Asserts that every kernel this CPU can run, and the dispatching entry
/// point, give the reference sum of `data`; returns how many kernels ran.
fn assert_every_kernel_agrees(data: &[u8], what: &str) -> usize {
    let want = kernels::reference(data);
    assert_eq!(kernels::scalar(data), want, "scalar {what}");
    assert_eq!(ones_complement_sum(data), want, "dispatch {what}");
    assert_copies_agree(data, want, what);
    #[allow(unused_mut)]
    let mut ran = 2;
    #[cfg(target_arch = "x86_64")]
    {
        assert_eq!(kernels::sse2(data), want, "sse2 {what}");
        ran += 1;
        if let Some(got) = kernels::avx2(data) {
            assert_eq!(got, want, "avx2 {what}");
            ran += 1;
        }
        if let Some(got) = kernels::avx512(data) {
            assert_eq!(got, want, "avx512 {what}");
            ran += 1;
        }
    }
    ran
}

/// Asserts that every copying kernel this CPU can run, and
/// [`copy_with_sum`], copy `data` exactly (into destinations at several
/// alignments, odd and even, the bytes around them untouched) and give
/// `want`, its reference sum.
fn assert_copies_agree(data: &[u8], want: u16, what: &str) {
    // 42: a UDP payload in a frame; the kernels align their stores to the
    // destination's 32- or 64-byte boundaries, through heads of every
    // length.
    for lead in [1 + data.len() % 61, 2, 42, 63, 64] {
        assert_copies_agree_at(data, want, what, lead);
    }
}

/// [`assert_copies_agree`] into a destination `lead` bytes into a
/// 64-byte-aligned buffer.
fn assert_copies_agree_at(data: &[u8], want: u16, what: &str, lead: usize) {
    // Guard bytes before and after the destination catch a store past
    // either end (the masked tails of the vector kernels).
    let run = |copy: &mut dyn FnMut(&mut [u8]) -> Option<u16>, kernel: &str| {
        let len = lead + data.len() + 67;
        let mut buffer = alloc::vec![0xa5u8; len + 64];
        let start = buffer.as_ptr().align_offset(64);
        let backing = &mut buffer[start..start + len];
        let Some(got) = copy(&mut backing[lead..lead + data.len()]) else {
            return;
        };
        assert_eq!(got, want, "{kernel} copy sum {what}");
        assert_eq!(
            &backing[lead..lead + data.len()],
            data,
            "{kernel} copy {what}"
        );
        assert!(
            backing[..lead].iter().all(|&b| b == 0xa5)
                && backing[lead + data.len()..].iter().all(|&b| b == 0xa5),
            "{kernel} wrote outside the destination, {what}"
        );
    };
    run(&mut |d| Some(copy_with_sum(d, data)), "dispatch");
    #[cfg(target_arch = "x86_64")]
    {
        run(&mut |d| kernels::avx2_copy(d, data), "avx2");
        run(&mut |d| kernels::avx512_copy(d, data), "avx512");
    }
}

#[test]
fn copy_with_sum_copies_the_shorter_length() {
    let src = [1u8, 2, 3, 4, 5];
    let mut dst = [0u8; 3];
    assert_eq!(
        copy_with_sum(&mut dst, &src),
        ones_complement_sum(&src[..3])
    );
    assert_eq!(dst, [1, 2, 3]);
    let mut long = [9u8; 8];
    assert_eq!(copy_with_sum(&mut long, &src), ones_complement_sum(&src));
    assert_eq!(long, [1, 2, 3, 4, 5, 9, 9, 9]);
    #[cfg(target_arch = "x86_64")]
    assert_eq!(kernels::avx2_copy(&mut long, &src), None, "lengths differ");
}

#[test]
fn every_kernel_matches_the_rfc1071_reference_at_every_alignment() {
    // RFC 1071 §2: the sum is independent of how the words are grouped,
    // so every kernel must agree with the one-word-at-a-time reference,
    // whatever the length and however the data sits in memory.
    let mut rng = SeededRng::new(0x1071);
    for &len in LENGTHS {
        let backing = random_bytes(&mut rng, len + 64);
        for offset in 0..65 {
            let data = &backing[offset..offset + len];
            assert_every_kernel_agrees(data, &alloc::format!("len {len} offset {offset}"));
        }
    }
}

#[test]
fn every_kernel_matches_the_reference_on_random_lengths_and_offsets() {
    let mut rng = SeededRng::new(7);
    for _ in 0..3000 {
        let len = rng.below(3000) as usize;
        let off = rng.below(64) as usize;
        let backing = random_bytes(&mut rng, len + off);
        let data = &backing[off..];
        assert_every_kernel_agrees(data, &alloc::format!("len {len} offset {off}"));
    }
}

#[test]
fn every_kernel_handles_all_zero_and_all_one_bytes() {
    // 0xff maximises every lane and accumulator; zeros give the all-zero
    // sum, which must stay 0x0000 (not 0xffff).
    for len in [31, 32, 33, 64, 65, 1500, 4097] {
        for byte in [0x00, 0xff] {
            let data = alloc::vec![byte; len];
            assert_every_kernel_agrees(&data, &alloc::format!("len {len} byte {byte:#x}"));
        }
        assert_eq!(ones_complement_sum(&alloc::vec![0u8; len]), 0);
    }
}

#[test]
fn all_ones_data_does_not_overflow_the_lanes_across_blocks() {
    // 0xff bytes maximise every lane. 33 MiB spans more than two blocks of
    // every kernel (SSE2 1 MiB, AVX2 2 MiB, AVX-512 4 MiB, scalar 16 MiB),
    // and the odd tail exercises each ragged-end path after them.
    let data = alloc::vec![0xffu8; 33 * 1024 * 1024 + 77];
    let ran = assert_every_kernel_agrees(&data, "33 MiB of 0xff");
    assert!(ran >= 2);
    // Random data across block boundaries too.
    let mut rng = SeededRng::new(0xb10c);
    let data = random_bytes(&mut rng, 9 * 1024 * 1024 + 33);
    assert_every_kernel_agrees(&data, "9 MiB random");
}

#[test]
fn fold_keeps_the_sum_modulo_0xffff_and_only_zero_folds_to_zero() {
    // RFC 1071 §2(C): end-around carry; every fold is congruent modulo
    // 0xffff and lies in 0..=0xffff, with 0 reserved for a zero sum.
    fn slow_fold(acc: u64) -> u16 {
        match acc {
            0 => 0,
            _ => match (acc % 0xffff) as u16 {
                0 => 0xffff,
                r => r,
            },
        }
    }
    let mut rng = SeededRng::new(0xf01d);
    let edges = [
        0,
        1,
        0xfffe,
        0xffff,
        0x1_0000,
        0x1_fffe,
        0xffff_ffff,
        0x1_0000_0000,
        0xffff_ffff_0000_0000,
        u64::MAX - 1,
        u64::MAX,
    ];
    for acc in edges.into_iter().chain((0..10_000).map(|_| {
        let hi = u64::from(rng.next_u32());
        let lo = u64::from(rng.next_u32());
        (hi << 32 | lo) >> rng.below(64)
    })) {
        assert_eq!(fold(acc), slow_fold(acc), "fold({acc:#x})");
    }
}

#[test]
fn end_around_addition_preserves_the_sum_modulo_0xffff() {
    let cases = [
        (u64::MAX, 1),
        (u64::MAX, u64::MAX),
        (1 << 63, 1 << 63),
        (5, 7),
    ];
    for (a, b) in cases {
        let s = scalar::add_end_around(a, b);
        let want = ((u128::from(a) + u128::from(b)) % 0xffff) as u64;
        assert_eq!(s % 0xffff, want, "{a:#x} + {b:#x}");
    }
}

#[test]
fn rfc1071_worked_example() {
    // RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
    let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
    assert_eq!(ones_complement_sum(&data), 0xddf2);
    assert_eq!(checksum(&data), !0xddf2);
}

#[test]
fn data_with_its_checksum_verifies_to_zero() {
    let mut rng = SeededRng::new(99);
    for _ in 0..500 {
        let len = 2 + 2 * rng.below(800) as usize;
        let mut data = random_bytes(&mut rng, len);
        let at = 2 * rng.below((len / 2) as u32) as usize;
        data[at] = 0;
        data[at + 1] = 0;
        let c = checksum(&data);
        data[at..at + 2].copy_from_slice(&c.to_be_bytes());
        assert_eq!(checksum(&data), 0);
    }
}

#[test]
fn piecewise_sums_equal_the_whole_at_any_split() {
    let mut rng = SeededRng::new(5);
    for _ in 0..300 {
        let len = rng.below(400) as usize;
        let data = random_bytes(&mut rng, len);
        let mut c = Checksum::new();
        let mut rest = &data[..];
        while !rest.is_empty() {
            let n = 1 + rng.below(rest.len() as u32) as usize;
            c.add_bytes(&rest[..n]);
            rest = &rest[n..];
        }
        assert_eq!(c.sum(), kernels::reference(&data));

        let split = rng.below(len as u32 + 1) as usize;
        let mut a = Checksum::new();
        a.add_bytes(&data[..split]);
        let mut b = Checksum::new();
        b.add_bytes(&data[split..]);
        a.add_checksum(b);
        assert_eq!(a.sum(), kernels::reference(&data));
    }
}

/// `add_u32` adds the word whole at an even offset: the sum and the
/// checksum must be those of its four bytes, whatever came before
/// (including nothing, zero words, and words that carry at 16 and 32 bits).
#[test]
fn a_32_bit_field_sums_as_its_bytes() {
    let mut rng = SeededRng::new(32);
    let edge = [
        0,
        1,
        0xffff,
        0x1_0000,
        0xffff_0000,
        0xffff_ffff,
        0x8000_8000,
    ];
    for round in 0..2000 {
        let prefix = random_bytes(&mut rng, (round % 9) * 2);
        let words: Vec<u32> = (0..(round % 5) + 1)
            .map(|i| match (round + i) % 3 {
                0 => edge[(round + i) % edge.len()],
                _ => rng.next_u64() as u32,
            })
            .collect();
        let mut fields = Checksum::new();
        let mut bytes = Checksum::new();
        let mut all = prefix.clone();
        fields.add_bytes(&prefix);
        bytes.add_bytes(&prefix);
        for w in &words {
            fields.add_u32(*w);
            bytes.add_bytes(&w.to_be_bytes());
            all.extend_from_slice(&w.to_be_bytes());
        }
        assert_eq!(fields.sum(), bytes.sum(), "{prefix:x?} {words:x?}");
        assert_eq!(fields.sum(), kernels::reference(&all));
        assert_eq!(fields.finish(), bytes.finish());
    }
}

#[test]
fn fields_at_odd_offsets_are_added_in_stream_order() {
    let mut c = Checksum::new();
    c.add_bytes(&[0xab]);
    c.add_u16(0x1234);
    c.add_u32(0xdead_beef);
    assert_eq!(
        c.sum(),
        kernels::reference(&[0xab, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef])
    );
}

#[test]
fn rfc1624_incremental_update_equals_full_recomputation() {
    let mut rng = SeededRng::new(1624);
    for _ in 0..2000 {
        let len = 4 + 2 * rng.below(60) as usize;
        let mut data = random_bytes(&mut rng, len);
        data[0] = 0;
        data[1] = 0;
        let c = checksum(&data);
        data[..2].copy_from_slice(&c.to_be_bytes());

        // A 16-bit field.
        let at = 2 + 2 * rng.below(((len - 2) / 2) as u32) as usize;
        let old = u16::from_be_bytes([data[at], data[at + 1]]);
        let new = rng.next_u32() as u16;
        data[at..at + 2].copy_from_slice(&new.to_be_bytes());
        let updated = update_u16(c, old, new);
        data[..2].copy_from_slice(&updated.to_be_bytes());
        assert_eq!(checksum(&data), 0, "u16 update must verify");
        data[..2].copy_from_slice(&[0, 0]);
        assert!(fold_equal(updated, checksum(&data)));

        // A 32-bit field.
        if len >= 8 {
            data[..2].copy_from_slice(&updated.to_be_bytes());
            let at = 2 + 2 * rng.below(((len - 6) / 2) as u32) as usize;
            let old = u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
            let new = rng.next_u32();
            data[at..at + 4].copy_from_slice(&new.to_be_bytes());
            let u2 = update_u32(updated, old, new);
            data[..2].copy_from_slice(&u2.to_be_bytes());
            assert_eq!(checksum(&data), 0, "u32 update must verify");
            data[..2].copy_from_slice(&[0, 0]);
            assert!(fold_equal(u2, checksum(&data)));
        }
    }
}

#[test]
fn update_bytes_matches_recomputation_and_rejects_length_mismatch() {
    let mut rng = SeededRng::new(11);
    let mut data = random_bytes(&mut rng, 40);
    data[10] = 0;
    data[11] = 0;
    let c = checksum(&data);
    let old: Vec<u8> = data[20..28].to_vec();
    let new = random_bytes(&mut rng, 8);
    data[20..28].copy_from_slice(&new);
    let updated = update_bytes(c, &old, &new).unwrap();
    assert!(fold_equal(updated, checksum(&data)));
    assert_eq!(update_bytes(c, &old, &new[..4]), None);
}

#[test]
fn ipv4_pseudo_header_matches_the_spelled_out_bytes() {
    let src = Ipv4Addr::new(192, 0, 2, 1);
    let dst = Ipv4Addr::new(198, 51, 100, 7);
    let bytes = [192, 0, 2, 1, 198, 51, 100, 7, 0, 6, 0x05, 0xdc];
    assert_eq!(
        ipv4_pseudo_header(src, dst, 6, 1500).sum(),
        kernels::reference(&bytes)
    );
}

/// One's-complement arithmetic has two zeros (0x0000 and 0xffff); an
/// incremental update may legitimately produce either where a full
/// recomputation produces the other (RFC 1624 §3).
fn fold_equal(a: u16, b: u16) -> bool {
    a == b || (a == 0xffff && b == 0) || (a == 0 && b == 0xffff)
}

/// `header20` is `ones_complement_sum` for 20-byte input (summed
/// unrolled) and for any other length (passed on).
#[test]
fn header20_agrees_with_the_general_sum() {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for len in [0usize, 1, 19, 20, 20, 20, 21, 40, 60] {
        for _ in 0..500 {
            let data: std::vec::Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            assert_eq!(header20(&data), ones_complement_sum(&data), "{data:?}");
        }
    }
    assert_eq!(header20(&[0xff; 20]), 0xffff);
    assert_eq!(header20(&[0; 20]), 0);
}
