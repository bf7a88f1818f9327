//! Fuzz target `ipv4`: see the crate `lamina-ipv4`.

/// Parses `data` as input for `lamina-ipv4`; must never panic.
pub fn fuzz(data: &[u8]) {
    let _ = data;
}
