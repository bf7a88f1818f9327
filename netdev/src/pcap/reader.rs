//! A small, defensive reader for pcap and pcapng captures.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ops::Range;

use crate::Error;

/// libpcap's limit on one captured frame (`MAXIMUM_SNAPLEN`); longer pcap
/// records are rejected as bogus, as libpcap and Wireshark do.
pub const MAX_FRAME_LEN: u32 = 262_144;
/// The largest pcapng block this reader accepts (16 MiB).
pub const MAX_BLOCK_LEN: u32 = 16 * 1024 * 1024;
/// The first step of a record's buffer (see `read_body`).
const READ_STEP: usize = 64 * 1024;
/// The most interfaces one pcapng section may describe.
const MAX_INTERFACES: usize = 4096;

const PCAPNG_SHB: u32 = 0x0A0D_0D0A;
const PCAPNG_IDB: u32 = 1;
const PCAPNG_PB: u32 = 2;
const PCAPNG_SPB: u32 = 3;
const PCAPNG_EPB: u32 = 6;
const PCAPNG_BOM: u32 = 0x1A2B_3C4D;

/// Where a [`CaptureReader`] gets its bytes: a slice, an owned buffer, or
/// (feature `std`) any `std::io::Read` through [`IoSource`].
pub trait ByteSource {
    /// Reads up to `buf.len()` bytes into `buf` and says how many; 0 means
    /// the end of the data.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error>;
}

impl ByteSource for &[u8] {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let n = buf.len().min(self.len());
        let (head, rest) = self.split_at(n);
        if let Some(dst) = buf.get_mut(..n) {
            dst.copy_from_slice(head);
        }
        *self = rest;
        Ok(n)
    }
}

impl<S: ByteSource + ?Sized> ByteSource for &mut S {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        (**self).read(buf)
    }
}

impl<S: ByteSource + ?Sized> ByteSource for Box<S> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        (**self).read(buf)
    }
}

/// An owned buffer read from start to end (for example a `Vec<u8>` holding
/// a whole capture).
#[derive(Debug, Clone)]
pub struct SliceSource<B> {
    data: B,
    pos: usize,
}

impl<B: AsRef<[u8]>> SliceSource<B> {
    /// A source reading `data` from its start.
    pub fn new(data: B) -> SliceSource<B> {
        SliceSource { data, pos: 0 }
    }
}

impl<B: AsRef<[u8]>> ByteSource for SliceSource<B> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let mut rest = self.data.as_ref().get(self.pos..).unwrap_or_default();
        let n = rest.read(buf)?;
        self.pos = self.pos.saturating_add(n);
        Ok(n)
    }
}

/// Any `std::io::Read` as a [`ByteSource`] (wrap files in a
/// `std::io::BufReader`).
#[cfg(feature = "std")]
#[derive(Debug)]
pub struct IoSource<R>(pub R);

#[cfg(feature = "std")]
impl<R: std::io::Read> ByteSource for IoSource<R> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        loop {
            match self.0.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::Io(e)),
            }
        }
    }
}

/// The format of a capture, from its magic number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CaptureFormat {
    /// Classic libpcap format.
    Pcap {
        /// Header fields are big-endian.
        big_endian: bool,
        /// Timestamps carry nanoseconds (magic `a1b23c4d`) instead of
        /// microseconds.
        nanosecond: bool,
    },
    /// pcapng (blocks; byte order per section).
    PcapNg,
}

/// One frame of a capture, borrowed from the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CapturedFrame<'a> {
    /// The captured bytes (perhaps fewer than were on the wire).
    pub data: &'a [u8],
    /// The frame's length on the wire.
    pub orig_len: u32,
    /// Capture time in nanoseconds since the Unix epoch (saturating; 0 for
    /// pcapng simple packet blocks, which carry none).
    pub timestamp_ns: u64,
    /// The link type (`LINKTYPE_*`), with libpcap's extra bits masked off.
    pub link_type: u32,
    /// The pcapng interface the frame came from (0 for pcap).
    pub interface: u32,
}

/// Where the current frame lies in the reader's buffer, and its metadata.
#[derive(Debug, Clone)]
pub(crate) struct FrameInfo {
    pub(crate) range: Range<usize>,
    pub(crate) orig_len: u32,
    pub(crate) timestamp_ns: u64,
    pub(crate) link_type: u32,
    pub(crate) interface: u32,
}

#[derive(Debug, Clone, Copy)]
struct Interface {
    link_type: u32,
    snaplen: u32,
    /// Timestamp units per second.
    units_per_sec: u128,
    offset_secs: i64,
}

