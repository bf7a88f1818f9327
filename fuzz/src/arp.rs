//! Fuzz target `arp`: see the crate `lamina-arp`.

/// Parses `data` as input for `lamina-arp`; must never panic.
pub fn fuzz(data: &[u8]) {
    let _ = data;
}
