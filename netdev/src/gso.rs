//! Software TCP segmentation: what a device with TCP segmentation offload
//! ([`Capabilities::tso`](crate::Capabilities::tso)) does to a large
//! TCP/IPv4 frame the stack hands it ([`TxMeta::tso_mss`](crate::TxMeta::tso_mss)), for devices
//! that do it in software (the in-memory wires with
//! [`LinkConfig::tso`](crate::LinkConfig::tso)) and drivers of hardware
//! without it.
//!
//! Each piece repeats the link, IPv4 and TCP headers (options included)
//! and carries the next `mss` bytes of payload; its IPv4 total length,
//! identification (incremented per piece) and header checksum, and its
//! TCP sequence number are its own; PSH and FIN stay on the last piece
//! only (as Linux's `tcp_gso_segment` and the virtio-net specification
//! do). The TCP checksum field of each piece is filled as the frame
//! asked: left partial (the piece's pseudo-header sum, for a receiver
//! that trusts offloaded checksums) or computed in full.
//!
//! ```
//! use lamina_netdev::gso::{segment_tcp_ipv4, TcpChecksum};
//!
//! // Ethernet + IPv4 + TCP (20-byte header) + 2500 bytes of payload.
//! let mut frame = vec![0u8; 14 + 20 + 20 + 2500];
//! frame[12..14].copy_from_slice(&[0x08, 0x00]);
//! frame[14] = 0x45;
//! frame[16..18].copy_from_slice(&((20 + 20 + 2500) as u16).to_be_bytes());
//! frame[14 + 9] = 6;
//! frame[34 + 12] = 5 << 4;
//! frame[34 + 13] = 0x18; // ACK | PSH
//! let mut pieces = Vec::new();
//! let n = segment_tcp_ipv4(&frame, 14, 1000, TcpChecksum::Full, &mut Vec::new(), |p| {
//!     pieces.push(p.to_vec())
//! })
//! .unwrap();
//! assert_eq!(n, 3);
//! assert_eq!(pieces.iter().map(|p| p.len()).collect::<Vec<_>>(), [1054, 1054, 554]);
//! assert_eq!(pieces[0][34 + 13], 0x10, "PSH on the last piece only");
//! assert_eq!(pieces[2][34 + 13], 0x18);
//! ```

use alloc::vec::Vec;

use lamina_netbuf::checksum::{self, Checksum};

/// How [`segment_tcp_ipv4`] fills each piece's TCP checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpChecksum {
    /// The folded, uncomplemented pseudo-header sum (with the piece's
    /// length), as offloaded checksums leave it: for a receiver told the
    /// checksum is verified, or a device that completes it.
    Partial,
    /// The complete checksum.
    Full,
}

/// Why a frame could not be segmented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GsoError {
    /// The frame is not a well-formed TCP/IPv4 frame at the offset given
    /// (too short, not version 4, not TCP, a fragment, lengths
    /// inconsistent).
    #[error("not a well-formed TCP/IPv4 frame")]
    NotTcpIpv4,
    /// A segment size of zero.
    #[error("segment size of zero")]
    ZeroMss,
}