/// A streaming reader for pcap and pcapng captures that never panics on
/// bad input: a truncated or inconsistent capture is an [`Error`] carrying
/// the offset of the bad record, after which the reader yields nothing
/// more. Memory is bounded by the largest record it accepts
/// ([`MAX_FRAME_LEN`] per pcap frame, [`MAX_BLOCK_LEN`] per pcapng block).
///
/// It follows libpcap and Wireshark on the details: the four pcap magic
/// numbers (either byte order, micro- or nanoseconds), the link type's
/// upper 16 bits masked off, pcap records longer than the snapshot length
/// accepted, and in pcapng: sections of either byte order, interface
/// description, enhanced, simple and obsolete packet blocks,
/// `if_tsresol`/`if_tsoffset`, other blocks skipped.
///
/// ```
/// use lamina_netdev::pcap::{CaptureFormat, CaptureReader};
///
/// // A little-endian pcap with one 4-byte raw-IP frame.
/// let mut file = Vec::new();
/// file.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
/// file.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
/// file.extend_from_slice(&65535u32.to_le_bytes());
/// file.extend_from_slice(&101u32.to_le_bytes());
/// for field in [1u32, 500, 4, 4] {
///     file.extend_from_slice(&field.to_le_bytes());
/// }
/// file.extend_from_slice(&[0x45, 0, 0, 4]);
///
/// let mut reader = CaptureReader::new(&file[..])?;
/// assert_eq!(reader.format(), CaptureFormat::Pcap { big_endian: false, nanosecond: false });
/// let frame = reader.next_frame()?.unwrap();
/// assert_eq!(frame.data, [0x45, 0, 0, 4]);
/// assert_eq!(frame.timestamp_ns, 1_000_500_000);
/// assert_eq!(frame.link_type, 101);
/// assert!(reader.next_frame()?.is_none());
/// # Ok::<(), lamina_netdev::Error>(())
/// ```
#[derive(Debug)]
pub struct CaptureReader<S> {
    src: S,
    format: CaptureFormat,
    /// Bytes consumed from the source.
    offset: u64,
    buf: Vec<u8>,
    /// pcap: the header's link type.
    link_type: u32,
    /// pcapng: current section byte order.
    big_endian: bool,
    interfaces: Vec<Interface>,
    current: Option<FrameInfo>,
    done: bool,
}

fn u16_at(b: &[u8], at: usize, big_endian: bool) -> Option<u16> {
    let bytes: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(if big_endian {
        u16::from_be_bytes(bytes)
    } else {
        u16::from_le_bytes(bytes)
    })
}

fn u32_at(b: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let bytes: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(bytes)
    } else {
        u32::from_le_bytes(bytes)
    })
}

fn u64_at(b: &[u8], at: usize, big_endian: bool) -> Option<u64> {
    let bytes: [u8; 8] = b.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(if big_endian {
        u64::from_be_bytes(bytes)
    } else {
        u64::from_le_bytes(bytes)
    })
}

/// A truncation inside the file header is reported at offset 0.
fn at_start(e: Error) -> Error {
    truncated_at(0)(e)
}

/// Reports a truncation at the start of the record it happened in.
fn truncated_at(start: u64) -> impl Fn(Error) -> Error {
    move |e| match e {
        Error::Truncated { .. } => Error::Truncated { offset: start },
        other => other,
    }
}

/// libpcap's `LT_LINKTYPE`: the upper bits hold FCS information.
pub(crate) const fn mask_link_type(raw: u32) -> u32 {
    raw & 0xFFFF
}

