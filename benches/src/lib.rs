//! Shared helpers for Lamina's criterion benchmarks (see `benches/`).

/// Deterministic pseudo-random bytes, so every run measures the same data.
pub fn test_bytes(len: usize, seed: u64) -> Vec<u8> {
    use lamina_netbuf::Rng;
    let mut rng = lamina_netbuf::SeededRng::new(seed);
    let mut v = vec![0u8; len];
    rng.fill_bytes(&mut v);
    v
}
