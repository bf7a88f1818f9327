//! [`PcapReplay`]: a device that receives the frames of a capture.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;

use lamina_netbuf::{Duration, Instant};

use super::reader::{ByteSource, CaptureReader, FrameInfo, SliceSource};
use crate::{Capabilities, Device, Error, Medium, RxMeta, RxToken, Stats, TxToken};

/// The IP MTU a replay device advertises: the largest IPv4 packet, so that
/// any reply the stack builds fits.
const REPLAY_MTU: usize = 65_535;

/// A device whose receive side yields the frames of a pcap or pcapng
/// capture, in file order, for replaying corpora through the stack.
///
/// The medium comes from the capture's link type (Ethernet 1; raw IP 101
/// or IPv4 228); a pcapng frame from an interface of another medium is
/// skipped and counted in [`skipped`](Self::skipped). Frames are lent
/// straight from the reader's buffer. By default every frame is
/// deliverable at once and its [`RxMeta::timestamp`] is the capture time
/// (microseconds since the Unix epoch); with
/// [`with_pacing`](Self::with_pacing) frames keep the capture's spacing on
/// the caller's clock and [`poll_at`](Device::poll_at) says when the next
/// is due.
///
/// A damaged capture never panics: the replay stops at the bad record,
/// counts one `rx_errors` and keeps the error for [`error`](Self::error).
///
/// The transmit side discards frames (counted in `tx_dropped`) unless
/// [`record_transmits`](Self::record_transmits) asks to keep them for the
/// test to inspect.
///
/// ```
/// use lamina_netdev::pcap::PcapReplay;
/// use lamina_netdev::{Device, Medium, RxToken};
/// use lamina_netbuf::Instant;
///
/// # let mut file = Vec::new();
/// # file.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
/// # file.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
/// # file.extend_from_slice(&65535u32.to_le_bytes());
/// # file.extend_from_slice(&1u32.to_le_bytes());
/// # for field in [1u32, 0, 14, 14] { file.extend_from_slice(&field.to_le_bytes()); }
/// # file.extend_from_slice(&[0xff; 14]);
/// // `file` holds a pcap with one 14-byte Ethernet frame.
/// let mut replay = PcapReplay::from_bytes(file)?;
/// assert_eq!(replay.capabilities().medium, Medium::Ethernet);
/// let (rx, _tx) = replay.receive(Instant::ZERO).unwrap();
/// assert_eq!(rx.consume(|frame| frame.len()), 14);
/// assert!(replay.receive(Instant::ZERO).is_none());
/// assert!(replay.is_finished() && replay.error().is_none());
/// # Ok::<(), lamina_netdev::Error>(())
/// ```
pub struct PcapReplay {
    reader: CaptureReader<Box<dyn ByteSource>>,
    caps: Capabilities,
    /// Fixed by the first frame (or the capture header).
    medium: Option<Medium>,
    /// The link type of the first frame, when it has no medium.
    first_unsupported: Option<u32>,
    /// The frame read ahead and not yet handed out.
    loaded: Option<FrameInfo>,
    finished: bool,
    error: Option<Error>,
    skipped: u64,
    pacing: Option<Pacing>,
    last_now: Instant,
    rx_stats: Stats,
    tx: TxSide,
}

#[derive(Debug, Clone, Copy)]
struct Pacing {
    start: Instant,
    /// Capture time of the first frame, in microseconds.
    first_us: Option<u64>,
}

#[derive(Debug)]
struct TxSide {
    stats: Stats,
    scratch: Vec<u8>,
    record: Option<usize>,
    recorded: Vec<Vec<u8>>,
    max_len: usize,
}

impl core::fmt::Debug for PcapReplay {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PcapReplay")
            .field("format", &self.reader.format())
            .field("medium", &self.medium)
            .field("finished", &self.finished)
            .field("error", &self.error)
            .field("skipped", &self.skipped)
            .finish_non_exhaustive()
    }
}

impl PcapReplay {
    /// A replay of the capture held in `data`.
    pub fn from_bytes(data: Vec<u8>) -> Result<PcapReplay, Error> {
        PcapReplay::from_source(SliceSource::new(data))
    }

