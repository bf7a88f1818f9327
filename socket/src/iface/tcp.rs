//! The interface's TCP glue: demultiplexing received segments to
//! connections and listeners, answering the rest with resets, and
//! sending what the TCP sockets produce.

use alloc::boxed::Box;
use core::net::{Ipv4Addr, SocketAddrV4};

use lamina_ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr};
use lamina_netbuf::serialize::EmptyBody;
use lamina_netbuf::{Instant, Serializer};
use lamina_tcp::{
    ChecksumMode, Connection, ListenerVerdict, Outgoing, State, TcpRepr, TcpSegment, reset_for,
};

use super::{Interface, LISTENER_BATCH, hooks_are_noop};
use crate::tcp::Inner;
use crate::{Error, SocketSet};
use lamina_ipv4::hook::PacketHook;
use lamina_netdev::{ChecksumProto, ChecksumSet};

/// IPv4 and TCP headers without options: what the MSS leaves out of the
/// MTU (RFC 9293 §3.7.1).
const IP_TCP_HEADERS: usize = 40;

/// A segment of a connection as the body of an IPv4 datagram: written
/// straight from the connection's send buffer into the packet, checksum
/// included.
struct SegmentBody<'a, 'b> {
    out: &'b Outgoing<'a>,
    /// `out.len()`, computed once (each layer around the body asks).
    len: usize,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    mode: ChecksumMode,
}

impl Serializer for SegmentBody<'_, '_> {
    fn serialized_len(&self) -> Result<usize, lamina_netbuf::Error> {
        Ok(self.len)
    }

    fn serialize_exact(&self, out: &mut [u8]) {
        self.out.write(self.src, self.dst, out, self.mode);
    }
}

impl<H: PacketHook> Interface<H> {
    /// The MSS limit towards `dst`: the route's MTU (or the device's)
    /// less the IPv4 and TCP headers.
    fn tcp_mss_limit(&mut self, dst: Ipv4Addr) -> u16 {
        let mtu = match self.route_to(dst) {
            Some(hit) => {
                let dev = self.ports.get(hit.port).map_or(1500, |p| p.mtu);
                hit.mtu.map_or(dev, |m| dev.min(usize::from(m)))
            }
            None => self.ports.first().map_or(1500, |p| p.mtu),
        };
        u16::try_from(mtu.saturating_sub(IP_TCP_HEADERS)).unwrap_or(u16::MAX)
    }

    /// Sends a bare TCP segment (RST, SYN-ACK, ACK) from `src` to `dst`.
    fn send_tcp_repr(
        &mut self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        repr: &TcpRepr,
        now: Instant,
        sockets: &mut SocketSet,
    ) -> Result<(), Error> {
        let builder = repr.builder(src, dst).map_err(|_| Error::TooLong)?;
        let mut ip = Ipv4Repr::new(src, dst, IpProtocol::TCP);
        ip.ttl = self.config.ttl;
        ip.dont_fragment = true;
        self.stats.tcp_out += 1;
        self.send_ip(ip, EmptyBody.wrap_in(builder), now, sockets)
    }

    /// A TCP segment for one of our addresses.
    pub(super) fn tcp_input(
        &mut self,
        ip: &Ipv4Packet<'_>,
        bcast: bool,
        verified: bool,
        sockets: &mut SocketSet,
        now: Instant,
    ) {
        // RFC 1122 §4.2.3.10: TCP is unicast only.
        if bcast {
            self.stats.rx_not_for_us += 1;
            return;
        }
        let (src, dst) = (ip.src(), ip.dst());
        // The device may have verified the checksum already.
        let parsed = if verified {
            TcpSegment::parse(ip.payload())
        } else {
            TcpSegment::parse_verified(ip.payload(), src, dst)
        };
        let Ok(seg) = &parsed else {
            self.stats.tcp_malformed += 1;
            return;
        };
        self.tcp_segment_input(src, dst, seg, None, sockets, now);
    }

    /// The fast path for a TCP segment in a frame (smaller than a kept
    /// buffer's minimum) that is the common case: Ethernet to our
    /// address, IPv4 without options (not a fragment, from a host
    /// address) to one of our unicast addresses, no hooks, no raw socket
    /// that would want a copy. The segment is handled exactly as
    /// [`tcp_input`](Self::tcp_input) handles it, without the general
    /// path's steps around it (Ethernet parse, hooks, the second IPv4
    /// parse, the protocol dispatch). Returns `false`, with nothing done,
    /// when the general path must handle the frame.
    #[inline(never)]
    pub(super) fn fast_tcp(
        &mut self,
        port: usize,
        frame: &[u8],
        meta: lamina_netdev::RxMeta,
        sockets: &mut SocketSet,
        now: Instant,
    ) -> bool {
        const ETH: usize = lamina_ethernet::HEADER_LEN;
        // IPv4 (EtherType 0x0800), IHL 5: the plain 14-byte Ethernet
        // header (no VLAN tag) and no IPv4 options.
        if frame.get(12..15) != Some(&[0x08, 0x00, 0x45][..]) {
            return false;
        }
        if !hooks_are_noop::<H>() || sockets.has_raw(IpProtocol::TCP) {
            return false;
        }
        let Some(p) = self.ports.get(port) else {
            return false;
        };
        if p.medium != lamina_netdev::Medium::Ethernet || frame.get(0..6) != Some(p.mac.as_bytes())
        {
            return false;
        }
        let verified = meta.checksum_verified.intersection(p.rx_csum.rx);
        let Some(ip_bytes) = frame.get(ETH..) else {
            return false;
        };
        let parsed = super::parse_ipv4(ip_bytes, verified.contains(ChecksumProto::Ipv4));
        let Ok(ip) = parsed else {
            return false;
        };
        let (src, dst) = (ip.src(), ip.dst());
        if ip.is_fragment() || ip.protocol() != IpProtocol::TCP || !self.host_to_us(src, dst) {
            return false;
        }
        self.stats.rx_frames += 1;
        let parsed = if verified.contains(ChecksumProto::Tcp) {
            TcpSegment::parse(ip.payload())
        } else {
            TcpSegment::parse_verified(ip.payload(), src, dst)
        };
        let Ok(seg) = &parsed else {
            self.stats.tcp_malformed += 1;
            return true;
        };
        self.tcp_segment_input(src, dst, seg, None, sockets, now);
        true
    }

