//! Per-device traffic counters.

use core::ops::{Add, AddAssign};

/// Traffic counters every device keeps and the user can read with
/// [`Device::stats`](crate::Device::stats). All counters wrap on overflow
/// (a `u64` of bytes lasts 58 years at 10 Gbit/s).
///
/// - `rx_packets`/`rx_bytes`: frames handed to the stack.
/// - `rx_dropped`: frames the device had to discard before the stack saw
///   them (a full receive queue, a fault injector's loss).
/// - `rx_errors`: frames lost to an error (a failed read, a bad capture
///   record).
/// - `tx_packets`/`tx_bytes`: frames accepted from the stack.
/// - `tx_dropped`: frames the stack wrote that were then discarded.
/// - `tx_errors`: transmits that failed (an oversized frame, a failed
///   write).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Frames received.
    pub rx_packets: u64,
    /// Bytes received (frame lengths, link header included).
    pub rx_bytes: u64,
    /// Frames dropped on receive.
    pub rx_dropped: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Frames transmitted.
    pub tx_packets: u64,
    /// Bytes transmitted.
    pub tx_bytes: u64,
    /// Frames dropped on transmit.
    pub tx_dropped: u64,
    /// Transmit errors.
    pub tx_errors: u64,
}

impl Stats {
    /// All counters at zero.
    pub const fn new() -> Stats {
        Stats {
            rx_packets: 0,
            rx_bytes: 0,
            rx_dropped: 0,
            rx_errors: 0,
            tx_packets: 0,
            tx_bytes: 0,
            tx_dropped: 0,
            tx_errors: 0,
        }
    }

    /// Counts one received frame of `len` bytes.
    #[inline]
    pub fn count_rx(&mut self, len: usize) {
        self.rx_packets = self.rx_packets.wrapping_add(1);
        self.rx_bytes = self.rx_bytes.wrapping_add(len as u64);
    }

    /// Counts one transmitted frame of `len` bytes.
    #[inline]
    pub fn count_tx(&mut self, len: usize) {
        self.tx_packets = self.tx_packets.wrapping_add(1);
        self.tx_bytes = self.tx_bytes.wrapping_add(len as u64);
    }
}

impl AddAssign for Stats {
    /// Adds counters field by field (wrapping), to total several devices.
    fn add_assign(&mut self, o: Stats) {
        self.rx_packets = self.rx_packets.wrapping_add(o.rx_packets);
        self.rx_bytes = self.rx_bytes.wrapping_add(o.rx_bytes);
        self.rx_dropped = self.rx_dropped.wrapping_add(o.rx_dropped);
        self.rx_errors = self.rx_errors.wrapping_add(o.rx_errors);
        self.tx_packets = self.tx_packets.wrapping_add(o.tx_packets);
        self.tx_bytes = self.tx_bytes.wrapping_add(o.tx_bytes);
        self.tx_dropped = self.tx_dropped.wrapping_add(o.tx_dropped);
        self.tx_errors = self.tx_errors.wrapping_add(o.tx_errors);
    }
}

impl Add for Stats {
    type Output = Stats;
    fn add(mut self, o: Stats) -> Stats {
        self += o;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_up_and_wrap() {
        let mut a = Stats::new();
        a.count_rx(100);
        a.count_tx(60);
        a.count_tx(40);
        assert_eq!(
            (a.rx_packets, a.rx_bytes, a.tx_packets, a.tx_bytes),
            (1, 100, 2, 100)
        );
        let mut b = a;
        b.rx_dropped = u64::MAX;
        let sum = a + b;
        assert_eq!(sum.rx_packets, 2);
        assert_eq!(sum.rx_dropped, u64::MAX);
        let wrapped = sum + b;
        assert_eq!(wrapped.rx_dropped, u64::MAX - 1);
    }
}
