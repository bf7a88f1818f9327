//! Keyed hashing for the stack's secrets: SipHash-2-4, the keyed hash
//! that IP identifiers (RFC 6864), TCP initial sequence numbers
//! (RFC 6528), SYN cookies and ephemeral ports (RFC 6056) are drawn from,
//! so that an off-path observer cannot predict them.
//!
//! ```
//! use lamina_netbuf::hash::siphash24;
//!
//! let key = [0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908];
//! let msg: Vec<u8> = (0..15).collect();
//! assert_eq!(siphash24(key, &msg), 0xa129_ca61_49be_45e5);
//! ```

/// SipHash-2-4 (Aumasson and Bernstein, 2012) of `msg` under the
/// 128-bit `key` (two little-endian halves).
pub fn siphash24(key: [u64; 2], msg: &[u8]) -> u64 {
    #[inline(always)]
    fn round(v: &mut [u64; 4]) {
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17) ^ v[2];
        v[2] = v[2].rotate_left(32);
    }
    let [k0, k1] = key;
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    let compress = |v: &mut [u64; 4], m: u64| {
        v[3] ^= m;
        round(v);
        round(v);
        v[0] ^= m;
    };
    let (blocks, tail) = msg.as_chunks::<8>();
    for b in blocks {
        compress(&mut v, u64::from_le_bytes(*b));
    }
    let mut last = [0u8; 8];
    if let Some(dst) = last.get_mut(..tail.len()) {
        dst.copy_from_slice(tail);
    }
    let last = u64::from_le_bytes(last) | ((msg.len() as u64 & 0xff) << 56);
    compress(&mut v, last);
    v[2] ^= 0xff;
    for _ in 0..4 {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siphash_matches_the_reference_vector() {
        // The paper's Appendix A: key 00..0f, message 00..0e.
        let key = [
            u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]),
            u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]),
        ];
        let msg: std::vec::Vec<u8> = (0..15).collect();
        assert_eq!(siphash24(key, &msg), 0xa129_ca61_49be_45e5);
    }
}