    /// A frame received as headers and a payload lent by reference
    /// (`RxEvent::Shared`), when it is the common case: Ethernet to our
    /// address, IPv4 (not a fragment, from a host address) to one of our
    /// addresses, TCP, no hooks and no raw socket that would want a copy.
    /// The segment is handled as [`tcp_input`](Self::tcp_input) does, a
    /// large in-order payload queued where it is. Anything else gives the
    /// payload back for the general path (`Err`).
    pub(super) fn tcp_input_shared(
        &mut self,
        port: usize,
        head: &[u8],
        payload: bytes::Bytes,
        meta: lamina_netdev::RxMeta,
        sockets: &mut SocketSet,
        now: Instant,
    ) -> Result<(), bytes::Bytes> {
        use lamina_ethernet::{EtherType, EthernetFrame};
        if !hooks_are_noop::<H>() || sockets.has_raw(IpProtocol::TCP) {
            return Err(payload);
        }
        let Some(p) = self.ports.get(port) else {
            return Err(payload);
        };
        if p.medium != lamina_netdev::Medium::Ethernet {
            return Err(payload);
        }
        let verified = meta.checksum_verified.intersection(p.rx_csum.rx);
        let Ok(eth) = EthernetFrame::parse(head) else {
            return Err(payload);
        };
        if eth.dst() != p.mac || eth.ethertype() != EtherType::IPV4 {
            return Err(payload);
        }
        let Some(ip_bytes) = head.get(eth.header_len()..) else {
            return Err(payload);
        };
        let Ok(ip) = Ipv4Packet::parse_truncated(ip_bytes) else {
            return Err(payload);
        };
        let (src, dst) = (ip.src(), ip.dst());
        let whole = usize::from(ip.total_len()) == ip_bytes.len() + payload.len();
        if !whole
            || ip.is_fragment()
            || ip.protocol() != IpProtocol::TCP
            || !(verified.contains(ChecksumProto::Ipv4) || ip.checksum_ok())
            || !self.host_to_us(src, dst)
        {
            return Err(payload);
        }
        self.stats.rx_frames += 1;
        let Some(tcp) = ip_bytes.get(ip.header_len()..) else {
            return Err(payload);
        };
        let seg = match TcpSegment::parse_split(tcp, &payload) {
            Ok(seg) if verified.contains(ChecksumProto::Tcp) || seg.checksum_ok(src, dst) => seg,
            _ => {
                self.stats.tcp_malformed += 1;
                return Ok(());
            }
        };
        self.tcp_segment_input(src, dst, &seg, Some(&payload), sockets, now);
        Ok(())
    }

    /// A parsed TCP segment from `src` to our `dst`: to its connection, its
    /// listener, or answered with a reset. `shared` is its payload when a
    /// device lent it by reference. (Inlined into both callers: the
    /// per-segment cost counts.)
    #[inline(always)]
    fn tcp_segment_input(
        &mut self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        seg: &TcpSegment<'_>,
        shared: Option<&bytes::Bytes>,
        sockets: &mut SocketSet,
        now: Instant,
    ) {
        self.stats.tcp_in += 1;
        let local = SocketAddrV4::new(dst, seg.dst_port());
        let remote = SocketAddrV4::new(src, seg.src_port());
        // Whatever the segment concerns may have something to send now.
        sockets.hint_tx();
        if let Some(slot) = sockets.tcp_conn_slot(local, remote)
            && let Some(t) = sockets.tcp_at(slot)
            && let Inner::Connected(c) = &mut t.inner
        {
            // A large payload in a frame the device can give away stays
            // in it (queued by the connection, attached once the device
            // hands the buffer over): one copy fewer.
            let payload = seg.payload();
            let at = payload.as_ptr() as usize;
            match (shared, self.rx_keepable) {
                // A payload lent by reference is queued as it is.
                (Some(shared), _) if payload.len() >= super::KEEP_MIN => {
                    if c.on_segment_deferring(seg, now, super::KEEP_MIN) > 0 {
                        if c.attach_shared_payload(shared.clone()) {
                            self.stats.tcp_payloads_kept += 1;
                        } else {
                            c.cancel_payload();
                        }
                    }
                }
                (None, Some((base, len)))
                    if payload.len() >= super::KEEP_MIN
                        && at >= base
                        && at + payload.len() <= base + len
                        && hooks_are_noop::<H>() =>
                {
                    if c.on_segment_deferring(seg, now, super::KEEP_MIN) > 0 {
                        self.rx_kept = Some((slot, at - base));
                        self.stats.tcp_payloads_kept += 1;
                    }
                }
                _ => c.on_segment(seg, now),
            }
            // What the segment allows (ACKs, data the window now admits)
            // goes out on this poll.
            t.dirty = true;
            // RFC 9293 §3.6.1: a SYN may reopen a tuple in TIME-WAIT; the
            // old incarnation closed and the SYN goes on to the listener.
            let reopened = c.state() == State::Closed && seg.syn() && !seg.ack();
            let (closed, orphan) = (c.is_closed(), t.orphan);
            sockets.tcp_mark(slot);
            if closed {
                sockets.tcp_unregister(local, remote);
                if orphan && let Some(h) = sockets.handle_at(slot) {
                    sockets.remove(h);
                }
            }
            if !reopened {
                return;
            }
        }
        if let Some(slot) = sockets.tcp_listener_slot(local) {
            let mss_limit = self.tcp_mss_limit(src);
            sockets.tcp_mark(slot);
            let verdict = match sockets.tcp_at(slot).map(|t| {
                t.dirty = true;
                &mut t.inner
            }) {
                Some(Inner::Listening(l)) => {
                    Some(l.listener.on_segment(dst, remote, seg, mss_limit, now))
                }
                _ => None,
            };
            // A completed handshake: the connection gets its socket now,
            // so that what follows the final ACK reaches it.
            sockets.drain_listener(slot);
            match verdict {
                Some(ListenerVerdict::Reply(repr)) => {
                    let _ = self.send_tcp_repr(dst, src, &repr, now, sockets);
                    return;
                }
                Some(_) => return,
                // The socket stopped listening: as if there were none.
                None => sockets.purge_stale_listeners(),
            }
        }
        // RFC 9293 §3.10.7.1: no connection, no listener: reset (never
        // in answer to a reset).
        self.stats.tcp_no_socket += 1;
        if let Some(rst) = reset_for(seg) {
            let _ = self.send_tcp_repr(dst, src, &rst, now, sockets);
        }
    }

