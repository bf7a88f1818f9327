//! The bodies of Lamina's fuzz targets.
//!
//! Each `fuzz_targets/*.rs` binary is a one-line `fuzz_target!` calling a
//! function here, so the same code runs under libFuzzer
//! (`cargo +nightly fuzz run TARGET`) and, on stable, in `tests/corpus.rs`,
//! which replays every committed seed through it.

pub mod arp;
pub mod arp_cache;
pub mod capture;
pub mod ethernet;
pub mod filter_hook;
pub mod filter_rules;
pub mod frame;
pub mod icmp;
pub mod icmp_policy;
pub mod ipv4;
pub mod pci_config;
pub mod reassembly;
pub mod roundtrip;
pub mod router;
pub mod stack;
pub mod tcp;
pub mod tcp_buffers;
pub mod tcp_conn;
pub mod tcp_listener;
pub mod tcp_sack;
pub mod udp;
pub mod udp_table;

/// Every checksum kernel agrees with the RFC 1071 reference, at any length
/// and alignment, and incremental updates agree with recomputation.
pub fn checksum(data: &[u8]) {
    use lamina_netbuf::checksum::{self, kernels};
    let want = kernels::reference(data);
    assert_eq!(kernels::scalar(data), want);
    #[cfg(target_arch = "x86_64")]
    {
        assert_eq!(kernels::sse2(data), want);
        if let Some(got) = kernels::avx2(data) {
            assert_eq!(got, want);
        }
        if let Some(got) = kernels::avx512(data) {
            assert_eq!(got, want);
        }
    }
    assert_eq!(checksum::ones_complement_sum(data), want);
    // The copying kernels: the copy exact, the sum the same, nothing
    // written around the destination (placed at an offset the data picks).
    let lead = data.first().map_or(0, |&b| usize::from(b % 64));
    let mut out = vec![0xa5u8; lead + data.len() + 64];
    let check = |out: &[u8]| {
        assert_eq!(&out[lead..lead + data.len()], data);
        assert!(out[..lead].iter().all(|&b| b == 0xa5));
        assert!(out[lead + data.len()..].iter().all(|&b| b == 0xa5));
    };
    assert_eq!(
        checksum::copy_with_sum(&mut out[lead..lead + data.len()], data),
        want
    );
    check(&out);
    #[cfg(target_arch = "x86_64")]
    {
        out.fill(0xa5);
        if let Some(got) = kernels::avx2_copy(&mut out[lead..lead + data.len()], data) {
            assert_eq!(got, want);
            check(&out);
        }
        out.fill(0xa5);
        if let Some(got) = kernels::avx512_copy(&mut out[lead..lead + data.len()], data) {
            assert_eq!(got, want);
            check(&out);
        }
    }
    // Piecewise at an odd split: the same sum as the whole.
    let split = (data.len() / 2) | 1;
    if split < data.len() {
        let mut sum = checksum::Checksum::new();
        let (a, b) = out.split_at_mut(split);
        sum.add_copy(a, &data[..split]);
        sum.add_copy(&mut b[..data.len() - split], &data[split..]);
        assert_eq!(sum.sum(), want);
        assert_eq!(&out[..data.len()], data);
    }
    if data.len() >= 4 {
        let mut copy = data.to_vec();
        let c = checksum::checksum(&copy);
        let old = u16::from_be_bytes([copy[0], copy[1]]);
        let new = u16::from_be_bytes([copy[2], copy[3]]);
        copy[0..2].copy_from_slice(&new.to_be_bytes());
        let updated = checksum::update_u16(c, old, new);
        let full = checksum::checksum(&copy);
        assert!(updated == full || (updated ^ full) == 0xffff && (updated == 0 || full == 0));
    }
}

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// Names of all targets, with their functions, for the corpus replay test.
pub const TARGETS: &[(&str, Target)] = &[
    ("checksum", checksum),
    ("ethernet", ethernet::fuzz),
    ("arp", arp::fuzz),
    ("ipv4", ipv4::fuzz),
    ("icmp", icmp::fuzz),
    ("udp", udp::fuzz),
    ("tcp", tcp::fuzz),
    ("frame", frame::fuzz),
    ("roundtrip", roundtrip::fuzz),
    ("pci_config", pci_config::fuzz),
    ("reassembly", reassembly::fuzz),
    ("arp_cache", arp_cache::fuzz),
    ("icmp_policy", icmp_policy::fuzz),
    ("udp_table", udp_table::fuzz),
    ("filter_rules", filter_rules::fuzz),
    ("filter_hook", filter_hook::fuzz),
    ("tcp_buffers", tcp_buffers::fuzz),
    ("tcp_sack", tcp_sack::fuzz),
    ("tcp_listener", tcp_listener::fuzz),
    ("tcp_conn", tcp_conn::fuzz),
    ("stack", stack::fuzz),
    ("capture", capture::fuzz),
];
