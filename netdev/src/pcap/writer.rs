//! [`PcapWriter`]: records a device's traffic to pcap or pcapng.
//! [`PcapNgFile`] and [`PcapNgCapture`]: several devices recorded into one
//! pcapng file, one interface each.

use alloc::borrow::Cow;
use alloc::rc::Rc;
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
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};
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

/// Writes one enhanced packet block: `captured` (a prefix of a frame of
/// `orig_len` bytes) seen on interface `interface` at `ts`.
fn write_epb<W: Write>(
    w: &mut PcapNgWriter<W>,
    interface: u32,
    captured: &[u8],
    orig_len: u32,
    ts: core::time::Duration,
    dir: Direction,
) -> Result<(), PcapError> {
    // epb_flags bits 0-1: 01 inbound, 10 outbound.
    let flags = match dir {
        Direction::Inbound => 1,
        Direction::Outbound => 2,
    };
    w.write_pcapng_block(EnhancedPacketBlock {
        interface_id: interface,
        timestamp: ts,
        original_len: orig_len,
        data: Cow::Borrowed(captured),
        options: vec![EnhancedPacketOption::Flags(flags)],
    })
    .map(drop)
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
            SinkKind::PcapNg(w) => write_epb(w, 0, captured, orig_len, ts, dir),
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

/// The state of a [`PcapNgFile`], shared by its handles.
struct NgState<W: Write> {
    writer: PcapNgWriter<W>,
    error: Option<Error>,
    /// Set by the first write error, for good: a file with a hole in the
    /// middle would mislead more than one cut short.
    stopped: bool,
    frames: u64,
    interfaces: u32,
}

impl<W: Write> NgState<W> {
    fn record(
        &mut self,
        interface: u32,
        snaplen: usize,
        data: &[u8],
        now: Instant,
        dir: Direction,
    ) -> bool {
        if self.stopped {
            return false;
        }
        let ts = core::time::Duration::from_micros(now.total_micros());
        let orig_len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let captured = data.get(..snaplen).unwrap_or(data);
        match write_epb(&mut self.writer, interface, captured, orig_len, ts, dir) {
            Ok(()) => {
                self.frames = self.frames.wrapping_add(1);
                true
            }
            Err(e) => {
                self.error = Some(convert(e));
                self.stopped = true;
                false
            }
        }
    }
}

/// One pcapng file that several devices record into, each as its own
/// interface (an interface description block with the name given, so
/// that Wireshark and `tshark -r FILE -T fields -e frame.interface_name`
/// tell the links apart): a whole simulated network in one capture.
///
/// A `PcapNgFile` is a handle; clones share the file, and
/// [`capture`](Self::capture) wraps a device in a [`PcapNgCapture`] that
/// holds one too. The handles share the writer through `Rc<RefCell<_>>`,
/// so they are not `Send`: like the in-memory [`wire`](crate::wire)s, a
/// simulation and its capture live in one thread.
///
/// Every frame is an enhanced packet block with nanosecond timestamps (the
/// caller's `now`, as for [`PcapWriter`]) and its direction (inbound or
/// outbound, as seen by the device), cut to its interface's snap length.
/// The section is written in the machine's byte order. A write error stops
/// the recording of every interface (the devices keep working) and is kept
/// for [`take_error`](Self::take_error). Only [`flush`](Self::flush)
/// flushes the writer; [`into_inner`](Self::into_inner) hands it back as
/// it is.
///
/// ```
/// use lamina_netdev::pcap::{CaptureReader, PcapNgFile};
/// use lamina_netdev::{wire, Device, LinkConfig, TxToken};
/// use lamina_netbuf::Instant;
///
/// let file = PcapNgFile::new(Vec::new())?;
/// let (lan, _lan_peer) = wire(LinkConfig::new());
/// let (wan, _wan_peer) = wire(LinkConfig::new());
/// let mut lan = file.capture(lan, "lan", 0)?; // whole frames
/// let mut wan = file.capture(wan, "wan", 64)?; // the first 64 bytes
/// let now = Instant::from_millis(5);
/// lan.transmit(now).unwrap().consume(60, |f| f.fill(0xaa))?;
/// wan.transmit(now).unwrap().consume(1000, |f| f.fill(0xbb))?;
/// assert_eq!((file.interfaces(), file.frames_written()), (2, 2));
///
/// // The devices hold handles too: end them first.
/// drop((lan.into_inner(), wan.into_inner()));
/// let bytes = file.into_inner().ok().unwrap();
/// let mut reader = CaptureReader::new(&bytes[..])?;
/// let a = reader.next_frame()?.unwrap();
/// assert_eq!((a.interface, a.data.len(), a.orig_len), (0, 60, 60));
/// let b = reader.next_frame()?.unwrap();
/// assert_eq!((b.interface, b.data.len(), b.orig_len), (1, 64, 1000));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PcapNgFile<W: Write> {
    state: Rc<RefCell<NgState<W>>>,
}