    /// Writes a bare segment (SYN-ACK, ACK, RST) from `src` to `dst`
    /// straight into a transmit buffer of device `port`: `Some(frames
    /// sent)`, or `None` when the next hop is not known or the device has
    /// no buffer (then nothing was sent).
    #[allow(clippy::too_many_arguments)]
    fn tcp_repr_direct<D: lamina_netdev::Device>(
        &mut self,
        port: usize,
        device: &mut D,
        dev_mtu: usize,
        (src, dst): (Ipv4Addr, Ipv4Addr),
        repr: &TcpRepr,
        mode: ChecksumMode,
        now: Instant,
    ) -> Option<usize> {
        use lamina_netdev::{TxMeta, TxToken};
        let our_mac = self.ports.get(port)?.mac;
        let hop = self.direct_hop(port, dev_mtu, dst, now)?;
        // Written by the connections' segment writer (out of line, shared
        // with them) rather than a copy of it here.
        let out = Outgoing {
            repr: *repr,
            payload: (&[], &[]),
            shared: None,
        };
        // (A repr whose options do not fit has no length: not sent.)
        let seg_len = repr.header_len().ok()?;
        if 20 + seg_len > hop.mtu {
            return None;
        }
        let head = self.tcp_frame_head((our_mac, hop.mac), (src, dst), seg_len);
        let Some(mut token) = device.transmit(now) else {
            self.tx_full |= super::port_bit(port);
            return None;
        };
        if mode == ChecksumMode::Offload {
            let l3 = lamina_ethernet::HEADER_LEN as u16;
            token.set_meta(TxMeta::new().with_checksum_offload(
                ChecksumSet::of(ChecksumProto::Tcp),
                l3,
                l3 + 20,
            ));
        }
        let sent = super::went_out(token.consume(head.frame_len(), |b| {
            out.write(src, dst, head.write_padded(b), mode);
        }));
        sent.then_some(1)
    }

    /// Hands the buffer of the frame being received to the connection that
    /// left its payload in it, and takes the buffers it has read out.
    pub(super) fn tcp_attach_kept(
        &mut self,
        kept: lamina_netdev::KeptFrame,
        sockets: &mut SocketSet,
    ) {
        let Some((slot, start)) = self.rx_kept.take() else {
            return;
        };
        let Some(t) = sockets.tcp_at(slot) else {
            return;
        };
        let Inner::Connected(c) = &mut t.inner else {
            return;
        };
        if kept.len < start || !c.attach_payload(kept.buf, start) {
            c.cancel_payload();
        }
        while let Some(b) = c.take_spare_buffer() {
            if self.spare_bufs.len() < super::SPARE_BUFS {
                self.spare_bufs.push(b);
            }
        }
    }

    /// Withdraws a payload left in a frame whose buffer never came.
    #[inline]
    pub(super) fn tcp_cancel_kept(&mut self, sockets: &mut SocketSet) {
        let Some((slot, _)) = self.rx_kept.take() else {
            return;
        };
        if let Some(t) = sockets.tcp_at(slot)
            && let Inner::Connected(c) = &mut t.inner
        {
            c.cancel_payload();
        }
    }

