//! Output helpers: human units, aligned tables, the live progress line.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};

use lamina_netbuf::Duration;

/// Prints `text` and a newline on stdout. A reader that went away (`demo
/// | head`) ends the program quietly, with the status of a SIGPIPE.
pub fn line(text: impl AsRef<str>) {
    let mut o = std::io::stdout().lock();
    let r = o
        .write_all(text.as_ref().as_bytes())
        .and_then(|()| o.write_all(b"\n"));
    if let Err(e) = r {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
        eprintln!("demo: writing to stdout: {e}");
        std::process::exit(1);
    }
}

/// `n` bytes in binary units ("64.0 MiB").
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// A simulated duration in milliseconds ("10.412 ms").
pub fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.total_micros() as f64 / 1000.0)
}

/// A simulated duration in seconds ("12.345 s").
pub fn secs(d: Duration) -> String {
    format!("{:.3} s", d.total_micros() as f64 / 1e6)
}

/// `n` bytes over `secs` seconds as a bit rate ("94.1 Mbit/s").
pub fn bit_rate(n: u64, secs: f64) -> String {
    if secs <= 0.0 {
        return "-".into();
    }
    let bits = n as f64 * 8.0 / secs;
    if bits >= 1e9 {
        format!("{:.2} Gbit/s", bits / 1e9)
    } else if bits >= 1e6 {
        format!("{:.1} Mbit/s", bits / 1e6)
    } else {
        format!("{:.1} kbit/s", bits / 1e3)
    }
}

/// `n` bytes over `secs` seconds in MiB/s.
pub fn mib_rate(n: u64, secs: f64) -> String {
    if secs <= 0.0 {
        return "-".into();
    }
    format!("{:.1} MiB/s", n as f64 / secs / (1024.0 * 1024.0))
}

/// A plain text table: the first column left-aligned, the others
/// right-aligned unless their header ends with '<'.
pub struct Table {
    head: Vec<String>,
    left: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(head: &[&str]) -> Table {
        Table {
            head: head
                .iter()
                .map(|h| h.trim_end_matches('<').to_string())
                .collect(),
            left: head
                .iter()
                .enumerate()
                .map(|(i, h)| i == 0 || h.ends_with('<'))
                .collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self, indent: &str) -> String {
        let mut widths: Vec<usize> = self.head.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(c.chars().count());
                }
            }
        }
        let mut out = String::new();
        let line = |out: &mut String, cells: &[String]| {
            let mut s = String::from(indent);
            for (i, c) in cells.iter().enumerate() {
                let w = widths.get(i).copied().unwrap_or(0);
                if i > 0 {
                    s.push_str("  ");
                }
                if self.left.get(i).copied().unwrap_or(false) {
                    let _ = write!(s, "{c:<w$}");
                } else {
                    let _ = write!(s, "{c:>w$}");
                }
            }
            out.push_str(s.trim_end());
            out.push('\n');
        };
        line(&mut out, &self.head);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        line(&mut out, &rule);
        for r in &self.rows {
            line(&mut out, r);
        }
        out
    }
}

/// Where the live progress line goes: stderr when it is a terminal, else
/// stdout when that is one, else nowhere.
pub struct Progress {
    to_stderr: bool,
    enabled: bool,
    last: Option<std::time::Instant>,
    width: usize,
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        let (err, out) = (
            std::io::stderr().is_terminal(),
            std::io::stdout().is_terminal(),
        );
        Progress {
            to_stderr: err,
            enabled: !quiet && (err || out),
            last: None,
            width: 0,
        }
    }

    fn emit(&self, raw: &str) {
        if self.to_stderr {
            let mut e = std::io::stderr().lock();
            let _ = e.write_all(raw.as_bytes());
            let _ = e.flush();
        } else {
            let mut o = std::io::stdout().lock();
            let _ = o.write_all(raw.as_bytes());
            let _ = o.flush();
        }
    }

    fn write(&mut self, text: &str) {
        let len = text.chars().count();
        let pad = self.width.saturating_sub(len);
        self.emit(&format!("\r{text}{}", " ".repeat(pad)));
        self.width = len;
    }

    /// Redraws the line, at most ten times a second; `text` is made only
    /// when drawn.
    pub fn update(&mut self, text: impl FnOnce() -> String) {
        if !self.enabled {
            return;
        }
        let now = std::time::Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < std::time::Duration::from_millis(100))
        {
            return;
        }
        self.last = Some(now);
        let t = text();
        self.write(&t);
    }

    /// Erases the line.
    pub fn clear(&mut self) {
        if self.enabled && self.width > 0 {
            self.emit(&format!("\r{}\r", " ".repeat(self.width)));
            self.width = 0;
        }
    }
}