impl<S: ByteSource> CaptureReader<S> {
    /// Reads the file header (pcap) or the first section header block
    /// (pcapng) from `src`.
    pub fn new(src: S) -> Result<CaptureReader<S>, Error> {
        let mut reader = CaptureReader {
            src,
            format: CaptureFormat::PcapNg,
            offset: 0,
            buf: Vec::new(),
            link_type: 0,
            big_endian: false,
            interfaces: Vec::new(),
            current: None,
            done: false,
        };
        let mut magic = [0u8; 4];
        if !reader.read_exact(&mut magic)? {
            return Err(Error::Truncated { offset: 0 });
        }
        let be = u32::from_be_bytes(magic);
        let le = u32::from_le_bytes(magic);
        let pcap = |big_endian, nanosecond| CaptureFormat::Pcap {
            big_endian,
            nanosecond,
        };
        reader.format = match (be, le) {
            (0xA1B2_C3D4, _) => pcap(true, false),
            (0xA1B2_3C4D, _) => pcap(true, true),
            (_, 0xA1B2_C3D4) => pcap(false, false),
            (_, 0xA1B2_3C4D) => pcap(false, true),
            (PCAPNG_SHB, _) => CaptureFormat::PcapNg,
            _ => return Err(Error::UnknownFormat { magic: be }),
        };
        match reader.format {
            CaptureFormat::Pcap { big_endian, .. } => {
                let mut header = [0u8; 20];
                // The file header is one record starting at 0.
                if !reader.read_exact(&mut header).map_err(at_start)? {
                    return Err(Error::Truncated { offset: 0 });
                }
                let major = u16_at(&header, 0, big_endian).unwrap_or(0);
                if major != 2 {
                    return Err(Error::Malformed {
                        offset: 0,
                        reason: "pcap major version is not 2",
                    });
                }
                reader.link_type = mask_link_type(u32_at(&header, 16, big_endian).unwrap_or(0));
            }
            CaptureFormat::PcapNg => {
                let mut len_bytes = [0u8; 4];
                if !reader.read_exact(&mut len_bytes).map_err(at_start)? {
                    return Err(Error::Truncated { offset: 0 });
                }
                reader.section(len_bytes, 0)?;
            }
        }
        Ok(reader)
    }

    /// The capture's format.
    pub fn format(&self) -> CaptureFormat {
        self.format
    }

    /// The link type of a pcap capture, or of the first interface of a
    /// pcapng section (`None` before its description was read).
    pub fn link_type(&self) -> Option<u32> {
        match self.format {
            CaptureFormat::Pcap { .. } => Some(self.link_type),
            CaptureFormat::PcapNg => self.interfaces.first().map(|i| i.link_type),
        }
    }

