//! The packet-hook trait: where a packet filter (`lamina-filter`) sees
//! and judges every datagram, at the five points of Linux's netfilter.
//!
//! ```text
//!  receive ──► PreRouting ──► routing ──► Forward ──► PostRouting ──► transmit
//!                               │                        ▲
//!                               ▼                        │
//!                             Input ──► local ──► Output ┘
//! ```
//!
//! # Calling protocol
//!
//! The `Interface` of `lamina-socket` calls [`PacketHook::hook`] with the
//! IPv4 datagram (from its header to its total length, no link header)
//! at each point it passes:
//!
//! - [`PreRouting`](HookPoint::PreRouting): every datagram received, after
//!   header validation and before the routing decision (and before
//!   reassembly, so a filter sees fragments); `input` is set.
//! - [`Input`](HookPoint::Input): a datagram for this host, after
//!   reassembly, before delivery to a socket; `input` is set.
//! - [`Forward`](HookPoint::Forward): a datagram being forwarded, after
//!   the TTL decrement; `input` and `output` are set.
//! - [`Output`](HookPoint::Output): a datagram this host originates,
//!   after routing, before fragmentation; `output` is the device it
//!   leaves by, `None` when it is for this host (looped back).
//! - [`PostRouting`](HookPoint::PostRouting): every datagram leaving,
//!   forwarded or local, before fragmentation, after `Forward` or
//!   `Output` (for one looped back too, then with `output` `None`);
//!   `output` as at `Output`, routed again if destination NAT at `Output`
//!   changed the destination.
//!
//! The hook may rewrite the bytes in place (NAT rewrites addresses and
//! ports and fixes the checksums, incrementally); their length is fixed.
//! After an [`Accept`](Verdict::Accept) at `PreRouting` or `Output` the
//! caller reads the destination again, as destination NAT may have
//! changed it, before routing. [`Drop`](Verdict::Drop) discards the
//! datagram (counted, no ICMP error); [`Stolen`](Verdict::Stolen) means
//! the hook took care of it (copied it away to reinject it later, or
//! answered it itself) and the caller forgets it without counting a
//! drop; [`Queue(n)`](Verdict::Queue) asks the caller to hand a copy to
//! queue `n` (a user-space inspector, as `NFQUEUE`) and forget it.
//!
//! [`NoHooks`] accepts everything; the `Interface` is generic over its
//! hook and uses `NoHooks` by default, so that, once monomorphised, the
//! calls compile to nothing.
//!
//! ```
//! use core::net::Ipv4Addr;
//! use lamina_ipv4::hook::{HookPoint, NoHooks, PacketHook, Verdict};
//! use lamina_ipv4::{IfaceId, Ipv4Header};
//! use lamina_netbuf::Instant;
//!
//! /// Drops everything forwarded to 198.51.100.0/24.
//! struct Blackhole;
//! impl PacketHook for Blackhole {
//!     fn hook(&mut self, at: HookPoint, packet: &mut [u8], _in: Option<IfaceId>, _out: Option<IfaceId>, _now: Instant) -> Verdict {
//!         match Ipv4Header::peek(packet) {
//!             Ok(h) if at == HookPoint::Forward && h.dst().octets()[..3] == [198, 51, 100] => Verdict::Drop,
//!             _ => Verdict::Accept,
//!         }
//!     }
//! }
//!
//! let mut pkt = [0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 9];
//! let now = Instant::ZERO;
//! assert_eq!(Blackhole.hook(HookPoint::Forward, &mut pkt, Some(IfaceId(0)), Some(IfaceId(1)), now), Verdict::Drop);
//! assert_eq!(NoHooks.hook(HookPoint::Forward, &mut pkt, None, None, now), Verdict::Accept);
//! ```

use lamina_netbuf::Instant;

use crate::route::IfaceId;

/// Where in the datagram's path a hook is called (netfilter's hooks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HookPoint {
    /// Received, before routing.
    PreRouting,
    /// For this host, before delivery.
    Input,
    /// Being forwarded.
    Forward,
    /// Originated here, after routing.
    Output,
    /// Leaving, before fragmentation and transmission.
    PostRouting,
}

impl HookPoint {
    /// Every hook point, in the order a forwarded datagram meets them
    /// (`Input` and `Output` belong to local traffic).
    pub const ALL: [HookPoint; 5] = [
        HookPoint::PreRouting,
        HookPoint::Input,
        HookPoint::Forward,
        HookPoint::Output,
        HookPoint::PostRouting,
    ];
}