    /// Writes what the established connections routed out of device
    /// `port` have to send straight into its transmit buffers: the
    /// payload copied once from the connection's send buffer, the
    /// headers written around it, the checksum left to the device where
    /// it can. Only the simple case (an Ethernet device with nothing
    /// queued, a resolved next hop, no hooks); everything else goes the
    /// queued way in [`tcp_dispatch`](Self::tcp_dispatch). Returns the
    /// frames sent.
    pub(super) fn tcp_egress_direct<D: lamina_netdev::Device>(
        &mut self,
        port: usize,
        device: &mut D,
        sockets: &mut SocketSet,
        now: Instant,
    ) -> usize {
        use lamina_ethernet::{EtherType, EthernetRepr};
        use lamina_netdev::{Medium, TxMeta, TxToken};
        if !hooks_are_noop::<H>() || sockets.tcp_work().is_empty() {
            return 0;
        }
        let Some(p) = self.ports.get(port) else {
            return 0;
        };
        if p.medium != Medium::Ethernet || !p.txq.is_empty() {
            return 0;
        }
        let (our_mac, dev_mtu) = (p.mac, p.mtu);
        let offload = if p.rx_csum.tx.contains(ChecksumProto::Tcp) {
            ChecksumSet::of(ChecksumProto::Tcp)
        } else {
            ChecksumSet::EMPTY
        };
        // Segmentation offload (which needs the checksum's): the most
        // payload one frame may carry, under the headers at their
        // longest and the 64 KiB of an IPv4 packet.
        let gso_payload = if p.tso_max > 0 && !offload.is_empty() {
            p.tso_max
                .min(usize::from(u16::MAX) + lamina_ethernet::HEADER_LEN)
                .saturating_sub(lamina_ethernet::HEADER_LEN + 20 + lamina_tcp::MAX_HEADER_LEN)
        } else {
            0
        };
        let mode = if offload.is_empty() {
            ChecksumMode::Compute
        } else {
            ChecksumMode::Offload
        };
        let share = p.shared_payloads;
        let mut sent = 0;
        let count = sockets.tcp_work().len();
        // After a pass in which a device ran out of room, the next starts
        // one connection further along: whoever goes first takes the
        // room, and the first of the list would otherwise take it every
        // time.
        let first = if self.tx_rotate && count > 1 {
            self.tx_rotor = self.tx_rotor.wrapping_add(1);
            self.tx_rotor as usize % count
        } else {
            0
        };
        for i in 0..count {
            let k = if first == 0 { i } else { (first + i) % count };
            let Some(&slot) = sockets.tcp_work().get(k) else {
                break;
            };
            let Some(t) = sockets.tcp_at(slot) else {
                continue;
            };
            if !t.dirty && t.poll_at().is_none_or(|at| at > now) {
                continue;
            }
            if matches!(t.inner, Inner::Listening(_)) {
                sent += self.tcp_listener_egress(port, device, dev_mtu, slot, mode, sockets, now);
                continue;
            }
            let Inner::Connected(c) = &mut t.inner else {
                continue;
            };
            if c.is_closed() {
                continue;
            }
            let (src, dst) = (*c.local().ip(), *c.remote().ip());
            let Some(hop) = self.direct_hop(port, dev_mtu, dst, now) else {
                continue;
            };
            let (mtu, mac) = (hop.mtu, hop.mac);
            let eth = EthernetRepr::new(our_mac, mac, EtherType::IPV4);
            // Toward a device that takes payloads by reference, the
            // connection lends them (and seals its send buffer for it)
            // where segments are large: for a 1460-byte payload, sealing
            // and the references cost more than the copy they save.
            let share = share && (mtu >= super::KEEP_MIN || gso_payload > 0);
            if c.share_payloads() != share {
                c.set_share_payloads(share);
            }
            if gso_payload > 0 {
                let burst = GsoBurst {
                    port,
                    src,
                    dst,
                    eth,
                    mtu,
                    offload,
                    mode,
                    max_payload: gso_payload,
                };
                let (n, drained) = self.tcp_egress_gso(device, c, &burst, now);
                sent += n;
                if drained {
                    let ended = c.is_closed() || c.error().is_some();
                    served_direct(sockets, slot, ended);
                }
                continue;
            }
            // Without segmentation offload, new data in full segments is
            // still taken from the connection as one large segment and
            // cut here, each piece written straight into its own frame
            // (software segmentation, as Linux's GSO): the connection
            // hands a burst over in one call, its header built and its
            // send buffer looked up once.
            let burst = self.ports.get(port).map_or(1, |p| p.gso_burst);
            let cut = !share && mtu < super::KEEP_MIN;
            let soft_gso = if cut && burst >= 2 { burst * mtu } else { 0 };
            let mut drained = false;
            loop {
                // The buffer first: a segment taken from the connection
                // must have somewhere to go.
                let Some(mut token) = device.transmit(now) else {
                    self.tx_full |= super::port_bit(port);
                    break;
                };
                let (out, piece) = if soft_gso > 0 {
                    match c.poll_transmit_gso(now, soft_gso) {
                        Some((out, piece)) => (out, usize::from(piece)),
                        None => {
                            drained = true;
                            break;
                        }
                    }
                } else {
                    match c.poll_transmit(now) {
                        Some(out) => (out, usize::MAX),
                        None => {
                            drained = true;
                            break;
                        }
                    }
                };
                if out.payload_len() > piece && piece > 0 {
                    let link = SoftGso {
                        port,
                        src,
                        dst,
                        macs: (our_mac, mac),
                        mtu,
                        offload,
                        mode,
                    };
                    // (The buffer reserved is given back: each piece
                    // takes its own.)
                    drop(token);
                    sent += self.tcp_send_cut(device, &out, piece, &link, now);
                    continue;
                }
                let mut ip = Ipv4Repr::new(src, dst, IpProtocol::TCP);
                ip.ttl = self.config.ttl;
                ip.dont_fragment = true;
                ip.identification = self.ip_id(src, dst, IpProtocol::TCP, true);
                self.stats.tcp_out += 1;
                let seg_len = out.len();
                if 20 + seg_len > mtu {
                    // The MSS is clamped to the route MTU, so only a route
                    // whose MTU shrank since: lost, and retransmitted.
                    self.stats.tx_too_big += 1;
                    continue;
                }
                if !offload.is_empty() {
                    let l3 = lamina_ethernet::HEADER_LEN as u16;
                    token.set_meta(TxMeta::new().with_checksum_offload(offload, l3, l3 + 20));
                }
                if let Some(payload) = out.share() {
                    // The device takes the payload where it is.
                    if self.tcp_send_shared(token, &out, payload, (our_mac, mac), &ip, mode) {
                        sent += 1;
                    }
                    continue;
                }
                // Ethernet and IPv4 headers written in place, then the
                // segment (header, payload, checksum) behind them.
                let head = self.tcp_frame_head((our_mac, mac), (src, dst), seg_len);
                let written = super::went_out(token.consume(head.frame_len(), |b| {
                    out.write(src, dst, head.write_padded(b), mode);
                }));
                if written {
                    sent += 1;
                }
            }
            if drained {
                // A device whose ring took everything may take bursts
                // again.
                if cut
                    && burst < 2
                    && let Some(p) = self.ports.get_mut(port)
                {
                    p.gso_burst = 2;
                }
                let ended = c.is_closed() || c.error().is_some();
                served_direct(sockets, slot, ended);
            }
        }
        sent
    }

