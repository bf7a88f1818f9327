//! A small tcpdump: decodes pcap and pcapng captures with Lamina's parsers.
//!
//! ```sh
//! cargo run --release -p lamina-socket --example decode -- FILE [FILE...]
//! cargo run --release -p lamina-socket --example decode -- --summary FILE
//! ```
//!
//! Prints one JSON object per frame (see `Dissection::to_json`), or with
//! `--summary` one human-readable line per frame. When several files are
//! given, each JSON object also carries a `file` key. Malformed frames are
//! reported in their output line and do not change the exit status; an
//! unreadable file (missing, or not a capture) makes it non-zero.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use lamina_netdev::pcap::CaptureReader;
use lamina_socket::dissect::{LinkType, dissect};

const USAGE: &str = "usage: decode [--summary] FILE [FILE...]";

fn main() -> ExitCode {
    let mut summary = false;
    let mut files = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--summary" | "-s" => summary = true,
            "--help" | "-h" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => files.push(arg),
        }
    }
    if files.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut unreadable = false;
    let tag_files = files.len() > 1;
    for file in &files {
        match decode_file(file, summary, tag_files, &mut out) {
            Ok(()) => {}
            Err(Failure::Unreadable(msg)) => {
                eprintln!("decode: {file}: {msg}");
                unreadable = true;
            }
            // A closed pipe (`decode ... | head`) is a normal way to stop.
            Err(Failure::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                return ExitCode::SUCCESS;
            }
            Err(Failure::Output(e)) => {
                eprintln!("decode: writing output: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if let Err(e) = out.flush()
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("decode: writing output: {e}");
        return ExitCode::FAILURE;
    }
    if unreadable {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

enum Failure {
    Unreadable(String),
    Output(std::io::Error),
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::Output(e)
    }
}

fn decode_file(path: &str, summary: bool, tag: bool, out: &mut impl Write) -> Result<(), Failure> {
    let data = std::fs::read(path).map_err(|e| Failure::Unreadable(e.to_string()))?;
    let mut reader = CaptureReader::new(&data[..])
        .map_err(|e| Failure::Unreadable(format!("not a readable capture: {e}")))?;
    let prefix = if tag {
        format!("{{\"file\":{},", json_string(path))
    } else {
        "{".to_string()
    };
    if summary && tag {
        writeln!(out, "# {path}")?;
    }
    let mut n: u64 = 0;
    loop {
        let frame = match reader.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(e) => {
                // The rest of the file cannot be framed: report and move on.
                n += 1;
                let msg = format!("capture: {e}");
                if summary {
                    writeln!(out, "{n} [error: {msg}]")?;
                } else {
                    writeln!(
                        out,
                        "{prefix}\"frame\":{n},\"error\":{}}}",
                        json_string(&msg)
                    )?;
                }
                break;
            }
        };
        n += 1;
        let line = match LinkType::from_pcap(frame.link_type) {
            Some(link) => {
                let d = dissect(link, frame.data, frame.orig_len as usize);
                if summary {
                    d.summary(n)
                } else {
                    format!("{prefix}{}", &d.to_json(n)[1..])
                }
            }
            None => {
                let msg = format!("unsupported link type {}", frame.link_type);
                if summary {
                    format!("{n} [error: {msg}]")
                } else {
                    format!(
                        "{prefix}\"frame\":{n},\"len\":{},\"error\":{}}}",
                        frame.orig_len,
                        json_string(&msg)
                    )
                }
            }
        };
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn json_string(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}
