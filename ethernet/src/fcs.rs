//! The Ethernet frame check sequence: CRC-32 as IEEE 802.3 §3.2.9 defines
//! it (generator 0x04C11DB7, bit-reflected, initial value and final XOR
//! all ones; the "CRC-32/ISO-HDLC" of the CRC catalogues, the same CRC as
//! zlib's).
//!
//! The FCS travels in the four bytes after the frame's data, least
//! significant byte first: `crc32(frame).to_le_bytes()`. A CRC-32 run over
//! a frame *and* its correct FCS always gives [`RESIDUE`].
//!
//! The implementation is slicing-by-8: eight 256-entry tables built at
//! compile time, eight bytes folded per step.
//!
//! ```
//! use lamina_ethernet::fcs::{crc32, Crc32, RESIDUE};
//!
//! assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
//! let mut c = Crc32::new();
//! c.update(b"1234");
//! c.update(b"56789");
//! assert_eq!(c.finish(), 0xcbf4_3926);
//!
//! let mut frame = b"any frame bytes".to_vec();
//! frame.extend_from_slice(&crc32(&frame).to_le_bytes());
//! assert_eq!(crc32(&frame), RESIDUE);
//! ```

/// The generator polynomial 0x04C11DB7 with its bits reversed, as the
/// reflected algorithm uses it.
const POLY_REFLECTED: u32 = 0xedb8_8320;

/// The CRC-32 of any byte string followed by its own FCS (little-endian).
pub const RESIDUE: u32 = 0x2144_df1c;

/// Slicing-by-8 tables: `TABLES[0]` is the classic byte-at-a-time table;
/// `TABLES[k][b]` is the CRC contribution of byte `b` followed by `k` zero
/// bytes.
static TABLES: [[u32; 256]; 8] = make_tables();

const fn make_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ POLY_REFLECTED
            } else {
                c >> 1
            };
            bit += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        k += 1;
    }
    t
}

/// A running CRC-32 over bytes fed in pieces (header, body, padding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crc32 {
    /// The CRC register, not yet complemented.
    state: u32,
}

impl Default for Crc32 {
    fn default() -> Crc32 {
        Crc32::new()
    }
}

impl Crc32 {
    /// A CRC over no bytes yet.
    #[inline]
    pub const fn new() -> Crc32 {
        Crc32 { state: !0 }
    }

    /// Feeds `bytes`.
    #[inline]
    pub fn update(&mut self, bytes: &[u8]) {
        let t = &TABLES;
        let mut crc = self.state;
        let (blocks, rest) = bytes.as_chunks::<8>();
        for b in blocks {
            let lo = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) ^ crc;
            let hi = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
            crc = t[7][(lo & 0xff) as usize]
                ^ t[6][((lo >> 8) & 0xff) as usize]
                ^ t[5][((lo >> 16) & 0xff) as usize]
                ^ t[4][(lo >> 24) as usize]
                ^ t[3][(hi & 0xff) as usize]
                ^ t[2][((hi >> 8) & 0xff) as usize]
                ^ t[1][((hi >> 16) & 0xff) as usize]
                ^ t[0][(hi >> 24) as usize];
        }
        for &b in rest {
            crc = (crc >> 8) ^ t[0][((crc ^ u32::from(b)) & 0xff) as usize];
        }
        self.state = crc;
    }

    /// The CRC of everything fed so far (the value whose little-endian
    /// bytes form the FCS). The CRC can be fed more afterwards.
    #[inline]
    pub const fn finish(&self) -> u32 {
        !self.state
    }
}

/// The CRC-32 of `bytes`.
#[inline]
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = Crc32::new();
    c.update(bytes);
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lamina_netbuf::{Rng, SeededRng};

    /// The textbook bit-at-a-time definition, to check the tables against.
    fn bitwise(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                let mask = (crc & 1).wrapping_neg();
                crc = (crc >> 1) ^ (POLY_REFLECTED & mask);
            }
        }
        !crc
    }

    /// Check values of CRC-32/ISO-HDLC (the IEEE 802.3 CRC) from the CRC
    /// catalogue and common test suites.
    #[test]
    fn matches_published_ieee_802_3_crc32_vectors() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"a"), 0xe8b7_be43);
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414f_a339
        );
        assert_eq!(crc32(&[0u8; 32]), 0x190a_55ad);
        assert_eq!(crc32(&[0xffu8; 32]), 0xff6c_ab0b);
    }

    #[test]
    fn table_matches_the_standard_first_entries() {
        assert_eq!(TABLES[0][1], 0x7707_3096);
        assert_eq!(TABLES[0][128], POLY_REFLECTED);
        assert_eq!(TABLES[0][255], 0x2d02_ef8d);
    }

    #[test]
    fn slicing_by_8_agrees_with_bitwise_at_every_length_and_split() {
        let mut rng = SeededRng::new(0x8023);
        let mut data = [0u8; 300];
        rng.fill_bytes(&mut data);
        for len in 0..data.len() {
            let d = &data[..len];
            let want = bitwise(d);
            assert_eq!(crc32(d), want, "len {len}");
            let cut = rng.below(len as u32 + 1) as usize;
            let mut c = Crc32::new();
            c.update(&d[..cut]);
            c.update(&d[cut..]);
            assert_eq!(c.finish(), want, "len {len} split at {cut}");
        }
    }

    /// IEEE 802.3 §3.2.9: a receiver running the CRC over data and FCS
    /// finds a fixed remainder when the frame is intact.
    #[test]
    fn data_followed_by_its_fcs_gives_the_residue() {
        let mut rng = SeededRng::new(7);
        for len in [0usize, 1, 14, 59, 60, 1514] {
            let mut frame = alloc::vec![0u8; len];
            rng.fill_bytes(&mut frame);
            let fcs = crc32(&frame);
            frame.extend_from_slice(&fcs.to_le_bytes());
            assert_eq!(crc32(&frame), RESIDUE);
            frame[len / 2] ^= 0x10;
            assert_ne!(crc32(&frame), RESIDUE);
        }
    }
}
