use super::*;
use crate::rng::{Rng, SeededRng};
use alloc::vec::Vec;

fn random_bytes(rng: &mut SeededRng, len: usize) -> Vec<u8> {
    let mut v = alloc::vec![0u8; len];
    rng.fill_bytes(&mut v);
    v
}

/// Lengths that hit every kernel boundary: empty, odd, just under and over
/// each vector width and unroll step, and large enough to span blocks.
const LENGTHS: &[usize] = &[
    0, 1, 2, 3, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 1499, 1500, 1514,
    4095, 9000, 65535, 65536,
];

#[test]
fn every_kernel_matches_the_rfc1071_reference_at_every_alignment() {
    let mut rng = SeededRng::new(0x1071);
    for &len in LENGTHS {
        let backing = random_bytes(&mut rng, len + 64);
        for offset in 0..33 {
            let data = &backing[offset..offset + len];
            let want = kernels::reference(data);
            assert_eq!(
                kernels::scalar(data),
                want,
                "scalar len {len} offset {offset}"
            );
            #[cfg(target_arch = "x86_64")]
            {
                assert_eq!(kernels::sse2(data), want, "sse2 len {len} offset {offset}");
                if let Some(got) = kernels::avx2(data) {
                    assert_eq!(got, want, "avx2 len {len} offset {offset}");
                }
            }
            assert_eq!(
                ones_complement_sum(data),
                want,
                "dispatch len {len} offset {offset}"
            );
        }
    }
}

#[test]
fn kernels_match_reference_on_random_lengths() {
    let mut rng = SeededRng::new(7);
    for _ in 0..2000 {
        let len = rng.below(3000) as usize;
        let off = rng.below(64) as usize;
        let backing = random_bytes(&mut rng, len + off);
        let data = &backing[off..];
        assert_eq!(
            ones_complement_sum(data),
            kernels::reference(data),
            "len {len}"
        );
    }
}

#[test]
fn all_ones_data_does_not_overflow_the_lanes() {
    // 0xff bytes maximise every lane; 4 MiB spans several blocks.
    let data = alloc::vec![0xffu8; 4 * 1024 * 1024 + 77];
    assert_eq!(ones_complement_sum(&data), kernels::reference(&data));
    #[cfg(target_arch = "x86_64")]
    {
        assert_eq!(kernels::sse2(&data), kernels::reference(&data));
        if let Some(got) = kernels::avx2(&data) {
            assert_eq!(got, kernels::reference(&data));
        }
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
        assert_eq!(fold_equal(updated, checksum(&data)), true);

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
