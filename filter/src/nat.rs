//! Rewriting addresses, ports and ICMP identifiers in place, with every
//! checksum fixed by incremental update (RFC 1624): the IPv4 header
//! checksum, the TCP and UDP checksums through their pseudo-header (a
//! zero UDP checksum, "none", stays zero, and a computed zero is sent as
//! `0xffff`, RFC 768), and the ICMP checksum, which covers a quoted
//! datagram rewritten inside an ICMP error.

use core::net::Ipv4Addr;

use lamina_netbuf::checksum::{update_u16, update_u32};

use crate::packet::{ECHO_REPLY, ECHO_REQUEST, ICMP, L4, Parsed, TCP, Tuple, UDP, be16, be32};

/// Which end of a datagram a rewrite changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Src,
    Dst,
}

/// How a checksum field treats zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Always present (IP, TCP, ICMP).
    Plain,
    /// UDP: zero means "no checksum" and stays zero; a computed zero is
    /// written as `0xffff`.
    Udp,
}

/// Writes 16-bit words, keeping the checksum at `outer` (the ICMP
/// checksum of an error whose quote is rewritten) right.
struct Patcher<'a> {
    buf: &'a mut [u8],
    outer: Option<usize>,
}

impl Patcher<'_> {
    fn write16(&mut self, off: usize, new: u16) -> Option<()> {
        let old = be16(self.buf, off)?;
        if old == new {
            return Some(());
        }
        self.buf
            .get_mut(off..off + 2)?
            .copy_from_slice(&new.to_be_bytes());
        if let Some(c) = self.outer
            && let Some(oc) = be16(self.buf, c)
        {
            let nc = update_u16(oc, old, new);
            self.buf
                .get_mut(c..c + 2)?
                .copy_from_slice(&nc.to_be_bytes());
        }
        Some(())
    }

    fn fix(&mut self, csum: usize, kind: Kind, f: impl Fn(u16) -> u16) {
        let Some(old) = be16(self.buf, csum) else {
            return;
        };
        if kind == Kind::Udp && old == 0 {
            return;
        }
        let mut new = f(old);
        if kind == Kind::Udp && new == 0 {
            new = 0xffff;
        }
        let _ = self.write16(csum, new);
    }

    fn set32(&mut self, off: usize, new: u32, csums: &[(usize, Kind)]) {
        let Some(old) = be32(self.buf, off) else {
            return;
        };
        if old == new {
            return;
        }
        let _ = self.write16(off, (new >> 16) as u16);
        let _ = self.write16(off + 2, new as u16);
        for &(c, k) in csums {
            self.fix(c, k, |v| update_u32(v, old, new));
        }
    }

    fn set16(&mut self, off: usize, new: u16, csums: &[(usize, Kind)]) {
        let Some(old) = be16(self.buf, off) else {
            return;
        };
        if old == new {
            return;
        }
        let _ = self.write16(off, new);
        for &(c, k) in csums {
            self.fix(c, k, |v| update_u16(v, old, new));
        }
    }

    /// Rewrites one end of the datagram whose IPv4 header is at `ip`
    /// (`ihl` long, carrying `proto`, the ICMP type `icmp_ty` when ICMP).
    #[allow(clippy::too_many_arguments)]
    fn rewrite(
        &mut self,
        ip: usize,
        ihl: usize,
        proto: u8,
        icmp_ty: Option<u8>,
        side: Side,
        addr: Ipv4Addr,
        port: u16,
    ) {
        let l4 = ip + ihl;
        let (addr_off, port_off) = match side {
            Side::Src => (ip + 12, l4),
            Side::Dst => (ip + 16, l4 + 2),
        };
        let ip_csum = (ip + 10, Kind::Plain);
        match proto {
            TCP => {
                let c = (l4 + 16, Kind::Plain);
                self.set32(addr_off, u32::from(addr), &[ip_csum, c]);
                self.set16(port_off, port, &[c]);
            }
            UDP => {
                let c = (l4 + 6, Kind::Udp);
                self.set32(addr_off, u32::from(addr), &[ip_csum, c]);
                self.set16(port_off, port, &[c]);
            }
            ICMP => {
                self.set32(addr_off, u32::from(addr), &[ip_csum]);
                // The identifier is the requester's port (see `Tuple`).
                let id_side = match icmp_ty {
                    Some(ECHO_REQUEST) => Some(Side::Src),
                    Some(ECHO_REPLY) => Some(Side::Dst),
                    _ => None,
                };
                if id_side == Some(side) {
                    self.set16(l4 + 4, port, &[(l4 + 2, Kind::Plain)]);
                    // RFC 1624 §3: the incremental update gives +0 where
                    // the message has become all zeros (an echo reply
                    // with no data, identifier and sequence number 0),
                    // whose checksum computed afresh is -0. (No pseudo
                    // header: ICMP alone can be all zeros.)
                    if self
                        .buf
                        .get(l4..)
                        .is_some_and(|m| m.iter().all(|&b| b == 0))
                    {
                        let _ = self.write16(l4 + 2, 0xffff);
                    }
                }
            }
            _ => self.set32(addr_off, u32::from(addr), &[ip_csum]),
        }
    }
}

