//! Fuzz target `filter_rules`: the `nft`-like text syntax of
//! `lamina_filter`.
//!
//! The input, read as text (invalid UTF-8 replaced), is parsed as a whole
//! ruleset, and each of its lines is applied as a command
//! (`Ruleset::apply_command`) to a ruleset built up line by line. The
//! target checks:
//!
//! - nothing panics; an error's offset lies within the text it is about;
//! - a failed command leaves the ruleset unchanged;
//! - whatever parses prints (`Display`) to text that parses back to an
//!   equal ruleset, and prints again to the same text;
//! - building a `Filter` from it either works or returns a `BuildError`.

use lamina_filter::{ConntrackConfig, Filter, FilterConfig, Ruleset};
use lamina_netbuf::SeededRng;

/// Runs one input; must never panic.
pub fn fuzz(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match text.parse::<Ruleset>() {
        Ok(rs) => round_trip(&rs),
        Err(e) => assert!(e.offset <= text.len(), "{e} beyond {}", text.len()),
    }
    let mut rs = Ruleset::new();
    for line in text.lines().take(64) {
        let before = rs.clone();
        if let Err(e) = rs.apply_command(line) {
            assert!(e.offset <= line.len(), "{e} beyond {}", line.len());
            assert_eq!(rs, before, "a failed command changed the ruleset");
        }
    }
    round_trip(&rs);
}

fn round_trip(rs: &Ruleset) {
    let text = rs.to_string();
    let back: Ruleset = text
        .parse()
        .unwrap_or_else(|e| panic!("printed ruleset does not parse: {e}\n{text}"));
    assert_eq!(&back, rs, "round trip changed the ruleset:\n{text}");
    assert_eq!(back.to_string(), text);
    let config = FilterConfig {
        conntrack: ConntrackConfig {
            max_entries: 16,
            ..ConntrackConfig::default()
        },
        ..FilterConfig::default()
    };
    let _ = Filter::new(back, config, &mut SeededRng::new(1));
}
