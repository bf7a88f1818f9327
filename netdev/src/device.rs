//! The [`Device`] trait and its tokens.

use alloc::vec::Vec;
use core::num::NonZeroU16;

use lamina_netbuf::Instant;

use crate::{Capabilities, ChecksumSet, Error, Stats};

/// What the device knows about one received frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct RxMeta {
    /// When the frame arrived, on the caller's clock (in-memory devices: the
    /// instant it became deliverable; replayed captures: the capture time),
    /// if the device knows.
    pub timestamp: Option<Instant>,
    /// Checksums the device verified as correct for this frame; the stack
    /// skips verifying exactly these.
    pub checksum_verified: ChecksumSet,
}

impl RxMeta {
    /// Metadata with a timestamp and nothing verified.
    pub const fn at(timestamp: Instant) -> RxMeta {
        RxMeta {
            timestamp: Some(timestamp),
            checksum_verified: ChecksumSet::EMPTY,
        }
    }
}

/// What the stack tells the device about one frame it transmits, for
/// offloads. The default asks for nothing: the frame goes out as written.
///
/// Offsets are from the start of the frame. A device uses them only for the
/// offloads it advertised in [`Capabilities`] and ignores requests for
/// others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct TxMeta {
    /// Checksums the stack left for the device to compute. For TCP and UDP
    /// the field holds the pseudo-header sum (not complemented), for the
    /// IPv4 header and ICMPv4 it holds zero.
    pub checksum_offload: ChecksumSet,
    /// Offset of the IPv4 header (14 behind an untagged Ethernet header).
    pub l3_offset: u16,
    /// Offset of the transport header.
    pub l4_offset: u16,
    /// Segment the TCP payload into segments of this many bytes (TSO); only
    /// when [`Capabilities::tso`] is set.
    pub tso_mss: Option<NonZeroU16>,
}

impl TxMeta {
    /// No offload requested.
    pub const fn new() -> TxMeta {
        TxMeta {
            checksum_offload: ChecksumSet::EMPTY,
            l3_offset: 0,
            l4_offset: 0,
            tso_mss: None,
        }
    }

    /// This metadata with checksums left to the device, the IPv4 header at
    /// `l3_offset` and the transport header at `l4_offset`.
    #[must_use]
    pub const fn with_checksum_offload(
        mut self,
        set: ChecksumSet,
        l3_offset: u16,
        l4_offset: u16,
    ) -> TxMeta {
        self.checksum_offload = set;
        self.l3_offset = l3_offset;
        self.l4_offset = l4_offset;
        self
    }

    /// This metadata asking for segmentation into `mss`-byte segments.
    #[must_use]
    pub const fn with_tso_mss(mut self, mss: NonZeroU16) -> TxMeta {
        self.tso_mss = Some(mss);
        self
    }
}

/// A received frame, lent by the device until [`consume`](Self::consume)
/// returns.
pub trait RxToken {
    /// What the device knows about the frame.
    fn meta(&self) -> RxMeta {
        RxMeta::default()
    }

    /// Lends the frame (the device's own buffer, mutable so that a router
    /// can rewrite it in place) to `f` and returns what `f` returns. The
    /// buffer goes back to the device afterwards. Dropping the token
    /// without consuming it discards the frame.
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R;

    /// Whether [`consume_keep`](Self::consume_keep) can give the frame's
    /// buffer away (the default: no).
    fn can_keep(&self) -> bool {
        false
    }

    /// As [`consume`](Self::consume), but `f` may ask to keep the frame's
    /// buffer by returning `true` with its result: when
    /// [`can_keep`](Self::can_keep) said so, the device then gives the
    /// buffer away and it comes back here as a [`KeptFrame`] (and never
    /// otherwise; a device that cannot keep frames ignores the request).
    /// A stack keeps a frame to queue its payload where it is instead of
    /// copying it; the buffer can go back to the device with
    /// [`Device::recycle`] once read.
    fn consume_keep<R, F>(self, f: F) -> (R, Option<KeptFrame>)
    where
        F: FnOnce(&mut [u8]) -> (R, bool),
        Self: Sized,
    {
        (self.consume(|frame| f(frame).0), None)
    }
}

