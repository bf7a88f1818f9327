//! Fuzz target `tcp`: see the crate `lamina-tcp`.

/// Parses `data` as input for `lamina-tcp`; must never panic.
pub fn fuzz(data: &[u8]) {
    let _ = data;
}