    /// A replay of the capture `src` yields.
    pub fn from_source<S: ByteSource + 'static>(src: S) -> Result<PcapReplay, Error> {
        let reader = CaptureReader::new(Box::new(src) as Box<dyn ByteSource>)?;
        let mut replay = PcapReplay {
            reader,
            caps: Capabilities::new(Medium::Ethernet, REPLAY_MTU),
            medium: None,
            first_unsupported: None,
            loaded: None,
            finished: false,
            error: None,
            skipped: 0,
            pacing: None,
            last_now: Instant::ZERO,
            rx_stats: Stats::new(),
            tx: TxSide {
                stats: Stats::new(),
                scratch: Vec::new(),
                record: None,
                recorded: Vec::new(),
                max_len: 0,
            },
        };
        // A pcapng file names its link type in its first interface
        // description, so read ahead to the first frame.
        replay.load();
        let medium = match (replay.medium, replay.first_unsupported) {
            (Some(m), _) => m,
            (None, Some(lt)) => return Err(Error::UnsupportedLinkType(lt)),
            // No frame at all: the header (pcap) or the first interface
            // (pcapng) says what the capture would have carried.
            (None, None) => match replay.reader.link_type() {
                Some(lt) => super::medium_of_link_type(lt).ok_or(Error::UnsupportedLinkType(lt))?,
                None => Medium::Ethernet,
            },
        };
        replay.medium = Some(medium);
        replay.caps = Capabilities::new(medium, REPLAY_MTU);
        replay.tx.max_len = replay.caps.max_tx_len();
        Ok(replay)
    }

    /// A replay of the capture file at `path`.
    #[cfg(feature = "std")]
    pub fn open<P: AsRef<std::path::Path>>(path: P) -> Result<PcapReplay, Error> {
        let file = std::fs::File::open(path)?;
        PcapReplay::from_reader(std::io::BufReader::new(file))
    }

    /// A replay of the capture `reader` yields.
    #[cfg(feature = "std")]
    pub fn from_reader<R: std::io::Read + 'static>(reader: R) -> Result<PcapReplay, Error> {
        PcapReplay::from_source(super::reader::IoSource(reader))
    }

    /// Frames keep the capture's spacing: the first is due at `start`, each
    /// later one as long after it as in the capture. Their
    /// [`RxMeta::timestamp`] is then that due time.
    #[must_use]
    pub fn with_pacing(mut self, start: Instant) -> PcapReplay {
        self.pacing = Some(Pacing {
            start,
            first_us: None,
        });
        self
    }

    /// Keeps up to `limit` transmitted frames for
    /// [`transmitted`](Self::transmitted) instead of discarding them;
    /// frames beyond the limit are dropped (counted in `tx_dropped`).
    pub fn record_transmits(&mut self, limit: usize) {
        self.tx.record = Some(limit);
    }

    /// The frames transmitted and kept so far.
    pub fn transmitted(&self) -> &[Vec<u8>] {
        &self.tx.recorded
    }

    /// Takes the kept transmitted frames.
    pub fn take_transmitted(&mut self) -> Vec<Vec<u8>> {
        core::mem::take(&mut self.tx.recorded)
    }

    /// Whether every frame was handed out (or an error stopped the replay).
    pub fn is_finished(&self) -> bool {
        self.finished && self.loaded.is_none()
    }

    /// The error that stopped the replay, if any.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// Frames skipped because their interface has another medium.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Reads ahead to the next frame of this medium, if none is loaded.
    /// Before the medium is known (the constructor's read-ahead), the
    /// first frame of a supported link type fixes it.
    fn load(&mut self) {
        while self.loaded.is_none() && !self.finished {
            match self.reader.advance() {
                Ok(Some(info)) => {
                    let medium = super::medium_of_link_type(info.link_type);
                    match (self.medium, medium) {
                        (None, Some(m)) => {
                            self.medium = Some(m);
                            self.loaded = Some(info);
                        }
                        (Some(known), Some(m)) if known == m => self.loaded = Some(info),
                        (known, _) => {
                            if known.is_none() && self.first_unsupported.is_none() {
                                self.first_unsupported = Some(info.link_type);
                            }
                            self.skipped = self.skipped.wrapping_add(1);
                        }
                    }
                }
                Ok(None) => self.finished = true,
                Err(e) => {
                    self.rx_stats.rx_errors = self.rx_stats.rx_errors.wrapping_add(1);
                    self.error = Some(e);
                    self.finished = true;
                }
            }
        }
    }

    fn capture_us(info: &FrameInfo) -> u64 {
        info.timestamp_ns / 1_000
    }

    /// When the loaded frame is due on the caller's clock.
    fn due(&mut self, info_us: u64) -> Option<Instant> {
        let pacing = self.pacing.as_mut()?;
        let first = *pacing.first_us.get_or_insert(info_us);
        Some(
            pacing
                .start
                .saturating_add(Duration::from_micros(info_us.saturating_sub(first))),
        )
    }
}