/// Cuts `frame`, a TCP/IPv4 frame whose IPv4 header starts at `l3`, into
/// frames of at most `mss` payload bytes each (see the module
/// documentation), calling `emit` with each in order; returns how many.
/// `scratch` is working space (reused across calls). A frame whose payload
/// fits in one piece is emitted as it is, its checksums filled the same
/// way. Bytes after the IPv4 packet (link padding) are not copied.
pub fn segment_tcp_ipv4<F: FnMut(&[u8])>(
    frame: &[u8],
    l3: usize,
    mss: usize,
    tcp_checksum: TcpChecksum,
    scratch: &mut Vec<u8>,
    mut emit: F,
) -> Result<usize, GsoError> {
    if mss == 0 {
        return Err(GsoError::ZeroMss);
    }
    let ip = frame.get(l3..).ok_or(GsoError::NotTcpIpv4)?;
    let (&vihl, _) = ip.split_first().ok_or(GsoError::NotTcpIpv4)?;
    let ihl = usize::from(vihl & 0x0f) * 4;
    // Not a fragment (MF clear, offset zero): only whole packets are cut.
    let fragment = ip.get(6..8).is_none_or(|f| f[0] & 0x3f != 0 || f[1] != 0);
    if vihl >> 4 != 4 || ihl < 20 || ip.get(9) != Some(&6) || fragment {
        return Err(GsoError::NotTcpIpv4);
    }
    let total = ip
        .get(2..4)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        .ok_or(GsoError::NotTcpIpv4)?;
    let l4 = l3 + ihl;
    let thl = frame
        .get(l4 + 12)
        .map(|b| usize::from(b >> 4) * 4)
        .ok_or(GsoError::NotTcpIpv4)?;
    let headers = l4 + thl;
    let end = l3 + total;
    if thl < 20 || total < ihl + thl || end > frame.len() {
        return Err(GsoError::NotTcpIpv4);
    }
    let (head, rest) = frame.split_at(headers);
    let payload = rest.get(..end - headers).ok_or(GsoError::NotTcpIpv4)?;
    let src = [ip[12], ip[13], ip[14], ip[15]];
    let dst = [ip[16], ip[17], ip[18], ip[19]];
    let id = u16::from_be_bytes([ip[4], ip[5]]);
    let seq = frame
        .get(l4 + 4..l4 + 8)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or(GsoError::NotTcpIpv4)?;
    let flags = frame.get(l4 + 13).copied().ok_or(GsoError::NotTcpIpv4)?;
    let count = payload.len().div_ceil(mss).max(1);
    let mut chunks = payload.chunks(mss);
    for i in 0..count {
        let chunk = chunks.next().unwrap_or(&[]);
        let last = i + 1 == count;
        scratch.clear();
        scratch.extend_from_slice(head);
        scratch.extend_from_slice(chunk);
        let piece = scratch.as_mut_slice();
        let ip_len = (ihl + thl + chunk.len()) as u16;
        piece[l3 + 2..l3 + 4].copy_from_slice(&ip_len.to_be_bytes());
        piece[l3 + 4..l3 + 6].copy_from_slice(&id.wrapping_add(i as u16).to_be_bytes());
        piece[l3 + 10..l3 + 12].copy_from_slice(&[0, 0]);
        let ip_sum = checksum::checksum(&piece[l3..l4]);
        piece[l3 + 10..l3 + 12].copy_from_slice(&ip_sum.to_be_bytes());
        let piece_seq = seq.wrapping_add((i * mss) as u32);
        piece[l4 + 4..l4 + 8].copy_from_slice(&piece_seq.to_be_bytes());
        // PSH (0x08) and FIN (0x01) end the batch: the last piece's only.
        piece[l4 + 13] = if last { flags } else { flags & !0x09 };
        let tcp_len = (thl + chunk.len()) as u16;
        let mut sum = Checksum::new();
        sum.add_bytes(&src);
        sum.add_bytes(&dst);
        sum.add_u16(6);
        sum.add_u16(tcp_len);
        let field = match tcp_checksum {
            TcpChecksum::Partial => sum.sum(),
            TcpChecksum::Full => {
                piece[l4 + 16..l4 + 18].copy_from_slice(&[0, 0]);
                sum.add_bytes(&piece[l4..]);
                sum.finish()
            }
        };
        piece[l4 + 16..l4 + 18].copy_from_slice(&field.to_be_bytes());
        emit(piece);
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// A TCP/IPv4 frame with a 12-byte option area and `payload`.
    fn frame(payload: &[u8], flags: u8) -> Vec<u8> {
        let thl = 32;
        let mut f = vec![0u8; 14 + 20 + thl];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        let total = (20 + thl + payload.len()) as u16;
        f[16..18].copy_from_slice(&total.to_be_bytes());
        f[18..20].copy_from_slice(&0xfffeu16.to_be_bytes());
        f[22] = 64;
        f[23] = 6;
        f[26..30].copy_from_slice(&[192, 0, 2, 1]);
        f[30..34].copy_from_slice(&[192, 0, 2, 2]);
        f[34..36].copy_from_slice(&1234u16.to_be_bytes());
        f[36..38].copy_from_slice(&80u16.to_be_bytes());
        f[38..42].copy_from_slice(&0xffff_f000u32.to_be_bytes());
        f[46] = ((thl / 4) as u8) << 4;
        f[47] = flags;
        f[54..66].copy_from_slice(&[1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9]);
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn pieces_carry_the_stream_with_their_own_headers() {
        let payload: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let f = frame(&payload, 0x19); // ACK | PSH | FIN
        let mut pieces = Vec::new();
        let n = segment_tcp_ipv4(&f, 14, 1448, TcpChecksum::Full, &mut Vec::new(), |p| {
            pieces.push(p.to_vec())
        })
        .unwrap();
        assert_eq!(n, 4);
        let mut stream = Vec::new();
        for (i, p) in pieces.iter().enumerate() {
            let last = i == 3;
            assert_eq!(p[..14], f[..14], "link header repeated");
            assert_eq!(checksum::checksum(&p[14..34]), 0, "IPv4 checksum");
            assert_eq!(u16::from_be_bytes([p[16], p[17]]) as usize, p.len() - 14);
            assert_eq!(
                u16::from_be_bytes([p[18], p[19]]),
                0xfffeu16.wrapping_add(i as u16)
            );
            let seq = u32::from_be_bytes([p[38], p[39], p[40], p[41]]);
            assert_eq!(seq, 0xffff_f000u32.wrapping_add(1448 * i as u32), "wraps");
            assert_eq!(p[47], if last { 0x19 } else { 0x10 });
            assert_eq!(p[54..66], f[54..66], "options repeated");
            let mut sum = Checksum::new();
            sum.add_bytes(&[192, 0, 2, 1, 192, 0, 2, 2]);
            sum.add_u16(6);
            sum.add_u16((p.len() - 34) as u16);
            sum.add_bytes(&p[34..]);
            assert_eq!(sum.finish(), 0, "TCP checksum of piece {i}");
            assert!(last || p.len() - 66 == 1448);
            stream.extend_from_slice(&p[66..]);
        }
        assert_eq!(stream, payload);
    }

    #[test]
    fn partial_checksums_hold_each_pieces_pseudo_header() {
        let f = frame(&[7u8; 3000], 0x10);
        let mut fields = Vec::new();
        segment_tcp_ipv4(&f, 14, 2000, TcpChecksum::Partial, &mut Vec::new(), |p| {
            fields.push((u16::from_be_bytes([p[50], p[51]]), p.len() - 34))
        })
        .unwrap();
        for (field, tcp_len) in fields {
            let mut sum = Checksum::new();
            sum.add_bytes(&[192, 0, 2, 1, 192, 0, 2, 2]);
            sum.add_u16(6);
            sum.add_u16(tcp_len as u16);
            assert_eq!(field, sum.sum());
        }
    }

    #[test]
    fn small_and_malformed_frames() {
        let f = frame(&[1, 2, 3], 0x18);
        let mut pieces = Vec::new();
        let n = segment_tcp_ipv4(&f, 14, 1448, TcpChecksum::Full, &mut Vec::new(), |p| {
            pieces.push(p.to_vec())
        });
        assert_eq!(n, Ok(1));
        assert_eq!(pieces[0].len(), f.len());
        assert_eq!(pieces[0][47], 0x18);
        let empty = frame(&[], 0x11);
        assert_eq!(
            segment_tcp_ipv4(&empty, 14, 1448, TcpChecksum::Full, &mut Vec::new(), |_| {}),
            Ok(1),
            "a bare FIN is one piece"
        );
        let mut scratch = Vec::new();
        assert_eq!(
            segment_tcp_ipv4(&f, 14, 0, TcpChecksum::Full, &mut scratch, |_| {}),
            Err(GsoError::ZeroMss)
        );
        for cut in 0..f.len() - 3 {
            assert_eq!(
                segment_tcp_ipv4(&f[..cut], 14, 1448, TcpChecksum::Full, &mut scratch, |_| {}),
                Err(GsoError::NotTcpIpv4),
                "cut at {cut}"
            );
        }
        let mut fragment = f.clone();
        fragment[20] = 0x20; // MF
        assert_eq!(
            segment_tcp_ipv4(&fragment, 14, 1448, TcpChecksum::Full, &mut scratch, |_| {}),
            Err(GsoError::NotTcpIpv4)
        );
        let mut udp = f.clone();
        udp[23] = 17;
        assert_eq!(
            segment_tcp_ipv4(&udp, 14, 1448, TcpChecksum::Full, &mut scratch, |_| {}),
            Err(GsoError::NotTcpIpv4)
        );
    }
}