/// A received frame whose buffer the device gave away
/// ([`RxToken::consume_keep`]): the frame is `buf[..len]`.
#[derive(Debug)]
pub struct KeptFrame {
    /// The device's buffer, now owned.
    pub buf: Vec<u8>,
    /// The frame's length at the start of `buf`.
    pub len: usize,
}

/// What [`Device::poll_rx_keep`] hands its handler.
#[derive(Debug)]
pub enum RxEvent<'f, T> {
    /// A received frame, in the device's buffer.
    Frame {
        /// The frame.
        frame: &'f mut [u8],
        /// What the device knows about it.
        meta: RxMeta,
        /// A token to answer it on the same device.
        reply: T,
        /// Whether the handler may keep the buffer (by returning `true`).
        can_keep: bool,
    },
    /// The buffer of the frame the handler just asked to keep.
    Kept(KeptFrame),
    /// A received frame whose payload the sender lent by reference
    /// ([`TxToken::consume_shared`] on a device that keeps it, such as an
    /// in-memory link): the frame is `head` followed by `payload`. The
    /// handler owns its reference to the payload and may keep it (queue
    /// it where it is) or drop it; its answer is ignored. Only
    /// [`Device::poll_rx_keep`] delivers these; [`Device::receive`] and
    /// [`Device::poll_rx`] hand such a frame over whole (copied together).
    Shared {
        /// The frame's headers (link, network, transport), in the device's
        /// buffer.
        head: &'f mut [u8],
        /// The rest of the frame.
        payload: bytes::Bytes,
        /// What the device knows about the frame.
        meta: RxMeta,
        /// A token to answer it on the same device.
        reply: T,
    },
}

/// The right to transmit one frame. Holding a token reserves a slot in the
/// device; dropping it unconsumed sends nothing.
pub trait TxToken {
    /// Describes the frame for offloads; call before
    /// [`consume`](Self::consume). Devices without offloads ignore it.
    fn set_meta(&mut self, meta: TxMeta) {
        let _ = meta;
    }

    /// Lends `f` a device buffer of exactly `len` bytes, sends what `f`
    /// wrote, and returns what `f` returned.
    ///
    /// The buffer holds unspecified bytes (typically an earlier frame):
    /// `f` must write every byte it means to send. `len` must not exceed
    /// [`Capabilities::max_tx_len`]; a longer request fails with
    /// [`Error::FrameTooLong`] without calling `f`.
    fn consume<R, F>(self, len: usize, f: F) -> Result<R, Error>
    where
        F: FnOnce(&mut [u8]) -> R;

    /// Sends a frame of `head_len` bytes that `f` writes (the headers)
    /// followed by `payload`, and returns what `f` returned. A device
    /// whose [`Capabilities::shared_payloads`] says so keeps a reference
    /// to `payload` instead of copying it; the default copies it into a
    /// buffer from [`consume`](Self::consume) (same limits and errors,
    /// for the whole frame).
    fn consume_shared<R, F>(self, head_len: usize, payload: bytes::Bytes, f: F) -> Result<R, Error>
    where
        F: FnOnce(&mut [u8]) -> R,
        Self: Sized,
    {
        self.consume(head_len.saturating_add(payload.len()), |buf| {
            split_copy(buf, head_len, &payload, f)
        })
    }

    /// Sends the first `len` bytes of `buf` as a frame. A device that lent
    /// `buf` ([`Device::tx_buffer`]) takes it back as the frame: nothing is
    /// copied, and `Ok(None)` says so. Otherwise (the default) the bytes
    /// are copied as by [`consume`](Self::consume), with its limits and
    /// errors, and the buffer comes back: `Ok(Some(buf))`. A `len` beyond
    /// `buf.len()` fails with [`Error::FrameTooLong`] (the buffer is
    /// dropped).
    fn consume_owned(self, buf: Vec<u8>, len: usize) -> Result<Option<Vec<u8>>, Error>
    where
        Self: Sized,
    {
        copy_owned(self, buf, len)
    }
}