    /// The listener's part of [`tcp_egress_direct`](Self::tcp_egress_direct):
    /// its SYN-ACKs (and ACKs of connections not accepted yet) straight
    /// into the device where their next hop is known, the others the
    /// queued way. Out of line: the connections' transmit loop, run for
    /// every segment, stays compact in the instruction cache.
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn tcp_listener_egress<D: lamina_netdev::Device>(
        &mut self,
        port: usize,
        device: &mut D,
        dev_mtu: usize,
        slot: u32,
        mode: ChecksumMode,
        sockets: &mut SocketSet,
        now: Instant,
    ) -> usize {
        let Some(t) = sockets.tcp_at(slot) else {
            return 0;
        };
        let Inner::Listening(l) = &mut t.inner else {
            return 0;
        };
        let mut sent = 0;
        let mut out = core::mem::take(&mut self.listener_out);
        while out.len() < LISTENER_BATCH {
            match l.listener.poll_transmit(now) {
                Some(x) => out.push(x),
                None => break,
            }
        }
        let drained = out.len() < LISTENER_BATCH;
        for (local, remote, repr) in out.drain(..) {
            let (src, dst) = (*local.ip(), *remote.ip());
            self.stats.tcp_out += 1;
            match self.tcp_repr_direct(port, device, dev_mtu, (src, dst), &repr, mode, now) {
                Some(n) => sent += n,
                None => {
                    self.stats.tcp_out -= 1;
                    let _ = self.send_tcp_repr(src, dst, &repr, now, sockets);
                }
            }
        }
        self.listener_out = out;
        if drained && let Some(t) = sockets.tcp_at(slot) {
            t.served();
            sockets.tcp_schedule(slot);
        }
        sent
    }

    /// The Ethernet and IPv4 headers of a frame carrying a TCP segment of
    /// `seg_len` bytes from `src` to `dst` (`macs`: ours, the next
    /// hop's): Don't Fragment set (every TCP segment is atomic, so its
    /// Identification is 0), our TTL.
    #[inline(always)]
    fn tcp_frame_head(
        &mut self,
        macs: (lamina_ethernet::MacAddr, lamina_ethernet::MacAddr),
        (src, dst): (Ipv4Addr, Ipv4Addr),
        seg_len: usize,
    ) -> super::EthIpv4Head {
        super::EthIpv4Head {
            src_mac: macs.0,
            dst_mac: macs.1,
            src,
            dst,
            tos: 0,
            ttl: self.config.ttl,
            protocol: IpProtocol::TCP,
            dont_fragment: true,
            id: self.ip_id(src, dst, IpProtocol::TCP, true),
            total: u16::try_from(20 + seg_len).unwrap_or(u16::MAX),
        }
    }

    /// Sends the large segment `out` as segments of `piece` bytes of
    /// payload, each written straight into a frame of its own: software
    /// segmentation, cut as a device with segmentation offload cuts
    /// (sequence numbers advancing, PSH and FIN only on the last piece,
    /// the header otherwise repeated).
    /// Pieces the device has no room for wait in the port's transmit
    /// queue, in order (which holds back the direct way until it
    /// drains), as far as its limit allows; beyond, they are dropped and
    /// counted (the connection sends them again, as any loss). The next
    /// bursts are then no longer than what the device took (and grow
    /// again by a segment after each it takes whole), so that a device
    /// with a short transmit ring does not see its segments queued time
    /// after time. Returns the frames sent.
    fn tcp_send_cut<D: lamina_netdev::Device>(
        &mut self,
        device: &mut D,
        out: &Outgoing<'_>,
        piece: usize,
        link: &SoftGso,
        now: Instant,
    ) -> usize {
        use lamina_netdev::{TxMeta, TxToken};
        use lamina_tcp::wire::TcpFlags;
        let (src, dst) = (link.src, link.dst);
        let total = out.payload_len();
        let (a, b) = out.payload;
        let mut sent = 0;
        let mut off = 0;
        let mut full = false;
        while off < total {
            let n = piece.min(total - off);
            let last = off + n == total;
            let mut repr = out.repr;
            repr.seq_number = out.repr.seq_number + off as u32;
            if !last {
                repr.flags.remove(TcpFlags::PSH | TcpFlags::FIN);
            }
            // This piece of the payload, in the first slice, the second,
            // or across both.
            let (pa, pb) = if off + n <= a.len() {
                (a.get(off..off + n).unwrap_or_default(), &[][..])
            } else if off >= a.len() {
                (
                    b.get(off - a.len()..off - a.len() + n).unwrap_or_default(),
                    &[][..],
                )
            } else {
                (
                    a.get(off..).unwrap_or_default(),
                    b.get(..off + n - a.len()).unwrap_or_default(),
                )
            };
            let seg = Outgoing {
                repr,
                payload: (pa, pb),
                shared: None,
            };
            off += n;
            self.stats.tcp_out += 1;
            self.stats.tcp_segments_cut += 1;
            let seg_len = seg.len();
            if 20 + seg_len > link.mtu {
                self.stats.tx_too_big += 1;
                continue;
            }
            let token = if full { None } else { device.transmit(now) };
            let Some(mut token) = token else {
                if !full && let Some(p) = self.ports.get_mut(link.port) {
                    p.gso_burst = sent.max(1);
                }
                full = true;
                self.tx_full |= super::port_bit(link.port);
                self.tcp_queue_piece(&seg, seg_len, link);
                continue;
            };
            if !link.offload.is_empty() {
                let l3 = lamina_ethernet::HEADER_LEN as u16;
                token.set_meta(TxMeta::new().with_checksum_offload(link.offload, l3, l3 + 20));
            }
            let head = self.tcp_frame_head(link.macs, (src, dst), seg_len);
            let mode = link.mode;
            if super::went_out(token.consume(head.frame_len(), |buf| {
                seg.write(src, dst, head.write_padded(buf), mode);
            })) {
                sent += 1;
            }
        }
        if !full
            && let Some(p) = self.ports.get_mut(link.port)
            && p.gso_burst < SOFT_GSO_SEGMENTS
        {
            p.gso_burst += 1;
        }
        sent
    }

