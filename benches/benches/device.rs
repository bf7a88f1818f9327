//! Frames per second through Lamina's zero-copy in-memory devices
//! (`Loopback` and a `wire` pair) against the classic copying device
//! interface on a `VecDeque<Vec<u8>>`, with 64- and 1514-byte frames.
//!
//! Both sides do exactly the same work outside the device: the sender
//! writes every byte of each frame (a 42-byte Ethernet + IPv4 + UDP header
//! with a per-frame sequence number, then the payload copied from an
//! application buffer, as a stack copies a payload once), and the receiver
//! reads the header fields a stack demultiplexes on and checks the length.
//! Both deliver byte-identical frames (checked before measuring).
//!
//! - `lamina/*`: the sender writes straight into the buffer the transmit
//!   token lends; the receiver reads the frame in the buffer the receive
//!   token lends. No copy, no allocation.
//! - `vecdeque/*`: the sender builds the frame in its own buffer;
//!   `send(&[u8])` copies it into a fresh `Vec` pushed on the queue;
//!   `recv(&mut [u8])` pops it and copies it into the receiver's buffer.
//!
//! Each iteration moves a burst of 32 frames; throughput is in frames.

use std::collections::VecDeque;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lamina_netbuf::Instant;
use lamina_netdev::{Capabilities, Device, LinkConfig, Loopback, TxToken, wire};

const BURST: usize = 32;
const HEADER_LEN: usize = 42;

/// Ethernet (dst, src, IPv4), IPv4 (no options, UDP), UDP: the fixed
/// parts of every frame's header.
fn header_template() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..6].copy_from_slice(&lamina_benches::DST_MAC);
    h[6..12].copy_from_slice(&lamina_benches::SRC_MAC);
    h[12..14].copy_from_slice(&[0x08, 0x00]);
    h[14..24].copy_from_slice(&[0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17]);
    h[26..30].copy_from_slice(&lamina_benches::SRC_IP.octets());
    h[30..34].copy_from_slice(&lamina_benches::DST_IP.octets());
    h[34..38].copy_from_slice(&[0x9c, 0x40, 0x00, 0x07]);
    h
}

/// What the sender writes: every byte of frame number `seq`.
#[inline(always)]
fn write_frame(buf: &mut [u8], template: &[u8; HEADER_LEN], payload: &[u8], seq: u16) {
    let len = buf.len();
    let (header, body) = buf.split_at_mut(HEADER_LEN);
    header.copy_from_slice(template);
    header[16..18].copy_from_slice(&((len - 14) as u16).to_be_bytes());
    header[18..20].copy_from_slice(&seq.to_be_bytes());
    header[38..40].copy_from_slice(&((len - 34) as u16).to_be_bytes());
    body.copy_from_slice(&payload[..len - HEADER_LEN]);
}

/// What the receiver reads: the demultiplexing fields, checked.
#[inline(always)]
fn read_frame(frame: &[u8]) -> u64 {
    assert_eq!(&frame[12..14], &[0x08, 0x00]);
    assert_eq!(frame[23], 17);
    let total = u16::from_be_bytes([frame[16], frame[17]]) as usize;
    assert_eq!(total + 14, frame.len());
    let seq = u16::from_be_bytes([frame[18], frame[19]]);
    u64::from(seq) + u64::from(u16::from_be_bytes([frame[36], frame[37]]))
}

/// The sender: the header template, the application's payload and the
/// next sequence number.
struct Sender {
    template: [u8; HEADER_LEN],
    payload: Vec<u8>,
    seq: u16,
}

impl Sender {
    fn next(&mut self, buf: &mut [u8]) {
        self.seq = self.seq.wrapping_add(1);
        write_frame(buf, &self.template, &self.payload, self.seq);
    }
}

/// The classic copying device interface.
struct CopyDevice {
    queue: VecDeque<Vec<u8>>,
    tx_buf: Vec<u8>,
    rx_buf: Vec<u8>,
}

impl CopyDevice {
    fn send(&mut self, frame: &[u8]) {
        self.queue.push_back(frame.to_vec());
    }