/// What a device that copies does with a frame sent as a buffer of the
/// sender's ([`TxToken::consume_owned`]'s default): the first `len`
/// bytes of `buf` copied into `token`'s frame, and the buffer back.
#[inline(always)]
pub(crate) fn copy_owned<T: TxToken>(
    token: T,
    buf: Vec<u8>,
    len: usize,
) -> Result<Option<Vec<u8>>, Error> {
    let Some(frame) = buf.get(..len) else {
        return Err(Error::FrameTooLong {
            len,
            max: buf.len(),
        });
    };
    token.consume(len, |dst| dst.copy_from_slice(frame))?;
    Ok(Some(buf))
}

/// What a device that copies does with a frame sent as headers and a
/// payload: `payload` copied behind the first `head_len` bytes of `buf`,
/// then `f` on those.
pub(crate) fn split_copy<R>(
    buf: &mut [u8],
    head_len: usize,
    payload: &[u8],
    f: impl FnOnce(&mut [u8]) -> R,
) -> R {
    let (head, rest) = buf.split_at_mut(head_len.min(buf.len()));
    let n = rest.len().min(payload.len());
    if let (Some(dst), Some(src)) = (rest.get_mut(..n), payload.get(..n)) {
        dst.copy_from_slice(src);
    }
    f(head)
}

/// A network device: the boundary between the stack and a NIC, a virtual
/// link, a capture file or an OS interface.
///
/// # Zero copy through tokens
///
/// [`receive`](Self::receive) returns an [`RxToken`] lending the frame in
/// the driver's own buffer, together with a [`TxToken`] so that the stack
/// can answer that frame (an ARP reply, a TCP ACK) on the same device
/// without a second borrow. [`transmit`](Self::transmit) returns a
/// [`TxToken`] that lends a device buffer for the stack to write the frame
/// straight into. Tokens borrow the device, so nothing is copied and nothing
/// allocated on the fast path. A device with nothing to receive, or no room
/// to transmit, returns `None` (back-pressure: the stack keeps its packet
/// and tries again later).
///
/// # Keeping received buffers
///
/// A device that can give a received buffer away says so with
/// [`RxToken::can_keep`]; a stack that would otherwise copy a large
/// payload out of the frame (TCP into its receive buffer) then keeps the
/// whole buffer with [`RxToken::consume_keep`] (or
/// [`poll_rx_keep`](Self::poll_rx_keep)) and gives it back with
/// [`recycle`](Self::recycle) once read. The in-memory [`Port`](crate::Port)s
/// do; the default is not to.
///
/// # Batches and fairness (NAPI)
///
/// [`poll_rx`](Self::poll_rx) processes at most `budget` frames and says
/// how many it did. An interface serving several devices should visit them
/// round-robin: give each device one `poll_rx` with the same budget (for
/// example 64, or [`Capabilities::max_burst`]), do its transmit work, and
/// go round again while any device used its whole budget. A device that
/// returned fewer frames than its budget is drained for now and waits for
/// [`poll_at`](Self::poll_at) or an external wake-up (its file descriptor,
/// an interrupt). That way one flooded device delays the others by at most
/// one budget per round instead of starving them.
///
/// # Time
///
/// Every call takes the caller's `now`; devices never read a clock.
/// [`poll_at`](Self::poll_at) says when the device next has something to
/// deliver that time alone will produce (a delayed frame on a link with
/// latency, a held frame in a fault injector), so that a simulation with a
/// fake clock can jump straight there.
///
/// # Example
///
/// ```
/// use lamina_netdev::{Device, Loopback, RxToken, TxToken};
/// use lamina_netbuf::Instant;
///
/// let mut dev = Loopback::default();
/// let now = Instant::ZERO;
/// dev.transmit(now).unwrap().consume(4, |buf| buf.copy_from_slice(b"ping"))?;
/// // A budget of 1: the reply is queued on the same loopback.
/// let handled = dev.poll_rx(now, 1, |frame, _meta, reply| {
///     assert_eq!(frame, b"ping");
///     // Answer on the same device with the lent reply token.
///     reply.consume(4, |buf| buf.copy_from_slice(b"pong")).unwrap();
/// });
/// assert_eq!(handled, 1);
/// let (rx, _tx) = dev.receive(now).unwrap();
/// assert_eq!(rx.consume(|frame| frame.to_vec()), b"pong");
/// # Ok::<(), lamina_netdev::Error>(())
/// ```
pub trait Device {
    /// The receive token; borrows the device.
    type RxToken<'a>: RxToken
    where
        Self: 'a;
    /// The transmit token; borrows the device.
    type TxToken<'a>: TxToken
    where
        Self: 'a;

