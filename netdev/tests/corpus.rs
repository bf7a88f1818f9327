//! Replays the shared corpus of real captures (`LAMINA_PCAP_DIR`, default
//! `../shared/pcaps` beside the workspace) and compares every frame with
//! tshark's decode in the `FILE.tsv` beside each capture.
#![cfg(feature = "std")]

use std::path::PathBuf;

use lamina_netbuf::Instant;
use lamina_netdev::Device;
use lamina_netdev::pcap::{CaptureReader, IoSource, PcapReplay};

fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("LAMINA_PCAP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/pcaps"))
        });
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: capture corpus not found at {} (set LAMINA_PCAP_DIR)",
            dir.display()
        );
        None
    }
}

/// Every capture in the corpus with the `frame.cap_len` column of its TSV.
fn captures() -> Vec<(PathBuf, Vec<usize>)> {
    let Some(dir) = corpus_dir() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.ends_with(".pcap") || name.ends_with(".pcapng")) {
            continue;
        }
        let tsv = std::fs::read_to_string(dir.join(format!("{name}.tsv"))).unwrap();
        let mut lines = tsv.lines();
        let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
        let col = header.iter().position(|h| *h == "frame.cap_len").unwrap();
        let lens = lines
            .filter(|l| !l.is_empty())
            .map(|l| l.split('\t').nth(col).unwrap().parse().unwrap())
            .collect();
        out.push((path, lens));
    }
    out.sort();
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
