//! Tests of the bounded receive queue.

use core::net::{Ipv4Addr, SocketAddrV4};
use std::collections::VecDeque;
use std::vec;
use std::vec::Vec;

use lamina_netbuf::rng::{Rng, SeededRng};

use crate::*;

const ME: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

fn from(port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 9), port)
}

#[test]
fn a_full_queue_drops_the_newest_and_counts_it_as_linux_rcvbuf_errors() {
    let mut q = RxQueue::new(3, 10_000);
    for i in 0..5u16 {
        let r = q.push_slice(from(i), ME, &[i as u8; 10]);
        assert_eq!(r.is_ok(), i < 3);
    }
    assert_eq!(q.drops(), 2);
    // The first three are kept, in order.
    for i in 0..3u16 {
        let d = q.pop().unwrap();
        assert_eq!((d.src, d.dst, d.payload), (from(i), ME, vec![i as u8; 10]));
    }
    assert!(q.pop().is_none());
    assert_eq!(q.bytes(), 0);
}

#[test]
fn the_byte_limit_holds_and_an_oversized_datagram_is_never_queued() {
    let mut q = RxQueue::new(100, 100);
    assert!(q.push_slice(from(1), ME, &[0; 60]).is_ok());
    assert_eq!(q.push_slice(from(2), ME, &[0; 41]), Err(QueueFull));
    assert!(q.push_slice(from(3), ME, &[0; 40]).is_ok());
    assert_eq!(q.bytes(), 100);
    assert!(!q.has_room(1));
    // Empty datagrams cost no bytes but count against the datagram limit.
    assert!(q.has_room(0));
    let mut empty = RxQueue::new(2, 0);
    assert!(empty.push_slice(from(1), ME, &[]).is_ok());
    assert!(empty.push_slice(from(1), ME, &[]).is_ok());
    assert!(empty.push_slice(from(1), ME, &[]).is_err());
    let mut small = RxQueue::new(10, 50);
    assert!(small.push_slice(from(1), ME, &[0; 51]).is_err());
    assert!(small.is_empty());
}

#[test]
fn recv_slice_truncates_and_discards_the_rest_like_recvfrom() {
    let mut q = RxQueue::new(4, 1000);
    q.push_slice(from(7), ME, b"hello world").unwrap();
    q.push_slice(from(8), ME, b"hi").unwrap();
    let mut buf = [0u8; 5];
    let got = q.recv_slice(&mut buf).unwrap();
    assert_eq!(&buf, b"hello");
    assert_eq!(
        got,
        RecvInfo {
            src: from(7),
            dst: ME,
            copied: 5,
            len: 11
        }
    );
    assert!(got.truncated());
    let got = q.recv_slice(&mut buf).unwrap();
    assert_eq!(
        (&buf[..2], got.copied, got.truncated()),
        (&b"hi"[..], 2, false)
    );
    assert!(q.recv_slice(&mut buf).is_none());
}

#[test]
fn peek_leaves_the_datagram_and_clear_empties_the_queue() {
    let mut q = RxQueue::new(4, 1000);
    q.push_slice(from(1), ME, b"a").unwrap();
    q.push_slice(from(2), ME, b"bc").unwrap();
    assert_eq!(q.peek().unwrap().payload, b"a");
    assert_eq!(q.len(), 2);
    q.clear();
    assert!(q.is_empty());
    assert_eq!(q.bytes(), 0);
}

#[test]
fn owned_buffers_of_any_kind_can_be_queued_and_are_given_back_when_full() {
    let mut q: RxQueue<&[u8]> = RxQueue::new(1, 100);
    let d = RxDatagram {
        src: from(1),
        dst: ME,
        payload: &b"abc"[..],
    };
    assert!(q.push(d.clone()).is_ok());
    assert_eq!(q.push(d.clone()), Err(d));
    assert_eq!(q.drops(), 1);
}

#[test]
fn shrinking_the_limits_keeps_what_is_queued() {
    let mut q = RxQueue::new(4, 1000);
    for _ in 0..4 {
        q.push_slice(from(1), ME, &[1; 100]).unwrap();
    }
    q.set_limits(2, 150);
    assert_eq!((q.max_datagrams(), q.max_bytes()), (2, 150));
    assert_eq!(q.len(), 4);
    assert!(q.push_slice(from(1), ME, &[]).is_err());
    for _ in 0..3 {
        q.pop();
    }
    assert!(q.push_slice(from(1), ME, &[1; 50]).is_ok());
}

/// Property: under random floods and reads the queue never exceeds its
/// limits, its byte count is the sum of what it holds, it is FIFO, and
/// every refusal is counted.
#[test]
fn stays_bounded_and_fifo_under_random_floods() {
    let mut rng = SeededRng::new(0xf1f0);
    for _ in 0..50 {
        let max_d = rng.below(20) as usize;
        let max_b = rng.below(5000) as usize;
        let mut q = RxQueue::new(max_d, max_b);
        let mut model: VecDeque<Vec<u8>> = VecDeque::new();
        let mut refused = 0u64;
        for _ in 0..2000 {
            if rng.below(3) == 0 {
                assert_eq!(q.pop().map(|d| d.payload), model.pop_front());
            } else {
                let mut p = vec![0u8; rng.below(600) as usize];
                rng.fill_bytes(&mut p);
                let bytes: usize = model.iter().map(Vec::len).sum();
                let fits = model.len() < max_d && bytes + p.len() <= max_b;
                let r = q.push_slice(from(1), ME, &p);
                assert_eq!(r.is_ok(), fits);
                if fits {
                    model.push_back(p);
                } else {
                    refused += 1;
                }
            }
            assert!(q.len() <= max_d && q.bytes() <= max_b);
            assert_eq!(q.bytes(), model.iter().map(Vec::len).sum::<usize>());
            assert_eq!(q.drops(), refused);
        }
    }
}