    /// The next received frame, with a token to transmit a reply, or `None`
    /// if nothing is ready at `now`.
    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)>;

    /// A token to transmit one frame at `now`, or `None` if the device has
    /// no room (back-pressure).
    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>>;

    /// What the device can do.
    fn capabilities(&self) -> Capabilities;

    /// The device's traffic counters.
    fn stats(&self) -> Stats;

    /// The earliest instant at which time alone makes the device ready to
    /// deliver something (an instant not after the last `now` means "now");
    /// `None` when nothing is pending. Devices fed from outside (hardware,
    /// an OS interface) answer `None` and are woken by their interrupt or
    /// file descriptor instead.
    fn poll_at(&self) -> Option<Instant> {
        None
    }

    /// Called by the stack after a burst of transmits. Devices that batch
    /// (a doorbell write per burst, held frames) push them out here; the
    /// default does nothing.
    fn flush(&mut self, now: Instant) {
        let _ = now;
    }

    /// Receives at most `budget` frames, calling `handler` on each with the
    /// frame (in the device's buffer), its metadata and a token for a
    /// reply; returns how many frames it handled. Fewer than `budget` means
    /// the device is drained for now. See the trait documentation for how
    /// an interface should share its attention among devices.
    #[inline]
    fn poll_rx<F>(&mut self, now: Instant, budget: usize, mut handler: F) -> usize
    where
        F: FnMut(&mut [u8], RxMeta, Self::TxToken<'_>),
    {
        let mut done = 0;
        while done < budget {
            let Some((rx, tx)) = self.receive(now) else {
                break;
            };
            let meta = rx.meta();
            rx.consume(|frame| handler(frame, meta, tx));
            done += 1;
        }
        done
    }

    /// As [`poll_rx`](Self::poll_rx), for a handler that may keep frames
    /// (`lamina-socket`'s interface receives through this one from devices
    /// whose frames are large enough to keep while it has frames to keep,
    /// and through `poll_rx` otherwise: a device that overrides one should
    /// override both):
    /// it gets each frame as [`RxEvent::Frame`] and returns whether to keep
    /// its buffer; a kept buffer follows at once as [`RxEvent::Kept`] (the
    /// handler's answer to that event is ignored). Returns how many frames
    /// it handled.
    #[inline]
    fn poll_rx_keep<F>(&mut self, now: Instant, budget: usize, mut handler: F) -> usize
    where
        F: FnMut(RxEvent<'_, Self::TxToken<'_>>) -> bool,
    {
        let mut done = 0;
        while done < budget {
            let Some((rx, tx)) = self.receive(now) else {
                break;
            };
            let meta = rx.meta();
            let can_keep = rx.can_keep();
            let ((), kept) = rx.consume_keep(|frame| {
                let keep = handler(RxEvent::Frame {
                    frame,
                    meta,
                    reply: tx,
                    can_keep,
                });
                ((), keep && can_keep)
            });
            if let Some(k) = kept {
                handler(RxEvent::Kept(k));
            }
            done += 1;
        }
        done
    }

    /// Takes back the buffer of a frame given away earlier
    /// ([`KeptFrame::buf`]) for reuse; a device that cannot use it (or has
    /// enough) drops it. The default drops it.
    fn recycle(&mut self, buf: Vec<u8>) {
        drop(buf);
    }

    /// Lends a buffer of the device's own, [`Capabilities::max_frame_len`]
    /// bytes long, for a frame written ahead of time (a datagram's payload
    /// as the user sends it, the headers once it leaves) and sent later
    /// with [`TxToken::consume_owned`] without a copy. `None`, the
    /// default, from a device that lends none (or has none to lend now).
    /// A lent buffer is outside the device's bounded set until sent; one
    /// never sent is the borrower's to drop or [`recycle`](Self::recycle).
    fn tx_buffer(&mut self) -> Option<Vec<u8>> {
        None
    }
}