/// A hook's judgement; see the [module docs](self) for what the caller
/// does with each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Carry on.
    Accept,
    /// Discard.
    Drop,
    /// The hook has taken care of the datagram: forget it.
    Stolen,
    /// Hand a copy to queue `n`, then forget it.
    Queue(u16),
}

/// Something that inspects, rewrites and judges datagrams at the hook
/// points; see the [module docs](self) for the calling protocol.
pub trait PacketHook {
    /// Whether this hook accepts every packet without looking at it (as
    /// [`NoHooks`] does). A stack may then skip calling it and take fast
    /// paths that commit a packet before the hooks would have run (such as
    /// writing a reply straight into a device's transmit buffer). Leave it
    /// `false` for any hook that inspects packets.
    const ACCEPTS_ALL: bool = false;

    /// Judges `packet` (an IPv4 datagram, which may be rewritten in
    /// place) at `point`, received on `input` and leaving through
    /// `output` where known, at `now`.
    fn hook(
        &mut self,
        point: HookPoint,
        packet: &mut [u8],
        input: Option<IfaceId>,
        output: Option<IfaceId>,
        now: Instant,
    ) -> Verdict;

    /// [`hook`](Self::hook) at [`PreRouting`](HookPoint::PreRouting) for a
    /// datagram received on `input`, with what its device checked:
    /// `l4_verified` when the device verified the transport checksum
    /// (TCP, UDP or ICMP) and found it right. A hook that trusts only
    /// intact datagrams (connection tracking does) verifies the checksum
    /// itself otherwise; the default ignores the flag.
    #[inline]
    fn hook_received(
        &mut self,
        packet: &mut [u8],
        input: IfaceId,
        l4_verified: bool,
        now: Instant,
    ) -> Verdict {
        let _ = l4_verified;
        self.hook(HookPoint::PreRouting, packet, Some(input), None, now)
    }

    /// A datagram the hook wants to send itself (such as the ICMP
    /// unreachable or TCP RST of a `reject` rule): the hook writes a
    /// complete IPv4 datagram (header with a correct checksum, and
    /// payload) into `buf` and returns its length, or `None` when it has
    /// nothing (left) to send. The caller routes it as a locally
    /// originated datagram without passing it through the hooks again, and
    /// keeps calling until `None` (bounded by its own budget), after every
    /// hook call that returned [`Verdict::Stolen`] or [`Verdict::Drop`] and
    /// on each poll. A datagram longer than `buf` must be dropped by the
    /// hook. The default sends nothing.
    #[inline]
    fn next_injected(&mut self, buf: &mut [u8], now: Instant) -> Option<usize> {
        let _ = (buf, now);
        None
    }
}

/// Accepts everything: the default hook, costing nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NoHooks;

impl PacketHook for NoHooks {
    const ACCEPTS_ALL: bool = true;

    #[inline(always)]
    fn hook(
        &mut self,
        _: HookPoint,
        _: &mut [u8],
        _: Option<IfaceId>,
        _: Option<IfaceId>,
        _: Instant,
    ) -> Verdict {
        Verdict::Accept
    }
}

impl<H: PacketHook + ?Sized> PacketHook for &mut H {
    const ACCEPTS_ALL: bool = H::ACCEPTS_ALL;

    #[inline]
    fn hook(
        &mut self,
        point: HookPoint,
        packet: &mut [u8],
        input: Option<IfaceId>,
        output: Option<IfaceId>,
        now: Instant,
    ) -> Verdict {
        (**self).hook(point, packet, input, output, now)
    }

    #[inline]
    fn hook_received(
        &mut self,
        packet: &mut [u8],
        input: IfaceId,
        l4_verified: bool,
        now: Instant,
    ) -> Verdict {
        (**self).hook_received(packet, input, l4_verified, now)
    }

    #[inline]
    fn next_injected(&mut self, buf: &mut [u8], now: Instant) -> Option<usize> {
        (**self).next_injected(buf, now)
    }
}

/// Two hooks in a row: the second sees the datagram only if the first
/// accepts it (and sees its rewrites).
impl<A: PacketHook, B: PacketHook> PacketHook for (A, B) {
    const ACCEPTS_ALL: bool = A::ACCEPTS_ALL && B::ACCEPTS_ALL;

    #[inline]
    fn hook(
        &mut self,
        point: HookPoint,
        packet: &mut [u8],
        input: Option<IfaceId>,
        output: Option<IfaceId>,
        now: Instant,
    ) -> Verdict {
        match self.0.hook(point, packet, input, output, now) {
            Verdict::Accept => self.1.hook(point, packet, input, output, now),
            other => other,
        }
    }