/// The receive token of a [`PcapReplay`].
#[derive(Debug)]
pub struct ReplayRxToken<'a> {
    frame: &'a mut [u8],
    meta: RxMeta,
}

/// The transmit token of a [`PcapReplay`].
#[derive(Debug)]
pub struct ReplayTxToken<'a> {
    side: &'a mut TxSide,
}

impl RxToken for ReplayRxToken<'_> {
    fn meta(&self) -> RxMeta {
        self.meta
    }

    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        f(self.frame)
    }
}

impl TxToken for ReplayTxToken<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> Result<R, Error>
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let side = self.side;
        if len > side.max_len {
            side.stats.tx_errors = side.stats.tx_errors.wrapping_add(1);
            return Err(Error::FrameTooLong {
                len,
                max: side.max_len,
            });
        }
        match side.record {
            Some(limit) if side.recorded.len() < limit => {
                let mut frame = vec![0u8; len];
                let r = f(&mut frame);
                side.recorded.push(frame);
                side.stats.count_tx(len);
                Ok(r)
            }
            _ => {
                if side.scratch.len() < len {
                    side.scratch = vec![0u8; len];
                }
                let r = f(side.scratch.get_mut(..len).unwrap_or_default());
                side.stats.tx_dropped = side.stats.tx_dropped.wrapping_add(1);
                Ok(r)
            }
        }
    }
}

impl Device for PcapReplay {
    type RxToken<'a> = ReplayRxToken<'a>;
    type TxToken<'a> = ReplayTxToken<'a>;