/// Rewrites the `side` end of `pkt` (parsed as `p`) to `addr`:`port`; for
/// an ICMP error, the quoted datagram's opposite end too (it travelled the
/// other way). Ports are ignored where the protocol has none.
pub(crate) fn rewrite(pkt: &mut [u8], p: &Parsed, side: Side, addr: Ipv4Addr, port: u16) {
    let icmp_ty = match p.l4 {
        L4::IcmpEcho { ty, .. } | L4::IcmpError { ty, .. } | L4::IcmpOther { ty, .. } => Some(ty),
        _ => None,
    };
    let mut w = Patcher {
        buf: pkt,
        outer: None,
    };
    if let L4::IcmpError { inner, .. } = p.l4 {
        // Outer address only; then the quote, under the ICMP checksum.
        let off = if side == Side::Src { 12 } else { 16 };
        w.set32(off, u32::from(addr), &[(10, Kind::Plain)]);
        w.outer = Some(p.ihl + 2);
        let inner_ty = if inner.tuple.proto == ICMP {
            w.buf.get(inner.ip_off + inner.ihl).copied()
        } else {
            None
        };
        let inner_side = if side == Side::Src {
            Side::Dst
        } else {
            Side::Src
        };
        w.rewrite(
            inner.ip_off,
            inner.ihl,
            inner.tuple.proto,
            inner_ty,
            inner_side,
            addr,
            port,
        );
        return;
    }
    if p.l4 == L4::None {
        // No transport header (a later fragment, whose first fragment
        // carries the checksum, or a protocol without ports): the
        // address only.
        let off = if side == Side::Src { 12 } else { 16 };
        w.set32(off, u32::from(addr), &[(10, Kind::Plain)]);
        return;
    }
    w.rewrite(0, p.ihl, p.proto, icmp_ty, side, addr, port);
}

/// Makes the `side` end of `pkt` match `target`'s (its `src`/`sport` for
/// [`Side::Src`], `dst`/`dport` for [`Side::Dst`]); whether it changed.
pub(crate) fn apply(pkt: &mut [u8], p: &Parsed, side: Side, target: &Tuple) -> bool {
    let (addr, port, cur_addr) = match side {
        Side::Src => (target.src, target.sport, p.src),
        Side::Dst => (target.dst, target.dport, p.dst),
    };
    // An ICMP error's quote has the other end (it travelled the other
    // way), compared too: the error's own address may already be the
    // target (the router's error about a datagram it translated, sent
    // from the translated address) while its quote still differs.
    let (cur_port, quoted) = match p.l4 {
        L4::IcmpError { inner, .. } => match side {
            Side::Src => (inner.tuple.dport, inner.tuple.dst),
            Side::Dst => (inner.tuple.sport, inner.tuple.src),
        },
        _ => (
            match (p.tuple(), side) {
                (Some(t), Side::Src) => t.sport,
                (Some(t), Side::Dst) => t.dport,
                (None, _) => port,
            },
            addr,
        ),
    };
    if addr == cur_addr && port == cur_port && addr == quoted {
        return false;
    }
    rewrite(pkt, p, side, addr, port);
    true
}
