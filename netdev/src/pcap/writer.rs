//! [`PcapWriter`]: records a device's traffic to pcap or pcapng.

use alloc::borrow::Cow;
use alloc::string::ToString;
use alloc::vec;
use core::cell::RefCell;
use core::fmt;
use std::io::{self, Write};

use lamina_netbuf::Instant;
use pcap_file::pcap::{PcapHeader, PcapPacket};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::{DataLink, Endianness, PcapError, TsResolution};

use super::MAX_FRAME_LEN;
use crate::{Capabilities, Device, Error, RxMeta, RxToken, Stats, TxMeta, TxToken};

/// The file format a [`PcapWriter`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum PcapFormat {
    /// Classic libpcap, microsecond timestamps, native byte order.
    #[default]
    Pcap,
    /// pcapng: one section, one interface (nanosecond timestamps), each
    /// frame an enhanced packet block flagged inbound or outbound.
    PcapNg,
}

enum SinkKind<W: Write> {
    Pcap(pcap_file::pcap::PcapWriter<W>),
    PcapNg(PcapNgWriter<W>),
}

struct Sink<W: Write> {
    kind: SinkKind<W>,
    error: Option<Error>,
    frames: u64,
}

#[derive(Clone, Copy)]
enum Direction {
    Inbound,
    Outbound,
}

fn convert(e: PcapError) -> Error {
    match e {
        PcapError::IoError(io) => Error::Io(io),
        other => Error::Io(io::Error::other(other.to_string())),
    }
}

impl<W: Write> Sink<W> {
    fn record(&mut self, data: &[u8], now: Instant, dir: Direction) {
        if self.error.is_some() {
            return;
        }
        let ts = core::time::Duration::from_micros(now.total_micros());
        let orig_len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let captured = data.get(..MAX_FRAME_LEN as usize).unwrap_or(data);
        let result = match &mut self.kind {
            SinkKind::Pcap(w) => w
                .write_packet(&PcapPacket::new(ts, orig_len, captured))
                .map(drop),
            SinkKind::PcapNg(w) => {
                // epb_flags bits 0-1: 01 inbound, 10 outbound.
                let flags = match dir {
                    Direction::Inbound => 1,
                    Direction::Outbound => 2,
                };
                w.write_pcapng_block(EnhancedPacketBlock {
                    interface_id: 0,
                    timestamp: ts,
                    original_len: orig_len,
                    data: Cow::Borrowed(captured),
                    options: vec![EnhancedPacketOption::Flags(flags)],
                })
                .map(drop)
            }
        };
        match result {
            Ok(()) => self.frames = self.frames.wrapping_add(1),
            Err(e) => self.error = Some(convert(e)),
        }
    }
}

/// A [`Device`] wrapper that records every frame received and transmitted
/// to a pcap or pcapng file, with the caller's `now` as timestamp (the
/// `now` of the `receive`/`transmit` call that produced the token).
///
/// The link type follows the inner device's medium (Ethernet 1, raw IP
/// 101). Received frames are recorded before the stack sees them (it may
/// rewrite them in place), transmitted ones after the stack wrote them. A
/// write error stops the recording (the device keeps working) and is kept
/// for [`take_error`](Self::take_error). Frames pass through zero-copy;
/// [`Stats`] are the inner device's.
///
/// ```no_run
/// use lamina_netdev::pcap::{PcapFormat, PcapWriter};
/// use lamina_netdev::{Device, Loopback, TxToken};
/// use lamina_netbuf::Instant;
///
/// let file = std::io::BufWriter::new(std::fs::File::create("lo.pcapng")?);
/// let mut dev = PcapWriter::new(Loopback::default(), file, PcapFormat::PcapNg)?;
/// dev.transmit(Instant::from_secs(1)).unwrap().consume(60, |f| f.fill(0xff))?;
/// assert_eq!(dev.frames_written(), 1);
/// let (_lo, mut file) = dev.into_parts();
/// std::io::Write::flush(&mut file)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PcapWriter<D, W: Write> {
    inner: D,
    sink: RefCell<Sink<W>>,
}

impl<D: fmt::Debug, W: Write> fmt::Debug for PcapWriter<D, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PcapWriter")
            .field("inner", &self.inner)
            .field("frames_written", &self.frames_written())
            .finish_non_exhaustive()
    }
}