    fn receive(&mut self, now: Instant) -> Option<(ReplayRxToken<'_>, ReplayTxToken<'_>)> {
        self.last_now = self.last_now.max(now);
        self.load();
        let capture_us = PcapReplay::capture_us(self.loaded.as_ref()?);
        let due = self.due(capture_us);
        if due.is_some_and(|d| d > now) {
            return None;
        }
        self.loaded = None;
        let timestamp = due.unwrap_or(Instant::from_micros(capture_us));
        let frame = self.reader.frame_mut();
        self.rx_stats.count_rx(frame.len());
        Some((
            ReplayRxToken {
                frame,
                meta: RxMeta::at(timestamp),
            },
            ReplayTxToken { side: &mut self.tx },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<ReplayTxToken<'_>> {
        Some(ReplayTxToken { side: &mut self.tx })
    }

    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    fn stats(&self) -> Stats {
        self.rx_stats + self.tx.stats
    }

    fn poll_at(&self) -> Option<Instant> {
        match (&self.loaded, self.pacing) {
            (Some(info), Some(p)) => {
                let us = PcapReplay::capture_us(info);
                let first = p.first_us.unwrap_or(us);
                Some(
                    p.start
                        .saturating_add(Duration::from_micros(us.saturating_sub(first))),
                )
            }
            (Some(_), None) => Some(self.last_now),
            // The next frame is not read yet: ask to be polled now.
            (None, _) if !self.finished => Some(self.last_now),
            (None, _) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::reader::tests::{epb, idb, pcap, shb};
    use super::*;
    use crate::TxToken;

    fn drain(r: &mut PcapReplay, now: Instant) -> Vec<(Vec<u8>, Option<Instant>)> {
        let mut out = Vec::new();
        r.poll_rx(now, usize::MAX, |f, meta, _| {
            out.push((f.to_vec(), meta.timestamp))
        });
        out
    }

    #[test]
    fn yields_frames_in_file_order_with_capture_timestamps() {
        let file = pcap(false, false, 1, &[(10, 5, b"one"), (11, 0, b"two")]);
        let mut r = PcapReplay::from_bytes(file).unwrap();
        assert_eq!(r.capabilities().medium, Medium::Ethernet);
        assert_eq!(r.poll_at(), Some(Instant::ZERO));
        let got = drain(&mut r, Instant::ZERO);
        assert_eq!(
            got,
            [
                (b"one".to_vec(), Some(Instant::from_micros(10_000_005))),
                (b"two".to_vec(), Some(Instant::from_secs(11))),
            ]
        );
        assert!(r.is_finished());
        assert_eq!(r.poll_at(), None);
        assert_eq!(r.stats().rx_packets, 2);
    }

    #[test]
    fn pacing_keeps_the_capture_spacing_on_the_callers_clock() {
        let file = pcap(
            false,
            false,
            101,
            &[(100, 0, b"a"), (100, 250_000, b"b"), (101, 0, b"c")],
        );
        let start = Instant::from_secs(5);
        let mut r = PcapReplay::from_bytes(file).unwrap().with_pacing(start);
        assert_eq!(r.capabilities().medium, Medium::Ip);
        assert!(drain(&mut r, Instant::ZERO).is_empty());
        assert_eq!(r.poll_at(), Some(start));
        assert_eq!(drain(&mut r, start), [(b"a".to_vec(), Some(start))]);
        assert!(drain(&mut r, start).is_empty());
        assert_eq!(r.poll_at(), Some(Instant::from_millis(5_250)));
        let later = Instant::from_secs(7);
        assert_eq!(drain(&mut r, later).len(), 2);
    }

    #[test]
    fn damaged_capture_stops_with_an_error_instead_of_panicking() {
        let mut file = pcap(true, true, 1, &[(0, 0, b"good"), (0, 0, b"cut short")]);
        file.truncate(file.len() - 3);
        let mut r = PcapReplay::from_bytes(file).unwrap();
        assert_eq!(drain(&mut r, Instant::ZERO).len(), 1);
        assert!(r.is_finished());
        assert!(matches!(r.error(), Some(Error::Truncated { .. })));
        assert_eq!(r.stats().rx_errors, 1);
    }

    #[test]
    fn unsupported_link_type_is_refused() {
        let file = pcap(false, false, 105, &[(0, 0, b"802.11")]);
        assert!(matches!(
            PcapReplay::from_bytes(file),
            Err(Error::UnsupportedLinkType(105))
        ));
        let empty = pcap(false, false, 113, &[]);
        assert!(matches!(
            PcapReplay::from_bytes(empty),
            Err(Error::UnsupportedLinkType(113))
        ));
    }

    #[test]
    fn frames_from_an_interface_of_another_medium_are_skipped() {
        let mut file = shb(false);
        file.extend(idb(false, 1, None));
        file.extend(idb(false, 101, None));
        file.extend(epb(false, 0, 0, b"eth1"));
        file.extend(epb(false, 1, 0, b"ip"));
        file.extend(epb(false, 0, 0, b"eth2"));
        let mut r = PcapReplay::from_bytes(file).unwrap();
        let got: Vec<_> = drain(&mut r, Instant::ZERO)
            .into_iter()
            .map(|g| g.0)
            .collect();
        assert_eq!(got, [b"eth1".to_vec(), b"eth2".to_vec()]);
        assert_eq!(r.skipped(), 1);
    }

    #[test]
    fn transmit_side_discards_or_records() {
        let file = pcap(false, false, 1, &[(0, 0, b"req")]);
        let mut r = PcapReplay::from_bytes(file).unwrap();
        r.transmit(Instant::ZERO)
            .unwrap()
            .consume(5, |f| f.fill(1))
            .unwrap();
        assert_eq!(r.stats().tx_dropped, 1);
        r.record_transmits(1);
        r.poll_rx(Instant::ZERO, 1, |frame, _, reply| {
            let len = frame.len();
            reply
                .consume(len, |out| out.copy_from_slice(frame))
                .unwrap();
        });
        r.transmit(Instant::ZERO)
            .unwrap()
            .consume(2, |f| f.fill(9))
            .unwrap();
        assert_eq!(r.transmitted(), [b"req".to_vec()]);
        assert_eq!(r.stats().tx_packets, 1);
        assert_eq!(r.stats().tx_dropped, 2);
        assert_eq!(r.take_transmitted().len(), 1);
    }
}
