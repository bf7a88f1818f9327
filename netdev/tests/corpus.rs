//! Replays the shared corpus of real captures (`LAMINA_PCAP_DIR`, default
//! `../shared/pcaps` beside the workspace) and compares every frame with
//! tshark's decode in the `FILE.tsv` beside each capture.
#![cfg(feature = "std")]

use std::path::PathBuf;

use lamina_netbuf::Instant;
use lamina_netdev::Device;
use lamina_netdev::pcap::corpus::{self, Decode};
use lamina_netdev::pcap::{CaptureReader, IoSource, PcapReplay};

/// Every capture in the corpus with the `frame.cap_len` column of its TSV.
fn captures() -> Vec<(PathBuf, Vec<usize>)> {
    let Some(dir) = corpus::dir() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for path in corpus::captures(&dir).expect("readable corpus") {
        let decode = Decode::load_beside(&path).expect("readable decode");
        let lens = decode
            .rows()
            .map(|row| row.num("frame.cap_len").expect("frame.cap_len") as usize)
            .collect();
        out.push((path, lens));
    }
    out
}

#[test]
fn reader_yields_exactly_the_frames_tshark_decoded() {
    let caps = captures();
    if caps.is_empty() {
        return;
    }
    let mut failures = Vec::new();
    for (path, want) in &caps {
        let file = std::fs::File::open(path).unwrap();
        let mut reader = match CaptureReader::new(IoSource(std::io::BufReader::new(file))) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{}: open: {e}", path.display()));
                continue;
            }
        };
        let mut got = Vec::new();
        let end = loop {
            match reader.next_frame() {
                Ok(Some(f)) => got.push(f.data.len()),
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        if &got != want {
            failures.push(format!(
                "{}: {} frames {:?}.., tshark {} {:?}.. (stopped by {end:?})",
                path.display(),
                got.len(),
                &got[..got.len().min(5)],
                want.len(),
                &want[..want.len().min(5)]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} captures differ:\n{}",
        failures.len(),
        caps.len(),
        failures.join("\n")
    );
    println!("{} captures match tshark frame by frame", caps.len());
}

#[test]
fn replay_device_delivers_every_frame_of_every_capture() {
    let caps = captures();
    for (path, want) in &caps {
        let mut replay =
            PcapReplay::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut lens = Vec::new();
        let now = Instant::ZERO;
        while replay.poll_rx(now, 64, |frame, meta, _| {
            assert!(meta.timestamp.is_some());
            lens.push(frame.len());
        }) == 64
        {}
        assert!(replay.is_finished(), "{}", path.display());
        assert_eq!(&lens, want, "{}", path.display());
        assert_eq!(replay.stats().rx_packets, want.len() as u64);
    }
}