impl<W: Write> Clone for PcapNgFile<W> {
    fn clone(&self) -> PcapNgFile<W> {
        PcapNgFile {
            state: Rc::clone(&self.state),
        }
    }
}

impl<W: Write> fmt::Debug for PcapNgFile<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.borrow();
        f.debug_struct("PcapNgFile")
            .field("interfaces", &state.interfaces)
            .field("frames_written", &state.frames)
            .field("error", &state.error)
            .finish_non_exhaustive()
    }
}

impl<W: Write> PcapNgFile<W> {
    /// Starts a pcapng file on `writer`: writes its section header block
    /// now (naming `lamina-netdev` as the writing application). Interfaces
    /// come with [`capture`](Self::capture).
    pub fn new(writer: W) -> Result<PcapNgFile<W>, Error> {
        let section = SectionHeaderBlock {
            endianness: Endianness::native(),
            options: vec![SectionHeaderOption::UserApplication(Cow::Borrowed(
                concat!("lamina-netdev ", env!("CARGO_PKG_VERSION")),
            ))],
            ..SectionHeaderBlock::default()
        };
        let writer = PcapNgWriter::with_section_header(writer, section).map_err(convert)?;
        Ok(PcapNgFile {
            state: Rc::new(RefCell::new(NgState {
                writer,
                error: None,
                stopped: false,
                frames: 0,
                interfaces: 0,
            })),
        })
    }

    /// Adds an interface named `name` (pcapng `if_name`) and wraps
    /// `device` so that its frames are recorded on it. The link type
    /// follows the device's medium (Ethernet 1, raw IP 101). `snaplen`
    /// caps the bytes kept of each frame (the original length is recorded
    /// too); 0 keeps whole frames (up to
    /// [`MAX_FRAME_LEN`](super::MAX_FRAME_LEN)). The interface description
    /// is written now, so interfaces are numbered 0, 1, … in the order of
    /// the calls.
    pub fn capture<D: Device>(
        &self,
        device: D,
        name: &str,
        snaplen: u32,
    ) -> Result<PcapNgCapture<D, W>, Error> {
        let link_type = super::link_type_of_medium(device.capabilities().medium);
        let mut state = self.state.borrow_mut();
        if state.stopped {
            return Err(Error::Io(io::Error::other(
                "pcapng recording stopped by an earlier write error",
            )));
        }
        let interface = state.interfaces;
        let mut options = vec![InterfaceDescriptionOption::IfTsResol(9)];
        if !name.is_empty() {
            options.insert(0, InterfaceDescriptionOption::IfName(Cow::Borrowed(name)));
        }
        let written = state.writer.write_pcapng_block(InterfaceDescriptionBlock {
            linktype: DataLink::from(link_type),
            snaplen,
            options,
        });
        if let Err(e) = written {
            // Perhaps half written: nothing after it would read back.
            state.stopped = true;
            return Err(convert(e));
        }
        state.interfaces = interface.saturating_add(1);
        let keep = match snaplen {
            0 => MAX_FRAME_LEN,
            n => n.min(MAX_FRAME_LEN),
        };
        drop(state);
        Ok(PcapNgCapture {
            inner: device,
            file: self.clone(),
            interface,
            snaplen: keep as usize,
            frames: core::cell::Cell::new(0),
        })
    }

    /// Interfaces described so far.
    pub fn interfaces(&self) -> u32 {
        self.state.borrow().interfaces
    }

    /// Frames recorded so far, on all interfaces.
    pub fn frames_written(&self) -> u64 {
        self.state.borrow().frames
    }

    /// The write error that stopped the recording, if any (taken: a second
    /// call returns `None`, and recording stays stopped).
    pub fn take_error(&self) -> Option<Error> {
        self.state.borrow_mut().error.take()
    }