    /// Queues a piece of a segment cut in software that the device had
    /// no room for on the port's transmit queue (dropped and counted if
    /// that is full).
    #[cold]
    #[inline(never)]
    fn tcp_queue_piece(&mut self, seg: &Outgoing<'_>, len: usize, link: &SoftGso) {
        let (src, dst) = (link.src, link.dst);
        let mut ip = Ipv4Repr::new(src, dst, IpProtocol::TCP);
        ip.ttl = self.config.ttl;
        ip.dont_fragment = true;
        ip.identification = self.ip_id(src, dst, IpProtocol::TCP, true);
        let body = SegmentBody {
            out: seg,
            len,
            src,
            dst,
            mode: link.mode,
        };
        let Ok(packet) = body.wrap_in(&ip).serialize_vec(lamina_ethernet::HEADER_LEN) else {
            return;
        };
        let limit = self.config.tx_queue_len;
        if let Some(p) = self.ports.get_mut(link.port) {
            let _ = Self::enqueue(p, limit, &mut self.stats, link.macs.1, packet, link.offload);
        }
    }

    /// Sends `out` (IPv4 header `ip`, Ethernet from `macs.0` to `macs.1`)
    /// with its `payload` lent to the device: only the headers are
    /// written. True when the device took the frame.
    fn tcp_send_shared<T: lamina_netdev::TxToken>(
        &mut self,
        token: T,
        out: &Outgoing<'_>,
        payload: bytes::Bytes,
        macs: (lamina_ethernet::MacAddr, lamina_ethernet::MacAddr),
        ip: &Ipv4Repr,
        mode: ChecksumMode,
    ) -> bool {
        let seg_len = out.len();
        let head = super::EthIpv4Head {
            src_mac: macs.0,
            dst_mac: macs.1,
            src: ip.src,
            dst: ip.dst,
            tos: 0,
            ttl: ip.ttl,
            protocol: IpProtocol::TCP,
            dont_fragment: ip.dont_fragment,
            id: ip.identification,
            total: u16::try_from(20 + seg_len).unwrap_or(u16::MAX),
        };
        let head_len = super::EthIpv4Head::LEN + (seg_len - payload.len());
        let (src, dst) = (ip.src, ip.dst);
        let sent = token
            .consume_shared(head_len, payload, |b| {
                let tcp = head.write_into(b);
                out.write_header(src, dst, tcp, mode);
            })
            .is_ok();
        if sent {
            self.stats.tcp_shared_payloads += 1;
        }
        sent
    }

    /// The direct transmit of one connection to a device with TCP
    /// segmentation offload: batches of full segments in one frame each
    /// (`TxMeta::tso_mss`), anything else alone. Returns the frames sent
    /// and whether the connection has nothing more to send now. Kept out
    /// of [`tcp_egress_direct`](Self::tcp_egress_direct)'s loop, whose
    /// per-segment path is the hot one on every other device.
    #[inline(never)]
    fn tcp_egress_gso<D: lamina_netdev::Device>(
        &mut self,
        device: &mut D,
        c: &mut Connection,
        b: &GsoBurst,
        now: Instant,
    ) -> (usize, bool) {
        use lamina_netdev::{TxMeta, TxToken};
        let mut sent = 0;
        loop {
            let Some(mut token) = device.transmit(now) else {
                self.tx_full |= super::port_bit(b.port);
                return (sent, false);
            };
            let Some((out, gso_size)) = c.poll_transmit_gso(now, b.max_payload) else {
                return (sent, true);
            };
            // Cut by the device into segments of `gso_size` bytes.
            let gso = out.payload_len() > usize::from(gso_size);
            let mut ip = Ipv4Repr::new(b.src, b.dst, IpProtocol::TCP);
            ip.ttl = self.config.ttl;
            ip.dont_fragment = true;
            ip.identification = self.ip_id(b.src, b.dst, IpProtocol::TCP, true);
            self.stats.tcp_out += 1;
            let seg_len = out.len();
            if 20 + seg_len > b.mtu && !gso {
                // As in the plain path: a route whose MTU shrank.
                self.stats.tx_too_big += 1;
                continue;
            }
            let body = SegmentBody {
                out: &out,
                len: seg_len,
                src: b.src,
                dst: b.dst,
                mode: b.mode,
            };
            let l3 = lamina_ethernet::HEADER_LEN as u16;
            let mut meta = TxMeta::new().with_checksum_offload(b.offload, l3, l3 + 20);
            if gso && let Some(mss) = core::num::NonZeroU16::new(gso_size) {
                meta = meta.with_tso_mss(mss);
                self.stats.tcp_gso_frames += 1;
            }
            token.set_meta(meta);
            if let Some(payload) = out.share() {
                let macs = (b.eth.src, b.eth.dst);
                if self.tcp_send_shared(token, &out, payload, macs, &ip, b.mode) {
                    sent += 1;
                }
                continue;
            }
            let frame = body.wrap_in(&ip).wrap_in(b.eth);
            let Ok(len) = frame.serialized_len() else {
                continue;
            };
            if token.consume(len, |buf| frame.serialize_exact(buf)).is_ok() {
                sent += 1;
            }
        }
    }