    fn recv(&mut self, buf: &mut [u8]) -> Option<usize> {
        let frame = self.queue.pop_front()?;
        buf[..frame.len()].copy_from_slice(&frame);
        Some(frame.len())
    }

    /// One burst: build each frame in the sender's buffer and `send` it,
    /// then `recv` each into the receiver's buffer and read it.
    fn burst(
        &mut self,
        sender: &mut Sender,
        len: usize,
        mut seen: Option<&mut Vec<Vec<u8>>>,
    ) -> u64 {
        let mut tx_buf = std::mem::take(&mut self.tx_buf);
        for _ in 0..BURST {
            sender.next(&mut tx_buf[..len]);
            self.send(&tx_buf[..len]);
        }
        self.tx_buf = tx_buf;
        let mut rx_buf = std::mem::take(&mut self.rx_buf);
        let mut acc = 0;
        while let Some(n) = self.recv(&mut rx_buf) {
            acc += read_frame(&rx_buf[..n]);
            if let Some(seen) = seen.as_deref_mut() {
                seen.push(rx_buf[..n].to_vec());
            }
        }
        self.rx_buf = rx_buf;
        acc
    }
}

/// Sends a burst, each frame written straight into the lent buffer.
fn send_burst<T: Device>(tx: &mut T, sender: &mut Sender, len: usize) {
    for _ in 0..BURST {
        tx.transmit(Instant::ZERO)
            .expect("room for a burst")
            .consume(len, |buf| sender.next(buf))
            .expect("frame fits");
    }
}

/// Receives a burst, each frame read in the lent buffer.
fn recv_burst<R: Device>(rx: &mut R, mut seen: Option<&mut Vec<Vec<u8>>>) -> u64 {
    let mut acc = 0;
    let n = rx.poll_rx(Instant::ZERO, BURST, |frame, _, _| {
        acc += read_frame(frame);
        if let Some(seen) = seen.as_deref_mut() {
            seen.push(frame.to_vec());
        }
    });
    assert_eq!(n, BURST);
    acc
}

fn device(c: &mut Criterion) {
    let mut group = c.benchmark_group("device");
    group.throughput(Throughput::Elements(BURST as u64));
    let sender = || Sender {
        template: header_template(),
        payload: lamina_benches::test_bytes(1514, 7),
        seq: 0,
    };

    for len in [64usize, 1514] {
        let mut lo = Loopback::new(Capabilities::default(), BURST);
        let (mut a, mut b) = wire(LinkConfig::new().with_queue_len(BURST));
        let mut copy = CopyDevice {
            queue: VecDeque::with_capacity(BURST),
            tx_buf: vec![0; 1514],
            rx_buf: vec![0; 1514],
        };

        // Every path delivers the same frames.
        let mut seen = [Vec::new(), Vec::new(), Vec::new()];
        let mut s = sender();
        send_burst(&mut lo, &mut s, len);
        recv_burst(&mut lo, Some(&mut seen[0]));
        let mut s = sender();
        send_burst(&mut a, &mut s, len);
        recv_burst(&mut b, Some(&mut seen[1]));
        copy.burst(&mut sender(), len, Some(&mut seen[2]));
        assert_eq!(seen[0], seen[1]);
        assert_eq!(seen[0], seen[2]);
        assert_eq!(seen[0].len(), BURST);

        let mut s = sender();
        group.bench_function(format!("lamina/loopback-{len}"), |bench| {
            bench.iter(|| {
                send_burst(&mut lo, &mut s, len);
                black_box(recv_burst(&mut lo, None))
            })
        });
        let mut s = sender();
        group.bench_function(format!("lamina/wire-{len}"), |bench| {
            bench.iter(|| {
                send_burst(&mut a, &mut s, len);
                black_box(recv_burst(&mut b, None))
            })
        });
        let mut s = sender();
        group.bench_function(format!("vecdeque/{len}"), |bench| {
            bench.iter(|| black_box(copy.burst(&mut s, len, None)))
        });
    }
    group.finish();
}

criterion_group!(benches, device);
criterion_main!(benches);