    /// Flushes the underlying writer.
    pub fn flush(&self) -> Result<(), Error> {
        self.state
            .borrow_mut()
            .writer
            .get_mut()
            .flush()
            .map_err(Error::Io)
    }

    /// The underlying writer (not flushed), if this is the last handle to
    /// the file; otherwise the handle back. End the [`PcapNgCapture`]s
    /// first (with [`PcapNgCapture::into_inner`] or by dropping them).
    pub fn into_inner(self) -> Result<W, PcapNgFile<W>> {
        match Rc::try_unwrap(self.state) {
            Ok(state) => Ok(state.into_inner().writer.into_inner()),
            Err(state) => Err(PcapNgFile { state }),
        }
    }
}

/// A [`Device`] wrapper that records every frame received and transmitted
/// into a shared [`PcapNgFile`], as one of its interfaces; made by
/// [`PcapNgFile::capture`].
///
/// As with [`PcapWriter`], received frames are recorded before the stack
/// sees them and transmitted ones after the stack wrote them, frames pass
/// through zero-copy, and [`Stats`] are the inner device's. Wrap it inside
/// a [`FaultInjector`](crate::FaultInjector) to record what the link
/// carries (frames the injector drops are then never recorded); wrap the
/// injector in it to record what the stack sent.
pub struct PcapNgCapture<D, W: Write> {
    inner: D,
    file: PcapNgFile<W>,
    interface: u32,
    snaplen: usize,
    frames: core::cell::Cell<u64>,
}

impl<D: fmt::Debug, W: Write> fmt::Debug for PcapNgCapture<D, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PcapNgCapture")
            .field("inner", &self.inner)
            .field("interface", &self.interface)
            .field("snaplen", &self.snaplen)
            .field("frames_written", &self.frames.get())
            .finish_non_exhaustive()
    }
}

impl<D, W: Write> PcapNgCapture<D, W> {
    /// The pcapng interface number of this device in the file.
    pub fn interface_id(&self) -> u32 {
        self.interface
    }

    /// Frames of this device recorded so far.
    pub fn frames_written(&self) -> u64 {
        self.frames.get()
    }

    /// The file this device records into.
    pub fn file(&self) -> &PcapNgFile<W> {
        &self.file
    }

    /// The wrapped device.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// The wrapped device, mutably.
    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.inner
    }

    /// The wrapped device; this handle to the file is dropped.
    pub fn into_inner(self) -> D {
        self.inner
    }
}

/// What a [`PcapNgCapture`]'s tokens need to record a frame (borrowed
/// beside the inner device's own token).
struct Recorder<'a, W: Write> {
    file: &'a PcapNgFile<W>,
    frames: &'a core::cell::Cell<u64>,
    interface: u32,
    snaplen: usize,
}

impl<W: Write> Clone for Recorder<'_, W> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<W: Write> Copy for Recorder<'_, W> {}

impl<W: Write> Recorder<'_, W> {
    fn record(self, data: &[u8], now: Instant, dir: Direction) {
        let written =
            self.file
                .state
                .borrow_mut()
                .record(self.interface, self.snaplen, data, now, dir);
        if written {
            self.frames.set(self.frames.get().wrapping_add(1));
        }
    }
}

impl<D, W: Write> PcapNgCapture<D, W> {
    /// The inner device and a recorder for its tokens, borrowed apart.
    fn split(&mut self) -> (&mut D, Recorder<'_, W>) {
        (
            &mut self.inner,
            Recorder {
                file: &self.file,
                frames: &self.frames,
                interface: self.interface,
                snaplen: self.snaplen,
            },
        )
    }
}

/// The receive token of a [`PcapNgCapture`].
pub struct PcapNgCaptureRxToken<'a, D: Device + 'a, W: Write> {
    inner: D::RxToken<'a>,
    recorder: Recorder<'a, W>,
    now: Instant,
}

/// The transmit token of a [`PcapNgCapture`].
pub struct PcapNgCaptureTxToken<'a, D: Device + 'a, W: Write> {
    inner: D::TxToken<'a>,
    recorder: Recorder<'a, W>,
    now: Instant,
}