    /// Bytes consumed from the source so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next frame, `Ok(None)` at the end of the capture. After an error
    /// the reader is finished and returns `Ok(None)`.
    pub fn next_frame(&mut self) -> Result<Option<CapturedFrame<'_>>, Error> {
        let Some(info) = self.advance()? else {
            return Ok(None);
        };
        Ok(Some(CapturedFrame {
            data: self.buf.get(info.range.clone()).unwrap_or_default(),
            orig_len: info.orig_len,
            timestamp_ns: info.timestamp_ns,
            link_type: info.link_type,
            interface: info.interface,
        }))
    }

    /// Moves to the next frame, leaving it in the buffer.
    pub(crate) fn advance(&mut self) -> Result<Option<FrameInfo>, Error> {
        self.current = None;
        if self.done {
            return Ok(None);
        }
        let result = match self.format {
            CaptureFormat::Pcap {
                big_endian,
                nanosecond,
            } => self.next_pcap(big_endian, nanosecond),
            CaptureFormat::PcapNg => self.next_pcapng(),
        };
        match &result {
            Ok(Some(info)) => self.current = Some(info.clone()),
            Ok(None) | Err(_) => self.done = true,
        }
        result
    }

    /// The bytes of the frame [`advance`](Self::advance) moved to.
    pub(crate) fn frame_mut(&mut self) -> &mut [u8] {
        match &self.current {
            Some(info) => self.buf.get_mut(info.range.clone()).unwrap_or_default(),
            None => &mut [],
        }
    }

    /// Fills `buf` completely: `Ok(false)` at a clean end of data before
    /// the first byte, an error if the data ends part way.
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<bool, Error> {
        let start = self.offset;
        let mut filled = 0;
        while filled < buf.len() {
            let n = self.src.read(buf.get_mut(filled..).unwrap_or_default())?;
            if n == 0 {
                if filled == 0 {
                    return Ok(false);
                }
                return Err(Error::Truncated { offset: start });
            }
            filled += n;
            self.offset = self.offset.saturating_add(n as u64);
        }
        Ok(true)
    }

    /// Reads `len` bytes into the internal buffer. The buffer grows with
    /// the bytes that arrive (from [`READ_STEP`], doubling), not to `len`
    /// at once: a record that claims more than the source holds (up to
    /// [`MAX_BLOCK_LEN`] from a few bytes of header) costs only what is
    /// there.
    fn read_body(&mut self, len: usize, record_start: u64) -> Result<(), Error> {
        let mut buf = core::mem::take(&mut self.buf);
        buf.clear();
        let mut result = Ok(());
        while buf.len() < len {
            let have = buf.len();
            let step = (len - have).min(have.max(READ_STEP));
            buf.resize(have + step, 0);
            let complete = self.read_exact(buf.get_mut(have..).unwrap_or_default());
            match complete {
                Ok(true) => {}
                Ok(false) | Err(Error::Truncated { .. }) => {
                    result = Err(Error::Truncated {
                        offset: record_start,
                    });
                    break;
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.buf = buf;
        result
    }

    fn next_pcap(
        &mut self,
        big_endian: bool,
        nanosecond: bool,
    ) -> Result<Option<FrameInfo>, Error> {
        let start = self.offset;
        let mut header = [0u8; 16];
        if !self.read_exact(&mut header)? {
            return Ok(None);
        }
        let field = |i: usize| u32_at(&header, i * 4, big_endian).unwrap_or(0);
        let (secs, frac, incl_len, orig_len) = (field(0), field(1), field(2), field(3));
        if incl_len > MAX_FRAME_LEN {
            return Err(Error::RecordTooLong {
                offset: start,
                len: u64::from(incl_len),
                max: u64::from(MAX_FRAME_LEN),
            });
        }
        self.read_body(incl_len as usize, start)?;
        let frac_ns = if nanosecond {
            u128::from(frac)
        } else {
            u128::from(frac) * 1_000
        };
        let ns = u128::from(secs) * 1_000_000_000 + frac_ns;
        Ok(Some(FrameInfo {
            range: 0..incl_len as usize,
            orig_len,
            timestamp_ns: u64::try_from(ns).unwrap_or(u64::MAX),
            link_type: self.link_type,
            interface: 0,
        }))
    }

    fn next_pcapng(&mut self) -> Result<Option<FrameInfo>, Error> {
        loop {
            let start = self.offset;
            let mut head = [0u8; 8];
            if !self.read_exact(&mut head)? {
                return Ok(None);
            }
            if u32_at(&head, 0, true) == Some(PCAPNG_SHB) {
                // A new section, perhaps of the other byte order.
                let mut len_bytes = [0u8; 4];
                len_bytes.copy_from_slice(head.get(4..8).unwrap_or(&[0; 4]));
                self.section(len_bytes, start)?;
                continue;
            }
            let be = self.big_endian;
            let block_type = u32_at(&head, 0, be).unwrap_or(0);
            let total = u32_at(&head, 4, be).unwrap_or(0);
            if total < 12 || !total.is_multiple_of(4) {
                return Err(Error::Malformed {
                    offset: start,
                    reason: "pcapng block length invalid",
                });
            }
            if total > MAX_BLOCK_LEN {
                return Err(Error::RecordTooLong {
                    offset: start,
                    len: u64::from(total),
                    max: u64::from(MAX_BLOCK_LEN),
                });
            }
            self.read_body(total as usize - 8, start)?;
            if u32_at(&self.buf, self.buf.len().saturating_sub(4), be) != Some(total) {
                return Err(Error::Malformed {
                    offset: start,
                    reason: "pcapng block trailing length differs",
                });
            }
            // The block body without the trailing length.
            let body_len = self.buf.len().saturating_sub(4);
            match block_type {
                PCAPNG_IDB => self.interface_description(body_len, start)?,
                PCAPNG_EPB => return self.enhanced_packet(body_len, start).map(Some),
                PCAPNG_PB => return self.obsolete_packet(body_len, start).map(Some),
                PCAPNG_SPB => return self.simple_packet(body_len, start).map(Some),
                _ => {}
            }
        }
    }

    /// Parses a section header block whose type and length fields were
    /// read; the byte-order magic comes next.
    fn section(&mut self, len_bytes: [u8; 4], start: u64) -> Result<(), Error> {
        let mut bom = [0u8; 4];
        if !self.read_exact(&mut bom).map_err(truncated_at(start))? {
            return Err(Error::Truncated { offset: start });
        }
        let big_endian = match u32::from_be_bytes(bom) {
            PCAPNG_BOM => true,
            0x4D3C_2B1A => false,
            _ => {
                return Err(Error::Malformed {
                    offset: start,
                    reason: "pcapng section has no byte-order magic",
                });
            }
        };
        let total = u32_at(&len_bytes, 0, big_endian).unwrap_or(0);
        if total < 28 || !total.is_multiple_of(4) {
            return Err(Error::Malformed {
                offset: start,
                reason: "pcapng section header length invalid",
            });
        }
        if total > MAX_BLOCK_LEN {
            return Err(Error::RecordTooLong {
                offset: start,
                len: u64::from(total),
                max: u64::from(MAX_BLOCK_LEN),
            });
        }
        self.read_body(total as usize - 12, start)?;
        if u16_at(&self.buf, 0, big_endian) != Some(1) {
            return Err(Error::Malformed {
                offset: start,
                reason: "pcapng major version is not 1",
            });
        }
        if u32_at(&self.buf, self.buf.len().saturating_sub(4), big_endian) != Some(total) {
            return Err(Error::Malformed {
                offset: start,
                reason: "pcapng block trailing length differs",
            });
        }
        self.big_endian = big_endian;
        self.interfaces.clear();
        Ok(())
    }

    fn interface_description(&mut self, body_len: usize, start: u64) -> Result<(), Error> {
        let be = self.big_endian;
        let body = self.buf.get(..body_len).unwrap_or_default();
        let (Some(link_type), Some(snaplen)) = (u16_at(body, 0, be), u32_at(body, 4, be)) else {
            return Err(Error::Malformed {
                offset: start,
                reason: "pcapng interface description too short",
            });
        };
        let mut iface = Interface {
            link_type: u32::from(link_type),
            snaplen,
            units_per_sec: 1_000_000,
            offset_secs: 0,
        };
        // Options: code, length, value padded to 4 bytes; code 0 ends.
        let mut at = 8usize;
        while let (Some(code), Some(len)) = (u16_at(body, at, be), u16_at(body, at + 2, be)) {
            let value = body.get(at + 4..at + 4 + usize::from(len));
            match (code, value) {
                (0, _) => break,
                (9, Some(&[resol])) => {
                    let exp = u32::from(resol & 0x7F);
                    let units = if resol & 0x80 == 0 {
                        10u128.checked_pow(exp)
                    } else {
                        2u128.checked_pow(exp)
                    };
                    match units {
                        Some(u) if u > 0 && u <= 1_000_000_000_000_000_000_000 => {
                            iface.units_per_sec = u;
                        }
                        _ => {
                            return Err(Error::Malformed {
                                offset: start,
                                reason: "pcapng if_tsresol out of range",
                            });
                        }
                    }
                }
                (14, Some(v)) if v.len() == 8 => {
                    iface.offset_secs = u64_at(v, 0, be).unwrap_or(0) as i64;
                }
                (_, None) => break,
                _ => {}
            }
            at = at + 4 + usize::from(len).next_multiple_of(4);
        }
        if self.interfaces.len() >= MAX_INTERFACES {
            return Err(Error::Malformed {
                offset: start,
                reason: "too many pcapng interfaces",
            });
        }
        self.interfaces.push(iface);
        Ok(())
    }

    fn interface(&self, id: u32, start: u64) -> Result<Interface, Error> {
        self.interfaces
            .get(id as usize)
            .copied()
            .ok_or(Error::Malformed {
                offset: start,
                reason: "pcapng packet refers to an undescribed interface",
            })
    }

    /// An enhanced or obsolete packet block, whose data starts at byte 20.
    fn packet(
        &self,
        iface_id: u32,
        ts: u64,
        caplen: u32,
        orig_len: u32,
        body_len: usize,
        start: u64,
    ) -> Result<FrameInfo, Error> {
        let iface = self.interface(iface_id, start)?;
        let data_at = 20;
        let end = data_at + caplen as usize;
        if end > body_len {
            return Err(Error::Malformed {
                offset: start,
                reason: "pcapng packet data exceeds its block",
            });
        }
        // `units_per_sec` is at most 10^24, so nothing here overflows.
        let units = i128::try_from(iface.units_per_sec).unwrap_or(i128::MAX);
        let ns =
            i128::from(ts) * 1_000_000_000 / units + i128::from(iface.offset_secs) * 1_000_000_000;
        Ok(FrameInfo {
            range: data_at..end,
            orig_len,
            timestamp_ns: u64::try_from(ns.max(0)).unwrap_or(u64::MAX),
            link_type: mask_link_type(iface.link_type),
            interface: iface_id,
        })
    }

    fn enhanced_packet(&mut self, body_len: usize, start: u64) -> Result<FrameInfo, Error> {
        let be = self.big_endian;
        let b = &self.buf;
        let fields = (
            u32_at(b, 0, be),
            u32_at(b, 4, be),
            u32_at(b, 8, be),
            u32_at(b, 12, be),
            u32_at(b, 16, be),
        );
        let (Some(iface), Some(hi), Some(lo), Some(caplen), Some(orig)) = fields else {
            return Err(Error::Malformed {
                offset: start,
                reason: "pcapng enhanced packet block too short",
            });
        };
        if body_len < 20 {
            return Err(Error::Malformed {
                offset: start,
                reason: "pcapng enhanced packet block too short",
            });
        }
        let ts = (u64::from(hi) << 32) | u64::from(lo);
        self.packet(iface, ts, caplen, orig, body_len, start)
    }

    fn obsolete_packet(&mut self, body_len: usize, start: u64) -> Result<FrameInfo, Error> {
        let be = self.big_endian;
        let b = &self.buf;
        let fields = (
            u16_at(b, 0, be),
            u32_at(b, 4, be),
            u32_at(b, 8, be),
            u32_at(b, 12, be),
            u32_at(b, 16, be),
        );
        let (Some(iface), Some(hi), Some(lo), Some(caplen), Some(orig)) = fields else {
            return Err(Error::Malformed {
                offset: start,
                reason: "pcapng packet block too short",
            });
        };
        if body_len < 20 {
            return Err(Error::Malformed {
                offset: start,
                reason: "pcapng packet block too short",
            });
        }
        let ts = (u64::from(hi) << 32) | u64::from(lo);
        self.packet(u32::from(iface), ts, caplen, orig, body_len, start)
    }

    fn simple_packet(&mut self, body_len: usize, start: u64) -> Result<FrameInfo, Error> {
        let iface = self.interface(0, start)?;
        let Some(orig) = u32_at(&self.buf, 0, self.big_endian) else {
            return Err(Error::Malformed {
                offset: start,
                reason: "pcapng simple packet block too short",
            });
        };
        let mut caplen = body_len.saturating_sub(4).min(orig as usize);
        if iface.snaplen != 0 {
            caplen = caplen.min(iface.snaplen as usize);
        }
        Ok(FrameInfo {
            range: 4..4 + caplen,
            orig_len: orig,
            timestamp_ns: 0,
            link_type: mask_link_type(iface.link_type),
            interface: 0,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloc::vec;
    use lamina_netbuf::{Rng, SeededRng};

    /// A pcap file: header with `magic` and `link_type`, then records of
    /// (secs, frac, data).
    pub(crate) fn pcap(
        big_endian: bool,
        nanos: bool,
        link_type: u32,
        records: &[(u32, u32, &[u8])],
    ) -> Vec<u8> {
        let w32 = |v: &mut Vec<u8>, x: u32| {
            v.extend_from_slice(&if big_endian {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            })
        };
        let w16 = |v: &mut Vec<u8>, x: u16| {
            v.extend_from_slice(&if big_endian {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            })
        };
        let mut v = Vec::new();
        w32(&mut v, if nanos { 0xA1B2_3C4D } else { 0xA1B2_C3D4 });
        w16(&mut v, 2);
        w16(&mut v, 4);
        w32(&mut v, 0);
        w32(&mut v, 0);
        w32(&mut v, 65535);
        w32(&mut v, link_type);
        for (secs, frac, data) in records {
            w32(&mut v, *secs);
            w32(&mut v, *frac);
            w32(&mut v, data.len() as u32);
            w32(&mut v, data.len() as u32);
            v.extend_from_slice(data);
        }
        v
    }

    /// A pcapng block of `kind` with `body` (padded), in `big_endian`.
    pub(crate) fn block(big_endian: bool, kind: u32, body: &[u8]) -> Vec<u8> {
        let w32 = |v: &mut Vec<u8>, x: u32| {
            v.extend_from_slice(&if big_endian {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            })
        };
        let padded = body.len().next_multiple_of(4);
        let total = (12 + padded) as u32;
        let mut v = Vec::new();
        w32(&mut v, kind);
        w32(&mut v, total);
        v.extend_from_slice(body);
        v.resize(8 + padded, 0);
        w32(&mut v, total);
        v
    }

    pub(crate) fn shb(big_endian: bool) -> Vec<u8> {
        let mut body = Vec::new();
        let bom: u32 = PCAPNG_BOM;
        body.extend_from_slice(&if big_endian {
            bom.to_be_bytes()
        } else {
            bom.to_le_bytes()
        });
        let (maj, min): (u16, u16) = (1, 0);
        for x in [maj, min] {
            body.extend_from_slice(&if big_endian {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            });
        }
        body.extend_from_slice(&[0xFF; 8]); // section length unknown
        block(big_endian, PCAPNG_SHB, &body)
    }

    pub(crate) fn idb(big_endian: bool, link_type: u16, tsresol: Option<u8>) -> Vec<u8> {
        let mut body = Vec::new();
        let e16 = |x: u16| {
            if big_endian {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            }
        };
        body.extend_from_slice(&e16(link_type));
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&if big_endian {
            0u32.to_be_bytes()
        } else {
            0u32.to_le_bytes()
        });
        if let Some(r) = tsresol {
            body.extend_from_slice(&e16(9));
            body.extend_from_slice(&e16(1));
            body.extend_from_slice(&[r, 0, 0, 0]);
            body.extend_from_slice(&[0; 4]); // opt_endofopt
        }
        block(big_endian, PCAPNG_IDB, &body)
    }

    pub(crate) fn epb(big_endian: bool, iface: u32, ts: u64, data: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        let e32 = |x: u32| {
            if big_endian {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            }
        };
        for x in [
            iface,
            (ts >> 32) as u32,
            ts as u32,
            data.len() as u32,
            data.len() as u32,
        ] {
            body.extend_from_slice(&e32(x));
        }
        body.extend_from_slice(data);
        block(big_endian, PCAPNG_EPB, &body)
    }

    fn frames<S: ByteSource>(r: &mut CaptureReader<S>) -> Result<Vec<(Vec<u8>, u64, u32)>, Error> {
        let mut out = Vec::new();
        while let Some(f) = r.next_frame()? {
            out.push((f.data.to_vec(), f.timestamp_ns, f.link_type));
        }
        Ok(out)
    }

    #[test]
    fn reads_pcap_in_all_four_magic_variants() {
        for (be, ns) in [(false, false), (false, true), (true, false), (true, true)] {
            let file = pcap(be, ns, 1, &[(3, 250, b"abc"), (4, 0, b"")]);
            let mut r = CaptureReader::new(&file[..]).unwrap();
            assert_eq!(
                r.format(),
                CaptureFormat::Pcap {
                    big_endian: be,
                    nanosecond: ns
                }
            );
            let got = frames(&mut r).unwrap();
            let frac_ns = if ns { 250 } else { 250_000 };
            assert_eq!(
                got,
                [
                    (b"abc".to_vec(), 3_000_000_000 + frac_ns, 1),
                    (vec![], 4_000_000_000, 1)
                ]
            );
        }
    }

    #[test]
    fn masks_the_fcs_bits_of_the_link_type_as_libpcap_does() {
        let file = pcap(false, false, 0x3000_0001, &[(0, 0, b"x")]);
        let mut r = CaptureReader::new(&file[..]).unwrap();
        assert_eq!(r.link_type(), Some(1));
        assert_eq!(r.next_frame().unwrap().unwrap().link_type, 1);
    }

    #[test]
    fn truncated_record_is_an_error_at_its_offset_and_ends_the_capture() {
        let mut file = pcap(false, false, 1, &[(0, 0, b"first"), (0, 0, b"second")]);
        file.truncate(file.len() - 2);
        let mut r = CaptureReader::new(&file[..]).unwrap();
        assert_eq!(r.next_frame().unwrap().unwrap().data, b"first");
        let second_at = 24 + 16 + 5;
        assert!(matches!(r.next_frame(), Err(Error::Truncated { offset }) if offset == second_at));
        assert!(r.next_frame().unwrap().is_none());
    }

    #[test]
    fn oversized_pcap_record_is_rejected_before_allocating() {
        let mut file = pcap(false, false, 1, &[]);
        for x in [0u32, 0, MAX_FRAME_LEN + 1, MAX_FRAME_LEN + 1] {
            file.extend_from_slice(&x.to_le_bytes());
        }
        let mut r = CaptureReader::new(&file[..]).unwrap();
        assert!(matches!(
            r.next_frame(),
            Err(Error::RecordTooLong { offset: 24, .. })
        ));
    }

    #[test]
    fn a_block_claiming_more_than_the_capture_holds_costs_only_what_is_there() {
        // A 16 MiB block (the most accepted) in a capture of 60-odd bytes.
        let mut file = shb(false);
        file.extend_from_slice(&PCAPNG_EPB.to_le_bytes());
        file.extend_from_slice(&MAX_BLOCK_LEN.to_le_bytes());
        file.extend_from_slice(&[7; 20]);
        let mut r = CaptureReader::new(&file[..]).unwrap();
        let start = shb(false).len() as u64;
        assert!(matches!(
            r.next_frame(),
            Err(Error::Truncated { offset }) if offset == start
        ));
        assert!(r.buf.capacity() <= READ_STEP, "{}", r.buf.capacity());
        // The same block whole is read, in steps, to the same bytes.
        let mut file = shb(false);
        file.extend(idb(false, 1, None));
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7) as u8).collect();
        file.extend(epb(false, 0, 1, &data));
        let mut r = CaptureReader::new(&file[..]).unwrap();
        assert_eq!(r.next_frame().unwrap().unwrap().data, &data[..]);
        assert!(r.next_frame().unwrap().is_none());
    }

    #[test]
    fn unknown_magic_and_short_header_are_errors() {
        assert!(matches!(
            CaptureReader::new(&b"GIF89a.................."[..]),
            Err(Error::UnknownFormat { magic: 0x4749_4638 })
        ));
        assert!(matches!(
            CaptureReader::new(&[0xD4, 0xC3][..]),
            Err(Error::Truncated { offset: 0 })
        ));
        let file = pcap(false, false, 1, &[]);
        assert!(matches!(
            CaptureReader::new(&file[..10]),
            Err(Error::Truncated { offset: 0 })
        ));
    }

    #[test]
    fn reads_pcapng_sections_of_either_byte_order_with_tsresol() {
        let mut file = shb(false);
        file.extend(idb(false, 1, None));
        file.extend(epb(false, 0, 1_500_000, b"usec"));
        // A second, big-endian section with nanosecond and 2^-10 interfaces.
        file.extend(shb(true));
        file.extend(idb(true, 228, Some(9)));
        file.extend(idb(true, 101, Some(0x80 | 10)));
        file.extend(block(true, 0x0000_0BAD, b"unknown block is skipped"));
        file.extend(epb(true, 0, 2_000_000_123, b"nsec!"));
        file.extend(epb(true, 1, 1024, b"binary"));
        let mut r = CaptureReader::new(&file[..]).unwrap();
        assert_eq!(r.format(), CaptureFormat::PcapNg);
        let got = frames(&mut r).unwrap();
        assert_eq!(
            got,
            [
                (b"usec".to_vec(), 1_500_000_000, 1),
                (b"nsec!".to_vec(), 2_000_000_123, 228),
                (b"binary".to_vec(), 1_000_000_000, 101),
            ]
        );
    }

    #[test]
    fn pcapng_packet_for_an_undescribed_interface_is_an_error() {
        let mut file = shb(false);
        file.extend(idb(false, 1, None));
        file.extend(epb(false, 3, 0, b"x"));
        let mut r = CaptureReader::new(&file[..]).unwrap();
        assert!(matches!(r.next_frame(), Err(Error::Malformed { .. })));
    }

    #[test]
    fn pcapng_trailing_length_mismatch_is_an_error() {
        let mut file = shb(false);
        let mut b = idb(false, 1, None);
        let n = b.len();
        b[n - 4] ^= 4;
        file.extend(b);
        let mut r = CaptureReader::new(&file[..]).unwrap();
        assert!(matches!(r.next_frame(), Err(Error::Malformed { .. })));
    }

    #[test]
    fn pcapng_simple_packet_uses_interface_zero() {
        let mut file = shb(false);
        file.extend(idb(false, 1, None));
        let mut body = 3u32.to_le_bytes().to_vec();
        body.extend_from_slice(b"abc");
        file.extend(block(false, PCAPNG_SPB, &body));
        let mut r = CaptureReader::new(&file[..]).unwrap();
        let f = r.next_frame().unwrap().unwrap();
        assert_eq!((f.data, f.orig_len, f.link_type), (&b"abc"[..], 3, 1));
    }

    #[test]
    fn arbitrary_bytes_and_mutations_never_panic() {
        let mut good = shb(false);
        good.extend(idb(false, 1, Some(6)));
        good.extend(epb(false, 0, 77, &[0xAB; 61]));
        good.extend(epb(false, 0, 78, &[0xCD; 3]));
        let seeds = [
            good,
            pcap(true, true, 101, &[(1, 2, &[1; 40]), (3, 4, &[2; 7])]),
        ];
        let mut rng = SeededRng::new(0x5eed);
        for round in 0..10_000 {
            let mut data = seeds[round % 2].clone();
            match rng.below(4) {
                0 => data.truncate(rng.below(data.len() as u32 + 1) as usize),
                1 => {
                    for _ in 0..=rng.below(4) {
                        let i = rng.below(data.len() as u32) as usize;
                        data[i] = rng.next_u32() as u8;
                    }
                }
                2 => {
                    let i = rng.below(data.len() as u32) as usize;
                    data[i..].iter_mut().for_each(|b| *b = rng.next_u32() as u8);
                }
                _ => {
                    data = vec![0; rng.below(200) as usize];
                    rng.fill_bytes(&mut data);
                }
            }
            if let Ok(mut r) = CaptureReader::new(&data[..]) {
                let mut n = 0;
                while let Ok(Some(_)) = r.next_frame() {
                    n += 1;
                    assert!(n < 1_000);
                }
            }
        }
    }
}
