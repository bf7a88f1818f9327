//! Fuzz target `icmp`: see the crate `lamina-icmp`.

/// Parses `data` as input for `lamina-icmp`; must never panic.
pub fn fuzz(data: &[u8]) {
    let _ = data;
}