impl<D: Device, W: Write> fmt::Debug for PcapNgCaptureRxToken<'_, D, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PcapNgCaptureRxToken")
            .field("interface", &self.recorder.interface)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl<D: Device, W: Write> fmt::Debug for PcapNgCaptureTxToken<'_, D, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PcapNgCaptureTxToken")
            .field("interface", &self.recorder.interface)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl<D: Device, W: Write> RxToken for PcapNgCaptureRxToken<'_, D, W> {
    fn meta(&self) -> RxMeta {
        self.inner.meta()
    }

    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let (recorder, now) = (self.recorder, self.now);
        self.inner.consume(|frame| {
            recorder.record(frame, now, Direction::Inbound);
            f(frame)
        })
    }
}

impl<D: Device, W: Write> TxToken for PcapNgCaptureTxToken<'_, D, W> {
    fn set_meta(&mut self, meta: TxMeta) {
        self.inner.set_meta(meta);
    }

    fn consume<R, F>(self, len: usize, f: F) -> Result<R, Error>
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let (recorder, now) = (self.recorder, self.now);
        self.inner.consume(len, |frame| {
            let r = f(frame);
            recorder.record(frame, now, Direction::Outbound);
            r
        })
    }
}

impl<D: Device, W: Write> Device for PcapNgCapture<D, W> {
    type RxToken<'a>
        = PcapNgCaptureRxToken<'a, D, W>
    where
        Self: 'a;
    type TxToken<'a>
        = PcapNgCaptureTxToken<'a, D, W>
    where
        Self: 'a;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let (inner, recorder) = self.split();
        let (rx, tx) = inner.receive(now)?;
        Some((
            PcapNgCaptureRxToken {
                inner: rx,
                recorder,
                now,
            },
            PcapNgCaptureTxToken {
                inner: tx,
                recorder,
                now,
            },
        ))
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        let (inner, recorder) = self.split();
        let tx = inner.transmit(now)?;
        Some(PcapNgCaptureTxToken {
            inner: tx,
            recorder,
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

    use alloc::string::String;
    use pcap_file::pcapng::{Block, PcapNgReader};

    /// Sends `frame` out of `dev` and takes it back in (a loopback).
    fn round_trip<D: Device>(dev: &mut D, frame: &[u8], out: Instant, back: Instant) {
        dev.transmit(out)
            .unwrap()
            .consume(frame.len(), |f| f.copy_from_slice(frame))
            .unwrap();
        let (rx, _) = dev.receive(back).unwrap();
        rx.consume(|f| f.fill(0));
    }

    /// The interface descriptions and the packets of a pcapng file, as
    /// pcap-file (an independent reader) sees them: `(if_name, link type,
    /// snaplen)` and `(interface, flags, captured bytes, original length,
    /// nanoseconds)`.
    #[allow(clippy::type_complexity)]
    fn read_with_pcap_file(
        bytes: &[u8],
    ) -> (Vec<(String, u16, u32)>, Vec<(u32, u32, Vec<u8>, u32, u128)>) {
        let mut reader = PcapNgReader::new(bytes).unwrap();
        let (mut ifaces, mut packets) = (Vec::new(), Vec::new());
        while let Some(block) = reader.next_block() {
            match block.unwrap() {
                Block::InterfaceDescription(idb) => {
                    let name = idb
                        .options
                        .iter()
                        .find_map(|o| match o {
                            InterfaceDescriptionOption::IfName(n) => Some(n.to_string()),
                            _ => None,
                        })
                        .unwrap_or_default();
                    ifaces.push((name, u32::from(idb.linktype) as u16, idb.snaplen));
                }
                Block::EnhancedPacket(epb) => {
                    let flags = epb
                        .options
                        .iter()
                        .find_map(|o| match o {
                            EnhancedPacketOption::Flags(f) => Some(*f),
                            _ => None,
                        })
                        .unwrap();
                    packets.push((
                        epb.interface_id,
                        flags,
                        epb.data.to_vec(),
                        epb.original_len,
                        epb.timestamp.as_nanos(),
                    ));
                }
                _ => {}
            }
        }
        (ifaces, packets)
    }

    /// pcapng (IETF draft-ietf-opsawg-pcapng §4.2, §4.3): each device is
    /// its own interface, described once with its name, link type and snap
    /// length; each frame is tagged with its interface and direction.
    #[test]
    fn pcapng_file_records_each_device_as_its_own_named_interface() {
        let file = PcapNgFile::new(Vec::new()).unwrap();
        let eth = Loopback::new(Capabilities::new(Medium::Ethernet, 1500), 8);
        let ip = Loopback::new(Capabilities::new(Medium::Ip, 1500), 8);
        let mut lan = file.capture(eth, "lan", 0).unwrap();
        let mut wan = file.capture(ip, "wan", 0).unwrap();
        assert_eq!((lan.interface_id(), wan.interface_id()), (0, 1));
        round_trip(
            &mut wan,
            b"wan frame",
            Instant::from_micros(10),
            Instant::from_micros(20),
        );
        round_trip(
            &mut lan,
            b"lan frame",
            Instant::from_micros(30),
            Instant::from_micros(40),
        );
        assert_eq!((lan.frames_written(), wan.frames_written()), (2, 2));
        assert_eq!(file.frames_written(), 4);
        drop((lan, wan));
        let bytes = file.into_inner().ok().unwrap();

        let (ifaces, packets) = read_with_pcap_file(&bytes);
        assert_eq!(
            ifaces,
            [
                ("lan".to_string(), super::super::LINKTYPE_ETHERNET as u16, 0),
                ("wan".to_string(), super::super::LINKTYPE_RAW as u16, 0)
            ]
        );
        let summary: Vec<_> = packets
            .iter()
            .map(|(i, flags, data, _, ns)| (*i, *flags, data.as_slice(), *ns))
            .collect();
        assert_eq!(
            summary,
            [
                (1, 2, &b"wan frame"[..], 10_000),
                (1, 1, &b"wan frame"[..], 20_000),
                (0, 2, &b"lan frame"[..], 30_000),
                (0, 1, &b"lan frame"[..], 40_000),
            ]
        );

        // Lamina's own reader agrees on interfaces and link types.
        let mut r = CaptureReader::new(&bytes[..]).unwrap();
        let first = r.next_frame().unwrap().unwrap();
        assert_eq!((first.interface, first.link_type), (1, 101));
        r.next_frame().unwrap().unwrap();
        let third = r.next_frame().unwrap().unwrap();
        assert_eq!((third.interface, third.link_type), (0, 1));
    }

    /// pcapng §4.2 (SnapLen) and §4.3 (Captured vs Original Packet
    /// Length): frames longer than the snap length are cut, and keep
    /// their length on the wire; shorter ones are whole.
    #[test]
    fn snap_length_cuts_long_frames_and_keeps_their_original_length() {
        let file = PcapNgFile::new(Vec::new()).unwrap();
        let mut dev = file.capture(Loopback::default(), "bulk", 128).unwrap();
        let big: Vec<u8> = (0..1514u32).map(|i| i as u8).collect();
        round_trip(&mut dev, &big, Instant::ZERO, Instant::ZERO);
        round_trip(&mut dev, &big[..60], Instant::ZERO, Instant::ZERO);
        drop(dev);
        let (ifaces, packets) = read_with_pcap_file(&file.into_inner().ok().unwrap());
        assert_eq!(ifaces[0].2, 128);
        let lens: Vec<_> = packets.iter().map(|p| (p.2.len(), p.3)).collect();
        assert_eq!(lens, [(128, 1514), (128, 1514), (60, 60), (60, 60)]);
        assert_eq!(packets[0].2, &big[..128]);
    }

    /// The file stays with its last handle: while a capture holds one,
    /// `into_inner` gives the handle back.
    #[test]
    fn into_inner_returns_the_writer_only_to_the_last_handle() {
        let file = PcapNgFile::new(Vec::new()).unwrap();
        let dev = file.capture(Loopback::default(), "lo", 0).unwrap();
        let file = file.into_inner().expect_err("the capture holds a handle");
        let _lo: Loopback = dev.into_inner();
        let bytes = file.into_inner().ok().unwrap();
        let (ifaces, packets) = read_with_pcap_file(&bytes);
        assert_eq!((ifaces.len(), packets.len()), (1, 0));
    }

    #[test]
    fn write_error_stops_every_interface_but_not_the_devices() {
        // Room for the section header and both interface descriptions,
        // not for a packet.
        let file = PcapNgFile::new(Failing { left: 200 }).unwrap();
        let mut a = file.capture(Loopback::default(), "a", 0).unwrap();
        let mut b = file.capture(Loopback::default(), "b", 0).unwrap();
        for dev in [&mut a, &mut b] {
            for _ in 0..2 {
                dev.transmit(Instant::ZERO)
                    .unwrap()
                    .consume(60, |f| f.fill(0))
                    .unwrap();
            }
            assert_eq!(dev.inner().queued(), 2);
        }
        assert_eq!(file.frames_written(), 0);
        assert_eq!((a.frames_written(), b.frames_written()), (0, 0));
        assert!(matches!(file.take_error(), Some(Error::Io(_))));
        assert!(file.take_error().is_none(), "taken");
        // Still stopped after the error was taken.
        a.transmit(Instant::ZERO)
            .unwrap()
            .consume(60, |f| f.fill(0))
            .unwrap();
        assert_eq!(file.frames_written(), 0);
    }

    #[test]
    fn a_half_written_interface_description_stops_the_file() {
        let header_len = PcapNgFile::new(Vec::new())
            .unwrap()
            .into_inner()
            .ok()
            .unwrap()
            .len();
        let file = PcapNgFile::new(Failing {
            left: header_len + 4,
        })
        .unwrap();
        assert!(matches!(
            file.capture(Loopback::default(), "lan", 0),
            Err(Error::Io(_))
        ));
        assert!(file.capture(Loopback::default(), "wan", 0).is_err());
        assert_eq!(file.interfaces(), 0);
    }

    /// An Ethernet II + ARP request (RFC 826) from `mac`, asking for
    /// 192.0.2.1.
    fn arp_request(mac: u8) -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, mac]);
        f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
        f.extend_from_slice(&[2, 0, 0, 0, 0, mac, 192, 0, 2, mac]);
        f.extend_from_slice(&[0; 6]);
        f.extend_from_slice(&[192, 0, 2, 1]);
        f
    }

    /// A file of two named interfaces, one of them with a snap length,
    /// opens in tshark with every frame on its interface and none
    /// malformed. Skipped (loudly) where tshark is not installed.
    #[test]
    fn pcapng_file_with_several_interfaces_opens_in_tshark() {
        use std::process::Command;
        let tshark = Command::new("tshark").arg("-v").output();
        if !tshark.is_ok_and(|o| o.status.success()) {
            std::eprintln!("SKIPPED: tshark is not installed (apt-get install tshark)");
            return;
        }
        let path = std::env::temp_dir().join(std::format!(
            "lamina-netdev-pcapng-file-{}.pcapng",
            std::process::id()
        ));
        let out = io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let file = PcapNgFile::new(out).unwrap();
        let mut lan = file.capture(Loopback::default(), "lan", 0).unwrap();
        let mut wan = file.capture(Loopback::default(), "wan", 40).unwrap();
        let t = Instant::from_secs(1_700_000_000);
        round_trip(&mut lan, &arp_request(10), t, t);
        round_trip(&mut wan, &arp_request(20), t, t);
        drop((lan, wan));
        let mut out = file.into_inner().ok().unwrap();
        out.flush().unwrap();
        drop(out);

        let run = Command::new("tshark")
            .args(["-n", "-r"])
            .arg(&path)
            .args(["-T", "fields", "-E", "separator=|"])
            .args(["-e", "frame.interface_id", "-e", "frame.interface_name"])
            .args([
                "-e",
                "frame.len",
                "-e",
                "frame.cap_len",
                "-e",
                "_ws.malformed",
            ])
            .args(["-e", "frame.packet_flags_direction", "-e", "eth.src"])
            .output()
            .unwrap();
        std::fs::remove_file(&path).ok();
        let stdout = String::from_utf8_lossy(&run.stdout);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "tshark failed: {stderr}");
        for bad in ["cut short", "damaged", "corrupt", "malformed"] {
            assert!(!stderr.to_lowercase().contains(bad), "tshark: {stderr}");
        }
        let rows: Vec<Vec<&str>> = stdout.lines().map(|l| l.split('|').collect()).collect();
        // The second interface's frames are cut at 40 bytes: tshark knows
        // (cap_len < len) and does not call them malformed.
        let expect = [
            [
                "0",
                "lan",
                "42",
                "42",
                "",
                "0x00000002",
                "02:00:00:00:00:0a",
            ],
            [
                "0",
                "lan",
                "42",
                "42",
                "",
                "0x00000001",
                "02:00:00:00:00:0a",
            ],
            [
                "1",
                "wan",
                "42",
                "40",
                "",
                "0x00000002",
                "02:00:00:00:00:14",
            ],
            [
                "1",
                "wan",
                "42",
                "40",
                "",
                "0x00000001",
                "02:00:00:00:00:14",
            ],
        ];
        assert_eq!(rows, expect, "{stdout}");
    }
}