impl<D: Device, W: Write> PcapWriter<D, W> {
    /// Wraps `inner`, writing the file header (and, for pcapng, the section
    /// header and interface description) to `writer` now.
    pub fn new(inner: D, writer: W, format: PcapFormat) -> Result<PcapWriter<D, W>, Error> {
        let link_type = super::link_type_of_medium(inner.capabilities().medium);
        let datalink = DataLink::from(link_type);
        let kind = match format {
            PcapFormat::Pcap => SinkKind::Pcap(
                pcap_file::pcap::PcapWriter::with_header(
                    writer,
                    PcapHeader {
                        version_major: 2,
                        version_minor: 4,
                        ts_correction: 0,
                        ts_accuracy: 0,
                        snaplen: MAX_FRAME_LEN,
                        datalink,
                        ts_resolution: TsResolution::MicroSecond,
                        endianness: Endianness::native(),
                    },
                )
                .map_err(convert)?,
            ),
            PcapFormat::PcapNg => {
                let mut w = PcapNgWriter::new(writer).map_err(convert)?;
                // pcap-file writes timestamps in nanoseconds: say so
                // (if_tsresol = 9), the default being microseconds.
                w.write_pcapng_block(InterfaceDescriptionBlock {
                    linktype: datalink,
                    snaplen: MAX_FRAME_LEN,
                    options: vec![InterfaceDescriptionOption::IfTsResol(9)],
                })
                .map_err(convert)?;
                SinkKind::PcapNg(w)
            }
        };
        Ok(PcapWriter {
            inner,
            sink: RefCell::new(Sink {
                kind,
                error: None,
                frames: 0,
            }),
        })
    }
}

impl<D, W: Write> PcapWriter<D, W> {
    /// Frames recorded so far.
    pub fn frames_written(&self) -> u64 {
        self.sink.borrow().frames
    }

    /// The write error that stopped the recording, if any.
    pub fn take_error(&mut self) -> Option<Error> {
        self.sink.get_mut().error.take()
    }

    /// The wrapped device.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// The wrapped device, mutably.
    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.inner
    }

    /// The wrapped device and the writer (not flushed).
    pub fn into_parts(self) -> (D, W) {
        let writer = match self.sink.into_inner().kind {
            SinkKind::Pcap(w) => w.into_writer(),
            SinkKind::PcapNg(w) => w.into_inner(),
        };
        (self.inner, writer)
    }
}

/// The receive token of a [`PcapWriter`].
pub struct PcapWriterRxToken<'a, D: Device + 'a, W: Write> {
    inner: D::RxToken<'a>,
    sink: &'a RefCell<Sink<W>>,
    now: Instant,
}

/// The transmit token of a [`PcapWriter`].
pub struct PcapWriterTxToken<'a, D: Device + 'a, W: Write> {
    inner: D::TxToken<'a>,
    sink: &'a RefCell<Sink<W>>,
    now: Instant,
}

impl<D: Device, W: Write> fmt::Debug for PcapWriterRxToken<'_, D, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PcapWriterRxToken")
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl<D: Device, W: Write> fmt::Debug for PcapWriterTxToken<'_, D, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PcapWriterTxToken")
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl<D: Device, W: Write> RxToken for PcapWriterRxToken<'_, D, W> {
    fn meta(&self) -> RxMeta {
        self.inner.meta()
    }

    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let (sink, now) = (self.sink, self.now);
        self.inner.consume(|frame| {
            sink.borrow_mut().record(frame, now, Direction::Inbound);
            f(frame)
        })
    }
}

impl<D: Device, W: Write> TxToken for PcapWriterTxToken<'_, D, W> {
    fn set_meta(&mut self, meta: TxMeta) {
        self.inner.set_meta(meta);
    }

    fn consume<R, F>(self, len: usize, f: F) -> Result<R, Error>
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let (sink, now) = (self.sink, self.now);
        self.inner.consume(len, |frame| {
            let r = f(frame);
            sink.borrow_mut().record(frame, now, Direction::Outbound);
            r
        })
    }
}