impl<D: Device + ?Sized> Device for &mut D {
    type RxToken<'a>
        = D::RxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = D::TxToken<'a>
    where
        Self: 'a;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        (**self).receive(now)
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        (**self).transmit(now)
    }

    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }

    fn stats(&self) -> Stats {
        (**self).stats()
    }

    fn poll_at(&self) -> Option<Instant> {
        (**self).poll_at()
    }

    fn flush(&mut self, now: Instant) {
        (**self).flush(now)
    }

    fn recycle(&mut self, buf: Vec<u8>) {
        (**self).recycle(buf)
    }

    fn tx_buffer(&mut self) -> Option<Vec<u8>> {
        (**self).tx_buffer()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Loopback;

    /// Drives any device through a `&mut` reference, as a wrapper would.
    fn echo_all<D: Device>(mut dev: D, now: Instant) -> usize {
        dev.poll_rx(now, 4, |frame, meta, reply| {
            assert!(meta.timestamp.is_some());
            let len = frame.len();
            reply
                .consume(len, |out| out.copy_from_slice(frame))
                .unwrap();
        })
    }

    /// A device that lends no buffers (the default) has none to lend, and
    /// its tokens send an owned buffer by copying it.
    #[test]
    fn a_device_without_lending_copies_an_owned_buffer() {
        let mut lo = Loopback::new(Capabilities::default(), 4);
        // (Through a reference too, as a wrapper would ask.)
        let mut by_ref = &mut lo;
        assert!(Device::tx_buffer(&mut by_ref).is_none());
        let t = lo.transmit(Instant::ZERO).unwrap();
        let back = t.consume_owned(b"abcdef".to_vec(), 4).unwrap();
        assert_eq!(back.as_deref(), Some(&b"abcdef"[..]));
        let mut got = alloc::vec::Vec::new();
        lo.poll_rx(Instant::ZERO, 4, |frame, _, _| got.extend_from_slice(frame));
        assert_eq!(got, b"abcd");
    }

    /// A device that cannot keep frames (the default) never hands one
    /// over, whatever the handler asks.
    #[test]
    fn a_device_without_keeping_ignores_the_request() {
        let mut lo = Loopback::new(Capabilities::default(), 4);
        lo.transmit(Instant::ZERO)
            .unwrap()
            .consume(3, |f| f.copy_from_slice(b"abc"))
            .unwrap();
        let mut seen = 0;
        let mut kept = 0;
        lo.poll_rx_keep(Instant::ZERO, 4, |ev| match ev {
            RxEvent::Frame {
                frame, can_keep, ..
            } => {
                assert!(!can_keep);
                assert_eq!(frame, b"abc");
                seen += 1;
                true
            }
            RxEvent::Kept(_) => {
                kept += 1;
                false
            }
            RxEvent::Shared { .. } => panic!("a loopback copies payloads"),
        });
        assert_eq!((seen, kept), (1, 0));
    }

    #[test]
    fn poll_rx_stops_at_the_budget() {
        let mut lo = Loopback::new(Capabilities::default(), 16);
        for i in 0..10u8 {
            lo.transmit(Instant::ZERO)
                .unwrap()
                .consume(1, |f| f[0] = i)
                .unwrap();
        }
        // Each handled frame is echoed back into the queue, so only the
        // budget stops the loop.
        assert_eq!(echo_all(&mut lo, Instant::ZERO), 4);
        assert_eq!(lo.queued(), 10);
        assert_eq!(lo.stats().rx_packets, 4);
        assert_eq!(lo.stats().tx_packets, 14);
    }

    #[test]
    fn poll_rx_reports_a_drained_device_with_fewer_than_budget() {
        let mut lo = Loopback::default();
        lo.transmit(Instant::ZERO)
            .unwrap()
            .consume(1, |f| f[0] = 0)
            .unwrap();
        let mut n = 0;
        assert_eq!(lo.poll_rx(Instant::ZERO, 64, |_, _, _| n += 1), 1);
        assert_eq!(n, 1);
        assert_eq!(lo.poll_rx(Instant::ZERO, 64, |_, _, _| {}), 0);
    }
}
