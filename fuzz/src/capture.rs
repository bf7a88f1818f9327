//! Fuzz target `capture`: the pcap and pcapng reader of `lamina-netdev`
//! and the replay device built on it.

use lamina_netbuf::Instant;
use lamina_netdev::pcap::{
    ByteSource, CaptureFormat, CaptureReader, MAX_BLOCK_LEN, MAX_FRAME_LEN, PcapReplay,
    medium_of_link_type,
};
use lamina_netdev::{Device, Error, Medium, RxToken};

/// Reads `data` as a capture, whole and in dribbles, and replays it.
/// Checks that the reader never panics; that no frame exceeds the
/// reader's limits; that every frame moves the offset forward and a clean
/// end has consumed every byte; that after its end (or error) the reader
/// yields nothing more; that reading the capture a few bytes at a time
/// gives exactly the same frames and the same end as reading it whole;
/// and that the replay device hands out exactly the frames of the
/// capture's medium, skipping the others, and stops with an error where
/// the reader does.
pub fn fuzz(data: &[u8]) {
    let whole = read(data, data.len());
    let dribbled = read(Dribble { data, turn: 0 }, data.len());
    assert_eq!(whole, dribbled);
    replay(data, &whole);
}

/// One frame as read, with the reader's offset after it.
#[derive(Debug, PartialEq)]
struct Frame {
    data: Vec<u8>,
    orig_len: u32,
    timestamp_ns: u64,
    link_type: u32,
    interface: u32,
    offset: u64,
}

/// What a reader made of a capture: its format (none if the header was
/// refused), its frames, how it ended (the error, if any), and the link
/// type it named at the end.
#[derive(Debug, PartialEq)]
struct Reading {
    format: Option<CaptureFormat>,
    frames: Vec<Frame>,
    error: Option<String>,
    link_type: Option<u32>,
}

fn read<S: ByteSource>(src: S, len: usize) -> Reading {
    let mut reader = match CaptureReader::new(src) {
        Ok(r) => r,
        Err(e) => {
            return Reading {
                format: None,
                frames: Vec::new(),
                error: Some(describe(&e)),
                link_type: None,
            };
        }
    };
    let format = reader.format();
    let max = match format {
        CaptureFormat::Pcap { .. } => MAX_FRAME_LEN,
        _ => MAX_BLOCK_LEN,
    };
    assert!(reader.offset() <= len as u64);
    let mut frames = Vec::new();
    let mut last = reader.offset();
    let error = loop {
        let frame = match reader.next_frame() {
            Ok(Some(f)) => {
                assert!(f.data.len() as u64 <= u64::from(max));
                Frame {
                    data: f.data.to_vec(),
                    orig_len: f.orig_len,
                    timestamp_ns: f.timestamp_ns,
                    link_type: f.link_type,
                    interface: f.interface,
                    offset: 0,
                }
            }
            Ok(None) => {
                // A clean end: every byte was a header or a record.
                assert_eq!(reader.offset(), len as u64);
                break None;
            }
            Err(e) => break Some(describe(&e)),
        };
        let offset = reader.offset();
        assert!(
            offset > last && offset <= len as u64,
            "{offset} after {last}"
        );
        last = offset;
        frames.push(Frame { offset, ..frame });
    };
    assert!(matches!(reader.next_frame(), Ok(None)));
    assert!(matches!(reader.next_frame(), Ok(None)));
    Reading {
        format: Some(format),
        frames,
        error,
        link_type: reader.link_type(),
    }
}

/// The error's kind and offset (what both ways of reading must agree on).
fn describe(e: &Error) -> String {
    format!("{e:?}")
}

/// A source that gives at most a few bytes per read, the counts varying:
/// a pipe or a socket rather than a file.
struct Dribble<'a> {
    data: &'a [u8],
    turn: usize,
}

impl ByteSource for Dribble<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        const STEPS: [usize; 7] = [1, 3, 2, 7, 64, 5, 1000];
        self.turn += 1;
        let n = buf
            .len()
            .min(self.data.len())
            .min(STEPS[self.turn % STEPS.len()]);
        let (head, rest) = self.data.split_at(n);
        buf[..n].copy_from_slice(head);
        self.data = rest;
        Ok(n)
    }
}

fn replay(data: &[u8], whole: &Reading) {
    // The first frame of a supported link type fixes the medium; frames of
    // other media are skipped. A capture without one is refused (its first
    // frame's link type named), unless it has no frame at all: then the
    // header (pcap) or first interface (pcapng) decides, Ethernet when
    // there is none.
    let medium = whole
        .frames
        .iter()
        .find_map(|f| medium_of_link_type(f.link_type));
    let want = match (whole.format, medium, whole.frames.first()) {
        (None, _, _) => None,
        (Some(_), Some(m), _) => Some(Ok(m)),
        (Some(_), None, Some(f)) => Some(Err(f.link_type)),
        (Some(_), None, None) => Some(match whole.link_type {
            Some(lt) => medium_of_link_type(lt).ok_or(lt),
            None => Ok(Medium::Ethernet),
        }),
    };
    let mut replay = match (PcapReplay::from_bytes(data.to_vec()), want) {
        (Ok(r), Some(Ok(m))) => {
            assert_eq!(r.capabilities().medium, m);
            r
        }
        (Err(Error::UnsupportedLinkType(lt)), Some(Err(want))) => {
            assert_eq!(lt, want);
            return;
        }
        (Err(_), None) => return,
        (got, want) => panic!("replay {got:?}, expected {want:?}"),
    };
    let expected: Vec<&[u8]> = whole
        .frames
        .iter()
        .filter(|f| medium_of_link_type(f.link_type) == medium)
        .map(|f| &f.data[..])
        .collect();
    let mut got = Vec::new();
    while let Some((rx, _tx)) = replay.receive(Instant::ZERO) {
        got.push(rx.consume(|frame| frame.to_vec()));
        assert!(
            got.len() <= expected.len(),
            "more frames than the capture holds"
        );
    }
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(&g[..], *e);
    }
    assert!(replay.is_finished());
    assert_eq!(
        replay.skipped() as usize,
        whole.frames.len() - expected.len()
    );
    assert_eq!(replay.error().is_some(), whole.error.is_some());
}