    #[inline]
    fn hook_received(
        &mut self,
        packet: &mut [u8],
        input: IfaceId,
        l4_verified: bool,
        now: Instant,
    ) -> Verdict {
        match self.0.hook_received(packet, input, l4_verified, now) {
            Verdict::Accept => self.1.hook_received(packet, input, l4_verified, now),
            other => other,
        }
    }

    #[inline]
    fn next_injected(&mut self, buf: &mut [u8], now: Instant) -> Option<usize> {
        self.0
            .next_injected(buf, now)
            .or_else(|| self.1.next_injected(buf, now))
    }
}

/// An optional hook: `None` accepts everything.
impl<H: PacketHook> PacketHook for Option<H> {
    const ACCEPTS_ALL: bool = H::ACCEPTS_ALL;

    #[inline]
    fn hook(
        &mut self,
        point: HookPoint,
        packet: &mut [u8],
        input: Option<IfaceId>,
        output: Option<IfaceId>,
        now: Instant,
    ) -> Verdict {
        match self {
            Some(h) => h.hook(point, packet, input, output, now),
            None => Verdict::Accept,
        }
    }

    #[inline]
    fn hook_received(
        &mut self,
        packet: &mut [u8],
        input: IfaceId,
        l4_verified: bool,
        now: Instant,
    ) -> Verdict {
        match self {
            Some(h) => h.hook_received(packet, input, l4_verified, now),
            None => Verdict::Accept,
        }
    }

    #[inline]
    fn next_injected(&mut self, buf: &mut [u8], now: Instant) -> Option<usize> {
        self.as_mut().and_then(|h| h.next_injected(buf, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// Records where it was called and rewrites the TTL at `Forward`.
    #[derive(Default)]
    struct Recorder {
        seen: Vec<(HookPoint, Option<IfaceId>, Option<IfaceId>)>,
        verdict: Option<Verdict>,
    }

    impl PacketHook for Recorder {
        fn hook(
            &mut self,
            point: HookPoint,
            packet: &mut [u8],
            input: Option<IfaceId>,
            output: Option<IfaceId>,
            _: Instant,
        ) -> Verdict {
            self.seen.push((point, input, output));
            if point == HookPoint::Forward
                && let Some(ttl) = packet.get_mut(8)
            {
                *ttl = 1;
            }
            self.verdict.unwrap_or(Verdict::Accept)
        }
    }

    #[test]
    fn no_hooks_accepts_at_every_point() {
        let mut pkt = [0u8; 20];
        for p in HookPoint::ALL {
            assert_eq!(
                NoHooks.hook(p, &mut pkt, None, None, Instant::ZERO),
                Verdict::Accept
            );
        }
        assert_eq!(core::mem::size_of::<NoHooks>(), 0);
    }

    #[test]
    fn hooks_may_rewrite_the_datagram_in_place() {
        let mut r = Recorder::default();
        let mut pkt = [64u8; 20];
        r.hook(
            HookPoint::Forward,
            &mut pkt,
            Some(IfaceId(0)),
            Some(IfaceId(1)),
            Instant::ZERO,
        );
        assert_eq!(pkt[8], 1);
        assert_eq!(
            r.seen,
            [(HookPoint::Forward, Some(IfaceId(0)), Some(IfaceId(1)))]
        );
    }

    #[test]
    fn a_pair_stops_at_the_first_verdict_other_than_accept() {
        let mut pkt = [0u8; 20];
        let mut pair = (
            Recorder {
                verdict: Some(Verdict::Queue(3)),
                ..Recorder::default()
            },
            Recorder::default(),
        );
        assert_eq!(
            pair.hook(HookPoint::Input, &mut pkt, None, None, Instant::ZERO),
            Verdict::Queue(3)
        );
        assert!(pair.1.seen.is_empty());
        // Through `&mut H`, as a caller that lends its hook does.
        fn run(mut h: impl PacketHook, pkt: &mut [u8]) -> Verdict {
            h.hook(HookPoint::Output, pkt, None, None, Instant::ZERO)
        }
        let mut pair = (NoHooks, Recorder::default());
        assert_eq!(run(&mut pair, &mut pkt), Verdict::Accept);
        assert_eq!(pair.1.seen.len(), 1);
        let mut none: Option<Recorder> = None;
        assert_eq!(
            none.hook(HookPoint::Output, &mut pkt, None, None, Instant::ZERO),
            Verdict::Accept
        );
    }
}
