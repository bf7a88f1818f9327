//! The shared capture corpus for tests (feature `testutils`): finding it,
//! reading its captures, and reading tshark's decode stored beside each.
//!
//! Lamina's tests compare its parsers with tshark on real captures that
//! live outside the repository, in `LAMINA_PCAP_DIR` (default
//! `../shared/pcaps` beside the workspace). Each capture `FILE` has its
//! decode in `FILE.tsv`: a header row of tshark field names, then one row
//! per frame. Integrators can point `LAMINA_PCAP_DIR` at their own corpus
//! made the same way.
//!
//! ```no_run
//! use lamina_netdev::pcap::corpus;
//!
//! let Some(dir) = corpus::dir() else { return Ok(()) };
//! let capture = corpus::Capture::load(&dir.join("pcapplusplus__ArpRequestPacket.pcap"))?;
//! let decode = corpus::Decode::load_beside(&capture.path)?;
//! for (frame, row) in capture.frames.iter().zip(decode.rows()) {
//!     assert_eq!(row.first("frame.len"), Some(frame.orig_len.to_string().as_str()));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};
use std::vec::Vec;
use std::{format, string::String, string::ToString};

use super::CaptureReader;

/// The corpus directory: `LAMINA_PCAP_DIR` if set, else `../shared/pcaps`
/// beside the workspace this crate was built in. Prints a `SKIPPED` line
/// to stderr and returns `None` when the directory does not exist, so that
/// tests can skip loudly where the corpus is absent.
pub fn dir() -> Option<PathBuf> {
    let dir = std::env::var_os("LAMINA_PCAP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/pcaps"));
    if dir.is_dir() {
        Some(dir)
    } else {
        std::eprintln!(
            "SKIPPED: capture corpus not found at {} (set LAMINA_PCAP_DIR)",
            dir.display()
        );
        None
    }
}

/// Every capture in `dir` that has a decode (`FILE.tsv`) beside it, sorted
/// by name.
pub fn captures(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.to_string_lossy();
            (name.ends_with(".pcap") || name.ends_with(".pcapng")) && tsv_path(p).is_file()
        })
        .collect();
    out.sort();
    Ok(out)
}

/// The capture `name` in `dir` and tshark's decode of it.
pub fn open(dir: &Path, name: &str) -> Result<(Capture, Decode), crate::Error> {
    let path = dir.join(name);
    let capture = Capture::load(&path)?;
    let decode = Decode::load_beside(&path)?;
    Ok((capture, decode))
}

fn tsv_path(capture: &Path) -> PathBuf {
    PathBuf::from(format!("{}.tsv", capture.display()))
}

/// One frame of a [`Capture`], owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The captured bytes.
    pub data: Vec<u8>,
    /// The length on the wire.
    pub orig_len: u32,
    /// The link type, masked as libpcap does.
    pub link_type: u32,
}

impl Frame {
    /// The IPv4 datagram this frame carries, located by hand (after the
    /// 14-byte Ethernet header and any 802.1Q/802.1ad tags, or at the start
    /// of a raw-IP frame) so that a crate's tests need not trust the
    /// parsers under test to find it. `None` for anything else.
    pub fn ipv4(&self) -> Option<Ipv4Datagram<'_>> {
        let ip = match self.link_type {
            super::LINKTYPE_RAW | super::LINKTYPE_IPV4 => &self.data[..],
            super::LINKTYPE_ETHERNET => {
                let mut at = 12;
                while matches!(
                    self.data.get(at..at + 2)?,
                    [0x81, 0x00] | [0x88, 0xa8] | [0x91, 0x00]
                ) {
                    at += 4;
                }
                if self.data.get(at..at + 2)? != [0x08, 0x00] {
                    return None;
                }
                self.data.get(at + 2..)?
            }
            _ => return None,
        };
        if ip.first()? >> 4 != 4 {
            return None;
        }
        let ihl = usize::from(ip.first()? & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
        let addr = |at: usize| -> Option<core::net::Ipv4Addr> {
            let a: [u8; 4] = ip.get(at..at + 4)?.try_into().ok()?;
            Some(core::net::Ipv4Addr::from(a))
        };
        Some(Ipv4Datagram {
            src: addr(12)?,
            dst: addr(16)?,
            header: ip.get(..ihl)?,
            transport: ip.get(ihl..total.min(ip.len()))?,
        })
    }
}