impl<D: Device, W: Write> Device for PcapWriter<D, W> {
    type RxToken<'a>
        = PcapWriterRxToken<'a, D, W>
    where
        Self: 'a;
    type TxToken<'a>
        = PcapWriterTxToken<'a, D, W>
    where
        Self: 'a;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let (rx, tx) = self.inner.receive(now)?;
        Some((
            PcapWriterRxToken {
                inner: rx,
                sink: &self.sink,
                now,
            },
            PcapWriterTxToken {
                inner: tx,
                sink: &self.sink,
                now,
            },
        ))
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        let tx = self.inner.transmit(now)?;
        Some(PcapWriterTxToken {
            inner: tx,
            sink: &self.sink,
            now,
        })
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn stats(&self) -> Stats {
        self.inner.stats()
    }

    fn poll_at(&self) -> Option<Instant> {
        self.inner.poll_at()
    }

    fn flush(&mut self, now: Instant) {
        self.inner.flush(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pcap::{CaptureFormat, CaptureReader};
    use crate::{Capabilities, Loopback, Medium};
    use alloc::vec::Vec;

    /// Transmits "hello" at 1.000001 s and receives it at 2.000002 s,
    /// through a recorder; returns the frames recorded and the file.
    fn exchange(format: PcapFormat, medium: Medium) -> (u64, Vec<u8>) {
        let lo = Loopback::new(Capabilities::new(medium, 1500), 8);
        let mut dev = PcapWriter::new(lo, Vec::new(), format).unwrap();
        dev.transmit(Instant::from_micros(1_000_001))
            .unwrap()
            .consume(5, |f| f.copy_from_slice(b"hello"))
            .unwrap();
        let (rx, _) = dev.receive(Instant::from_micros(2_000_002)).unwrap();
        // The recording shows the frame as received, before the stack
        // rewrites it in place.
        rx.consume(|f| f.fill(0));
        let written = dev.frames_written();
        (written, dev.into_parts().1)
    }

    #[test]
    fn records_both_directions_to_pcap_with_the_callers_timestamps() {
        let (written, file) = exchange(PcapFormat::Pcap, Medium::Ip);
        assert_eq!(written, 2);
        let mut r = CaptureReader::new(&file[..]).unwrap();
        assert!(matches!(
            r.format(),
            CaptureFormat::Pcap {
                nanosecond: false,
                ..
            }
        ));
        assert_eq!(r.link_type(), Some(super::super::LINKTYPE_RAW));
        let a = r.next_frame().unwrap().unwrap();
        assert_eq!((a.data, a.timestamp_ns), (&b"hello"[..], 1_000_001_000));
        let b = r.next_frame().unwrap().unwrap();
        assert_eq!((b.data, b.timestamp_ns), (&b"hello"[..], 2_000_002_000));
        assert!(r.next_frame().unwrap().is_none());
    }

    #[test]
    fn records_both_directions_to_pcapng_with_nanosecond_resolution() {
        let (written, file) = exchange(PcapFormat::PcapNg, Medium::Ethernet);
        assert_eq!(written, 2);
        let mut r = CaptureReader::new(&file[..]).unwrap();
        assert_eq!(r.format(), CaptureFormat::PcapNg);
        let a = r.next_frame().unwrap().unwrap();
        assert_eq!(
            (a.data, a.timestamp_ns, a.link_type),
            (&b"hello"[..], 1_000_001_000, 1)
        );
        let b = r.next_frame().unwrap().unwrap();
        assert_eq!((b.data, b.timestamp_ns), (&b"hello"[..], 2_000_002_000));
        assert!(r.next_frame().unwrap().is_none());
    }

    /// A writer that fails after `left` bytes.
    struct Failing {
        left: usize,
    }

    impl Write for Failing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Err(io::Error::other("disk full"));
            }
            let n = buf.len().min(self.left);
            self.left -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn write_error_stops_recording_but_not_the_device() {
        let mut dev =
            PcapWriter::new(Loopback::default(), Failing { left: 30 }, PcapFormat::Pcap).unwrap();
        for _ in 0..3 {
            dev.transmit(Instant::ZERO)
                .unwrap()
                .consume(60, |f| f.fill(0))
                .unwrap();
        }
        assert_eq!(dev.inner().queued(), 3);
        assert_eq!(dev.frames_written(), 0);
        assert!(matches!(dev.take_error(), Some(Error::Io(_))));
    }
}
