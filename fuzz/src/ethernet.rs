//! Fuzz target `ethernet`: see the crate `lamina-ethernet`.

/// Parses `data` as input for `lamina-ethernet`; must never panic.
pub fn fuzz(data: &[u8]) {
    let _ = data;
}