/// An IPv4 datagram found in a [`Frame`] by [`Frame::ipv4`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Datagram<'a> {
    /// Source address.
    pub src: core::net::Ipv4Addr,
    /// Destination address.
    pub dst: core::net::Ipv4Addr,
    /// The header, options included.
    pub header: &'a [u8],
    /// The bytes after the header, cut at the total length (or at the end
    /// of the capture when it was cut short).
    pub transport: &'a [u8],
}

/// A whole capture read into memory.
#[derive(Debug)]
pub struct Capture {
    /// Where it was read from.
    pub path: PathBuf,
    /// The frames that could be read, in order.
    pub frames: Vec<Frame>,
    /// Why reading stopped early, for a damaged capture.
    pub error: Option<crate::Error>,
}

impl Capture {
    /// Reads every frame of the pcap or pcapng file at `path`. A damaged
    /// file gives the frames before the damage and the error; only a file
    /// that cannot be read or has no capture header is an `Err`.
    pub fn load(path: &Path) -> Result<Capture, crate::Error> {
        let data = std::fs::read(path).map_err(crate::Error::from)?;
        let mut reader = CaptureReader::new(&data[..])?;
        let mut frames = Vec::new();
        let error = loop {
            match reader.next_frame() {
                Ok(Some(f)) => frames.push(Frame {
                    data: f.data.to_vec(),
                    orig_len: f.orig_len,
                    link_type: f.link_type,
                }),
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        Ok(Capture {
            path: path.to_path_buf(),
            frames,
            error,
        })
    }

    /// The file name.
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default()
    }
}

/// tshark's decode of a capture: one [`Row`] per frame.
#[derive(Debug, Clone)]
pub struct Decode {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Decode {
    /// Reads the decode stored beside `capture` (`capture.tsv`).
    pub fn load_beside(capture: &Path) -> std::io::Result<Decode> {
        Decode::load(&tsv_path(capture))
    }

    /// Reads a tab-separated decode with a header row.
    pub fn load(path: &Path) -> std::io::Result<Decode> {
        let text = std::fs::read_to_string(path)?;
        let mut lines = text.lines();
        let header = lines
            .next()
            .unwrap_or("")
            .split('\t')
            .map(str::to_string)
            .collect();
        let rows = lines
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect();
        Ok(Decode { header, rows })
    }

    /// The rows, frame 1 first.
    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(move |cells| Row {
            header: &self.header,
            cells,
        })
    }

    /// The row of frame `number` (1-based), if any.
    pub fn row(&self, number: usize) -> Option<Row<'_>> {
        let cells = self.rows.get(number.checked_sub(1)?)?;
        Some(Row {
            header: &self.header,
            cells,
        })
    }

    /// How many frames tshark decoded.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the decode has no frames.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// One frame of a [`Decode`].
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    header: &'a [String],
    cells: &'a [String],
}

impl<'a> Row<'a> {
    /// The cell of column `field` (a tshark field name), if present and
    /// not empty. Several values (tunnels, stacked tags, the quoted header
    /// of an ICMP error) are comma-separated, outermost first.
    pub fn get(&self, field: &str) -> Option<&'a str> {
        let at = self.header.iter().position(|h| h == field)?;
        self.cells
            .get(at)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The first (outermost) value of column `field`.
    pub fn first(&self, field: &str) -> Option<&'a str> {
        self.get(field).and_then(|v| v.split(',').next())
    }

    /// All values of column `field`, outermost first.
    pub fn values(&self, field: &str) -> Vec<&'a str> {
        self.get(field)
            .map(|v| v.split(',').collect())
            .unwrap_or_default()
    }

    /// The first value of `field` as a number: decimal, or hexadecimal
    /// with `0x`, as tshark prints them.
    pub fn num(&self, field: &str) -> Option<u64> {
        let v = self.first(field)?;
        match v.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => v.parse().ok(),
        }
    }
}
