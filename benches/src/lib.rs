//! Shared fixtures for Lamina's criterion benchmarks (see `benches/`).
//!
//! The frames are assembled byte by byte here, independently of every
//! Lamina builder, so that the parse benchmarks of Lamina and of its peers
//! read exactly the same bytes.

use lamina_netbuf::checksum;
use std::net::Ipv4Addr;

/// Deterministic pseudo-random bytes, so every run measures the same data.
pub fn test_bytes(len: usize, seed: u64) -> Vec<u8> {
    use lamina_netbuf::Rng;
    let mut rng = lamina_netbuf::SeededRng::new(seed);
    let mut v = vec![0u8; len];
    rng.fill_bytes(&mut v);
    v
}

/// Source MAC of the fixture frames.
pub const SRC_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
/// Destination MAC of the fixture frames.
pub const DST_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
/// Source address of the fixture frames.
pub const SRC_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// Destination address of the fixture frames.
pub const DST_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

fn frame(tcp_options: &[u8], flags: u8, payload: &[u8]) -> Vec<u8> {
    assert_eq!(tcp_options.len() % 4, 0);
    let tcp_len = 20 + tcp_options.len() + payload.len();
    let ip_len = 20 + tcp_len;
    let mut f = Vec::with_capacity(14 + ip_len);
    f.extend_from_slice(&DST_MAC);
    f.extend_from_slice(&SRC_MAC);
    f.extend_from_slice(&[0x08, 0x00]);
    // IPv4: version/IHL, DSCP/ECN, total length, id, DF, TTL 64, TCP.
    let ip_start = f.len();
    f.extend_from_slice(&[0x45, 0x00]);
    f.extend_from_slice(&(ip_len as u16).to_be_bytes());
    f.extend_from_slice(&[0x1c, 0x46, 0x40, 0x00, 64, 6, 0, 0]);
    f.extend_from_slice(&SRC_IP.octets());
    f.extend_from_slice(&DST_IP.octets());
    let c = checksum::checksum(&f[ip_start..ip_start + 20]);
    f[ip_start + 10..ip_start + 12].copy_from_slice(&c.to_be_bytes());
    // TCP: ports, seq, ack, data offset, flags, window, checksum, urgent.
    let tcp_start = f.len();
    f.extend_from_slice(&40000u16.to_be_bytes());
    f.extend_from_slice(&80u16.to_be_bytes());
    f.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    let ack = if flags & 0x10 != 0 { 0x9abc_def0u32 } else { 0 };
    f.extend_from_slice(&ack.to_be_bytes());
    f.push((((20 + tcp_options.len()) / 4) as u8) << 4);
    f.push(flags);
    f.extend_from_slice(&64240u16.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.extend_from_slice(tcp_options);
    f.extend_from_slice(payload);
    let mut sum = checksum::ipv4_pseudo_header(SRC_IP, DST_IP, 6, tcp_len as u16);
    sum.add_bytes(&f[tcp_start..]);
    let c = sum.finish();
    f[tcp_start + 16..tcp_start + 18].copy_from_slice(&c.to_be_bytes());
    f
}

/// A 74-byte Ethernet + IPv4 + TCP SYN with the options Linux sends: MSS
/// 1460, SACK-permitted, timestamps, NOP, window scale 7.
pub fn syn_frame() -> Vec<u8> {
    let options = [
        2, 4, 0x05, 0xb4, // MSS 1460
        4, 2, // SACK permitted
        8, 10, 0, 0, 0x10, 0x00, 0, 0, 0, 0, // timestamps
        1, // NOP
        3, 3, 7, // window scale 7
    ];
    let f = frame(&options, 0x02, &[]);
    assert_eq!(f.len(), 74);
    f
}

/// A 1514-byte Ethernet + IPv4 + TCP data segment (ACK|PSH, NOP NOP
/// timestamps, 1448 bytes of payload).
pub fn data_frame() -> Vec<u8> {
    let options = [1, 1, 8, 10, 0, 0, 0x10, 0x01, 0, 0, 0x20, 0x00];
    let f = frame(&options, 0x18, &test_bytes(1448, 1514));
    assert_eq!(f.len(), 1514);
    f
}

/// The passes over the payload that a transfer at MTU 1500 with every
/// checksum in software makes, and nothing else: no headers, no protocol.
/// The `tcp` group's `passes/bulk-1500` measures it beside the stacks'
/// bulk transfers: a stack that copies into and out of socket buffers
/// cannot move the bytes faster than this.
///
/// Per burst of up to [`Passes::BURST`] segments of [`Passes::MSS`] bytes:
/// the user's bytes copied into a send ring; each segment copied from the
/// ring into its own frame while summed; each frame summed again by the
/// receiver (verification); its payload copied into a receive ring; the
/// ring read out into the user's buffer.
pub struct Passes {
    send_ring: Vec<u8>,
    recv_ring: Vec<u8>,
    frames: Vec<Vec<u8>>,
}

impl Passes {
    /// Payload bytes per segment (MTU 1500 without TCP options).
    pub const MSS: usize = 1460;
    /// Segments per burst.
    pub const BURST: usize = 64;
    /// Where the payload starts in a frame (Ethernet, IPv4, TCP with
    /// timestamps).
    const PAYLOAD_AT: usize = 66;

    /// Rings of `ring` bytes each.
    pub fn new(ring: usize) -> Passes {
        let ring = ring.max(Self::BURST * Self::MSS);
        Passes {
            send_ring: vec![0; ring],
            recv_ring: vec![0; ring],
            frames: (0..Self::BURST)
                .map(|_| vec![0; Self::PAYLOAD_AT + Self::MSS])
                .collect(),
        }
    }

    /// Moves `data` through the passes into `out` (read in pieces of its
    /// length); returns the sum of the segments' checksums, so that no
    /// pass can be left out by the optimizer.
    pub fn run(&mut self, data: &[u8], out: &mut [u8]) -> u32 {
        let ring = self.send_ring.len();
        let mut at = 0;
        let mut acc = 0u32;
        let mut off = 0;
        while off < data.len() {
            let burst = (data.len() - off).min(Self::BURST * Self::MSS);
            if at + burst > ring {
                at = 0;
            }
            self.send_ring[at..at + burst].copy_from_slice(&data[off..off + burst]);
            for (k, frame) in self.frames.iter_mut().enumerate() {
                let start = k * Self::MSS;
                if start >= burst {
                    break;
                }
                let len = Self::MSS.min(burst - start);
                let src = &self.send_ring[at + start..at + start + len];
                let dst = &mut frame[Self::PAYLOAD_AT..Self::PAYLOAD_AT + len];
                acc = acc.wrapping_add(u32::from(checksum::copy_with_sum(dst, src)));
            }
            for (k, frame) in self.frames.iter().enumerate() {
                let start = k * Self::MSS;
                if start >= burst {
                    break;
                }
                let len = Self::MSS.min(burst - start);
                let payload = &frame[Self::PAYLOAD_AT..Self::PAYLOAD_AT + len];
                acc = acc.wrapping_add(u32::from(checksum::ones_complement_sum(payload)));
                self.recv_ring[at + start..at + start + len].copy_from_slice(payload);
            }
            let mut read = 0;
            while read < burst {
                let n = (burst - read).min(out.len());
                out[..n].copy_from_slice(&self.recv_ring[at + read..at + read + n]);
                std::hint::black_box(&mut *out);
                read += n;
            }
            at += burst;
            off += burst;
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_checksums_verify() {
        for f in [syn_frame(), data_frame()] {
            assert_eq!(checksum::checksum(&f[14..34]), 0);
            let tcp = &f[34..];
            let mut sum = checksum::ipv4_pseudo_header(SRC_IP, DST_IP, 6, tcp.len() as u16);
            sum.add_bytes(tcp);
            assert_eq!(sum.finish(), 0);
        }
    }

    #[test]
    fn the_passes_carry_every_byte() {
        let burst = Passes::BURST * Passes::MSS;
        let data = test_bytes(2 * burst + 5000, 3);
        let mut out = vec![0u8; burst];
        // Rings of one burst: every burst wraps to the start.
        let mut p = Passes::new(burst);
        let got = p.run(&data, &mut out);
        // Each segment summed twice, sender and receiver.
        let mut want = 0u32;
        for b in data.chunks(burst) {
            for seg in b.chunks(Passes::MSS) {
                want = want.wrapping_add(2 * u32::from(checksum::ones_complement_sum(seg)));
            }
        }
        assert_eq!(got, want);
        // The last read holds the last burst.
        assert_eq!(&out[..5000], &data[2 * burst..]);
        assert_eq!(&p.recv_ring[..5000], &data[2 * burst..]);
    }
}
