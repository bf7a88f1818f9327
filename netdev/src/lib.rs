//! The device boundary of the [Lamina](https://github.com/lamina-net/lamina)
//! network stack: the [`Device`] trait through which every NIC, virtual
//! link or capture plugs in, and the devices every test of the stack runs
//! on.
//!
//! # Example
//!
//! Two hosts on a wire with 5 ms of latency, driven by a fake clock that
//! jumps to the device's next event:
//!
//! ```
//! use lamina_netdev::{wire, Device, LinkConfig, RxToken, TxToken};
//! use lamina_netbuf::{Duration, Instant};
//!
//! let (mut a, mut b) = wire(LinkConfig::new().with_latency(Duration::from_millis(5)));
//! let mut now = Instant::ZERO;
//!
//! // Host A writes a frame straight into the buffer the wire lends.
//! a.transmit(now).unwrap().consume(64, |frame| {
//!     frame[..6].copy_from_slice(&[0xff; 6]);
//!     frame[6..].fill(0x42);
//! })?;
//!
//! // Nothing is deliverable until the clock reaches the arrival time.
//! assert_eq!(b.poll_rx(now, 16, |_, _, _| {}), 0);
//! now = b.poll_at().unwrap();
//! assert_eq!(now, Instant::from_millis(5));
//!
//! // Host B handles up to 16 frames and answers each on the same device.
//! let handled = b.poll_rx(now, 16, |frame, meta, reply| {
//!     assert_eq!(meta.timestamp, Some(now));
//!     let len = frame.len();
//!     reply.consume(len, |out| out.copy_from_slice(frame)).unwrap();
//! });
//! assert_eq!(handled, 1);
//! assert_eq!(b.stats().rx_packets, 1);
//! assert_eq!(a.poll_at(), Some(Instant::from_millis(10)));
//! # Ok::<(), lamina_netdev::Error>(())
//! ```
//!
//! # What is in the crate
//!
//! - [`Device`]: zero-copy and batched. [`receive`](Device::receive) lends
//!   the driver's buffer ([`RxToken`], mutable so that a router can rewrite
//!   in place) together with a [`TxToken`] for a reply;
//!   [`transmit`](Device::transmit) lends a device buffer to write the frame
//!   straight into; [`poll_rx`](Device::poll_rx) handles at most a budget of
//!   frames (NAPI-style) so one busy device cannot starve others;
//!   [`poll_at`](Device::poll_at) says when time alone makes the device
//!   ready, for fake-clock simulations. No `std`, no allocation on the fast
//!   path.
//! - [`Capabilities`] (medium, MTU, burst, checksum offload per protocol
//!   and direction, TSO), [`RxMeta`]/[`TxMeta`] per frame, and [`Stats`]
//!   kept by every device.
//! - Devices: [`Loopback`]; in-memory links, a [`wire`] (two ends) and a
//!   [`hub`] (N ports), with latency and bandwidth on the caller's clock;
//!   [`FaultInjector`] (seeded loss, duplication, reordering, corruption,
//!   delay, rate limit); [`TxLimit`] (a transmit ring that fills, as a
//!   NIC's does); [`pcap::PcapReplay`] (a capture as a device);
//!   with feature `std`, [`pcap::PcapWriter`] (record any device to pcap or
//!   pcapng), `pcap::PcapNgFile` (several devices into one pcapng file, an
//!   interface each) and, on Linux, [`TapDevice`].
//! - For tests (feature `testutils`): `pcap::corpus` finds and reads a
//!   corpus of captures with tshark's decodes (`LAMINA_PCAP_DIR`), and, on
//!   Linux, `netns` makes throwaway network namespaces for tests against
//!   the kernel.
//!
//! The crate is `#![no_std]` with `alloc`. The default `std` feature adds
//! the pcap writer, `std::io` sources for replay and the TAP device. Only
//! the TAP module uses `unsafe` (an ioctl and `poll(2)`).
#![no_std]
#![deny(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod caps;
mod device;
mod error;
pub mod fault;
mod frame;
pub mod gso;
mod link;
mod loopback;
#[cfg(all(feature = "testutils", target_os = "linux"))]
pub mod netns;
pub mod pcap;
mod stats;
#[cfg(all(feature = "std", target_os = "linux"))]
#[allow(unsafe_code)]
mod tap;
mod txlimit;

pub use caps::{Capabilities, ChecksumCapabilities, ChecksumProto, ChecksumSet, Medium, Tso};
pub use device::{Device, KeptFrame, RxEvent, RxMeta, RxToken, TxMeta, TxToken};
pub use error::Error;
pub use fault::{FaultConfig, FaultCounters, FaultInjector, FaultStats, RateLimit};
pub use link::{LinkConfig, Port, PortRxToken, PortTxToken, hub, wire};
pub use loopback::{Loopback, LoopbackRxToken, LoopbackTxToken};
pub use stats::Stats;
#[cfg(all(feature = "std", target_os = "linux"))]
pub use tap::{TapDevice, TapRxToken, TapTxToken};
pub use txlimit::TxLimit;
