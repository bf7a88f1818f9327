//! The portable kernel: 32-bit words accumulated into a 64-bit sum.

/// Unfolded sum of `data` as native-endian 16-bit words, an odd final byte
/// padded with zero.
///
/// Summing 32-bit words is equivalent modulo 0xffff (2^16 ≡ 1), and 2^32
/// additions of 32-bit values cannot overflow the 64-bit accumulator, so no
/// carry handling is needed inside the loop. Four accumulators keep the
/// adds independent.
#[inline]
pub(super) fn native_sum(data: &[u8]) -> u64 {
    let mut acc = [0u64; 4];
    let mut blocks = data.chunks_exact(16);
    for b in &mut blocks {
        for (lane, a) in acc.iter_mut().enumerate() {
            let w = [
                b[lane * 4],
                b[lane * 4 + 1],
                b[lane * 4 + 2],
                b[lane * 4 + 3],
            ];
            *a += u64::from(u32::from_ne_bytes(w));
        }
    }
    let sum = acc[0] + acc[1] + acc[2] + acc[3];
    sum + tail_sum(blocks.remainder())
}

/// Sum of fewer than 16 bytes (any length works, it is only slower).
#[inline]
pub(super) fn tail_sum(rest: &[u8]) -> u64 {
    let mut sum = 0u64;
    let mut words = rest.chunks_exact(2);
    for w in &mut words {
        sum += u64::from(u16::from_ne_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        sum += u64::from(u16::from_ne_bytes([*last, 0]));
    }
    sum
}