    /// Delivers an ICMP error about the segments of connection
    /// `(local, remote)`: a smaller path MTU shrinks its segments (RFC
    /// 1191), an unreachable ends it while it opens or is remembered as a
    /// soft error (RFC 1122 §4.2.3.9). Returns whether a connection took
    /// it.
    pub(super) fn tcp_icmp_error(
        &mut self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        report: super::IcmpReport,
        sockets: &mut SocketSet,
        now: Instant,
    ) -> bool {
        use lamina_icmp::IcmpErrorKind as K;
        use lamina_tcp::ConnError;
        let Some(slot) = sockets.tcp_conn_slot(local, remote) else {
            return false;
        };
        let Some(t) = sockets.tcp_at(slot) else {
            return false;
        };
        let Inner::Connected(c) = &mut t.inner else {
            return false;
        };
        if let Some(seq) = report.quoted_seq
            && !c.accepts_icmp_about(lamina_tcp::SeqNumber(seq))
        {
            return false;
        }
        t.dirty = true;
        match report.kind {
            K::MessageTooLong => {
                if let Some(mtu) = report.mtu {
                    c.on_path_mtu(mtu, now);
                }
            }
            K::TtlExceeded | K::ReassemblyTimeExceeded | K::ParameterProblem => {}
            kind => {
                let error = match kind {
                    K::ConnectionRefused | K::ProtocolUnreachable => ConnError::Refused,
                    K::NetworkUnreachable => ConnError::NetworkUnreachable,
                    _ => ConnError::HostUnreachable,
                };
                c.on_icmp_unreachable(report.hard, error);
            }
        }
        sockets.tcp_mark(slot);
        sockets.hint_tx();
        true
    }

    /// Opens the connections that `connect` asked for (before the direct
    /// transmit pass, so that their SYNs take it); the ones that fail
    /// keep their error.
    pub(super) fn tcp_open_pending(&mut self, now: Instant, sockets: &mut SocketSet) {
        // Only after a connect (a connecting socket this misses is opened
        // by `tcp_dispatch`).
        if !sockets.take_connects() {
            return;
        }
        let count = sockets.tcp_work().len();
        for k in 0..count {
            let Some(&slot) = sockets.tcp_work().get(k) else {
                break;
            };
            let Some(t) = sockets.tcp_at(slot) else {
                continue;
            };
            let Inner::Connecting { remote, local } = t.inner else {
                continue;
            };
            let config = t.config.clone();
            let opened = self.tcp_open(remote, local, &config, slot, now, sockets);
            if let Some(t) = sockets.tcp_at(slot) {
                match opened {
                    Ok(conn) => t.inner = Inner::Connected(conn),
                    Err(e) => {
                        t.inner = Inner::Closed;
                        if t.error.is_none() {
                            t.error = Some(e);
                        }
                    }
                }
                t.dirty = true;
            }
        }
    }

