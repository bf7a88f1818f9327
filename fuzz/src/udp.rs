//! Fuzz target `udp`: see the crate `lamina-udp`.

/// Parses `data` as input for `lamina-udp`; must never panic.
pub fn fuzz(data: &[u8]) {
    let _ = data;
}