    /// Opens the connections that `connect` asked for, sends what every
    /// TCP socket has (data, ACKs, SYN-ACKs, retransmissions, probes) and
    /// forgets closed connections. Returns whether anything was sent.
    pub(super) fn tcp_dispatch(&mut self, now: Instant, sockets: &mut SocketSet) -> bool {
        let mut sent = false;
        let count = sockets.tcp_work().len();
        for k in 0..count {
            let Some(&slot) = sockets.tcp_work().get(k) else {
                break;
            };
            let Some(t) = sockets.tcp_at(slot) else {
                continue;
            };
            // Receive buffers read out since: back to a device.
            if let Inner::Connected(c) = &mut t.inner {
                while let Some(b) = c.take_spare_buffer() {
                    if self.spare_bufs.len() < super::SPARE_BUFS {
                        self.spare_bufs.push(b);
                    }
                }
            }
            // Due at all? A socket whose timer moved later since it was
            // scheduled (or one touched without effect) is not: it goes
            // back to the timer heap.
            if t.poll_at().is_none_or(|at| at > now) {
                if t.scheduled.is_none() && t.timer.is_some() {
                    sockets.tcp_schedule(slot);
                }
                continue;
            }
            // A synchronized connection whose device refused a buffer in
            // this pass keeps its segments until the next poll rather
            // than queue them for the device: a window's worth would
            // overflow the interface's queue (and each would be copied
            // once more). Not when a timer is due: retransmissions back
            // off, and a path that stays dead ends in a timeout; nor for
            // a SYN, whose retries end a connect that cannot go out.
            let held = self.tx_full != 0
                && matches!(&t.inner, Inner::Connected(c)
                    if c.state().is_synchronized()
                        && !c.timer_expired(now)
                        && self.way_full(*c.remote().ip()));
            if held {
                sockets.tcp_mark(slot);
                continue;
            }
            t.dirty = false;
            let inner = core::mem::replace(&mut t.inner, Inner::Closed);
            let (inner, error) = match inner {
                Inner::Connecting { remote, local } => {
                    let config = t.config.clone();
                    match self.tcp_open(remote, local, &config, slot, now, sockets) {
                        Ok(conn) => (Inner::Connected(conn), None),
                        Err(e) => (Inner::Closed, Some(e)),
                    }
                }
                Inner::Connected(mut c) => {
                    let (src, dst) = (*c.local().ip(), *c.remote().ip());
                    let offload = self.l4_offload(dst, ChecksumProto::Tcp);
                    let mode = if offload.is_empty() {
                        ChecksumMode::Compute
                    } else {
                        ChecksumMode::Offload
                    };
                    while let Some(out) = c.poll_transmit(now) {
                        let mut ip = Ipv4Repr::new(src, dst, IpProtocol::TCP);
                        ip.ttl = self.config.ttl;
                        ip.dont_fragment = true;
                        let body = SegmentBody {
                            out: &out,
                            len: out.len(),
                            src,
                            dst,
                            mode,
                        };
                        self.stats.tcp_out += 1;
                        sent = true;
                        // A datagram that cannot leave now (no ARP answer
                        // yet, queue full) is a loss TCP recovers from.
                        let _ = self.send_ip_with(ip, body, offload, now, sockets);
                    }
                    if c.is_closed() {
                        sockets.tcp_unregister(c.local(), c.remote());
                    }
                    let error = c.error().map(crate::tcp::conn_error);
                    (Inner::Connected(c), error)
                }
                Inner::Listening(mut l) => {
                    while let Some((local, remote, repr)) = l.listener.poll_transmit(now) {
                        sent = true;
                        let _ = self.send_tcp_repr(*local.ip(), *remote.ip(), &repr, now, sockets);
                    }
                    (Inner::Listening(l), None)
                }
                Inner::Closed => (Inner::Closed, None),
            };
            let mut free = false;
            let mut abandoned = alloc::vec::Vec::new();
            if let Some(t) = sockets.tcp_at(slot) {
                t.inner = inner;
                if !t.dirty {
                    t.served();
                    sockets.tcp_schedule(slot);
                }
            }
            if let Some(t) = sockets.tcp_at(slot) {
                if error.is_some() && t.error.is_none() {
                    t.error = error;
                }
                abandoned = core::mem::take(&mut t.abandoned);
                free = t.orphan && !t.is_active();
            }
            sockets.abandon(&abandoned);
            if free && let Some(h) = sockets.handle_at(slot) {
                sockets.remove(h);
            }
        }
        sockets.tcp_work_done();
        sent
    }

    /// The active open of a socket in slot `slot`: the source address
    /// and port, the MSS limit from the route, the ISN; registered for
    /// demultiplexing.
    fn tcp_open(
        &mut self,
        remote: SocketAddrV4,
        local: SocketAddrV4,
        config: &lamina_tcp::TcpConfig,
        slot: u32,
        now: Instant,
        sockets: &mut SocketSet,
    ) -> Result<Box<Connection>, Error> {
        let src = if local.ip().is_unspecified() {
            self.pick_source(*remote.ip()).ok_or(Error::NoRoute)?
        } else if self.has_address(*local.ip()) {
            *local.ip()
        } else {
            return Err(Error::AddrNotAvailable);
        };
        let port = match local.port() {
            0 => sockets
                .tcp_ephemeral_port(src, remote)
                .ok_or(Error::AddrNotAvailable)?,
            p => p,
        };
        let local = SocketAddrV4::new(src, port);
        if sockets.tcp_conn_slot(local, remote).is_some() {
            return Err(Error::AddrInUse);
        }
        let mss_limit = self.tcp_mss_limit(*remote.ip());
        let isn = sockets.tcp_isn(local, remote, now);
        let conn = Connection::connect_boxed(local, remote, config, isn, mss_limit, now);
        sockets.tcp_register(local, remote, slot);
        Ok(conn)
    }
}

/// A connection the direct transmit pass has drained: it waits for its
/// next timer, unless it `ended` (closed, by a timer say, or failed) or
/// its socket waits to be freed once closed: then `tcp_dispatch` finishes
/// it on this poll (unregisters it, keeps its error, frees the socket).
fn served_direct(sockets: &mut SocketSet, slot: u32, ended: bool) {
    let Some(t) = sockets.tcp_at(slot) else {
        return;
    };
    if ended || t.orphan {
        t.dirty = true;
        return;
    }
    t.served();
    sockets.tcp_schedule(slot);
}

/// What every frame of one connection's burst to a device with
/// segmentation offload shares.
/// Segments of one burst cut in software: at most this many (each of at
/// most a route MTU's worth of bytes).
pub(super) const SOFT_GSO_SEGMENTS: usize = 16;

/// Where the pieces of a segment cut in software go
/// ([`Interface::tcp_send_cut`]).
struct SoftGso {
    port: usize,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    /// Ours and the next hop's hardware addresses.
    macs: (lamina_ethernet::MacAddr, lamina_ethernet::MacAddr),
    mtu: usize,
    offload: lamina_netdev::ChecksumSet,
    mode: ChecksumMode,
}

struct GsoBurst {
    /// The device's port.
    port: usize,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    eth: lamina_ethernet::EthernetRepr,
    /// The route's MTU: what a segment not cut by the device must fit.
    mtu: usize,
    offload: lamina_netdev::ChecksumSet,
    mode: ChecksumMode,
    max_payload: usize,
}
