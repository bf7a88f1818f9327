//! Fuzz target `arp_cache`: `lamina_arp::NeighborCache` driven by
//! operations chosen by the input, with every packet given to it tracked.
//!
//! The input picks the limits and timers, then a sequence of operations
//! over a small set of addresses (neighbours, ours, broadcasts, multicast,
//! loopback) and hardware addresses: resolutions, received ARP packets
//! (built from those sets, or wholly arbitrary), confirmations, lookups,
//! static entries, removals, address changes, clock steps, and draining
//! `poll_transmit` / `poll_event`. Each packet given to `resolve` carries a
//! unique number; the target checks that:
//!
//! - every packet comes back exactly once — `Ready`, `Dropped`, a `Send`
//!   or `Unreachable` event — or is dropped in the documented ways (older
//!   packets of a full queue, counted in `Queued { dropped }`; an entry's
//!   packets on `remove` or `add_address`), or is still queued, and each
//!   neighbour's packets come out in the order they went in;
//! - the configured bounds hold after every operation: entries, packets
//!   and bytes per neighbour, total queued bytes, pending transmits,
//!   addresses; and the cache's own counts agree with the packets the
//!   target knows are queued;
//! - hardware addresses handed out are unicast (or the broadcast and
//!   multicast mappings), transmitted ARP packets are well formed;
//! - once the clock runs on and the output is drained, every packet has
//!   come back.

use std::collections::{BTreeMap, VecDeque};
use std::net::Ipv4Addr;

use arbitrary::{Arbitrary, Result, Unstructured};
use lamina_arp::{
    ArpOperation, ArpRepr, DropReason, NeighborCache, NeighborConfig, NeighborEvent, NeighborState,
    PacketLen, Resolution, TransmitKind,
};
use lamina_ethernet::MacAddr;
use lamina_netbuf::{Duration, Instant, SeededRng};

const OUR_MAC: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 0x01);

/// Addresses the operations pick from.
const IPS: [Ipv4Addr; 12] = [
    Ipv4Addr::new(10, 0, 0, 1),
    Ipv4Addr::new(10, 0, 0, 2),
    Ipv4Addr::new(10, 0, 0, 3),
    Ipv4Addr::new(10, 0, 0, 4),
    Ipv4Addr::new(10, 0, 0, 5),
    Ipv4Addr::new(10, 0, 1, 6),
    Ipv4Addr::new(10, 0, 0, 255),
    Ipv4Addr::BROADCAST,
    Ipv4Addr::new(224, 0, 0, 1),
    Ipv4Addr::UNSPECIFIED,
    Ipv4Addr::LOCALHOST,
    Ipv4Addr::new(192, 0, 2, 9),
];

const MACS: [MacAddr; 7] = [
    MacAddr::new(0x02, 0, 0, 0, 0, 0x02),
    MacAddr::new(0x02, 0, 0, 0, 0, 0x03),
    MacAddr::new(0x02, 0, 0, 0, 0, 0x04),
    OUR_MAC,
    MacAddr::BROADCAST,
    MacAddr::UNSPECIFIED,
    MacAddr::new(0x01, 0, 0x5e, 0, 0, 1),
];

/// A packet waiting for resolution: its number and length.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tag {
    id: u64,
    len: usize,
}

impl PacketLen for Tag {
    fn packet_len(&self) -> usize {
        self.len
    }
}

#[derive(Debug, Arbitrary)]
enum Op {
    Resolve {
        ip: u8,
        len: u16,
    },
    Receive {
        op: u8,
        sha: u8,
        spa: u8,
        tha: u8,
        tpa: u8,
    },
    ReceiveArbitrary(ArpRepr),
    Confirm(u8),
    Lookup(u8),
    InsertStatic {
        ip: u8,
        mac: u8,
    },
    Remove(u8),
    AddAddress {
        ip: u8,
        prefix_len: u8,
    },
    RemoveAddress(u8),
    Advance(u16),
    AdvanceToPollAt,
    DrainTransmits,
    DrainEvents(u8),
}

fn pick<T: Copy>(items: &[T], i: u8) -> T {
    items[usize::from(i) % items.len()]
}

fn duration(u: &mut Unstructured<'_>) -> Result<Duration> {
    Ok(Duration::from_millis(
        *u.choose(&[0u64, 1, 300, 1000, 5000, 30_000])?,
    ))
}

fn config(u: &mut Unstructured<'_>) -> Result<NeighborConfig> {
    let mut c = NeighborConfig::DEFAULT;
    c.base_reachable_time = duration(u)?;
    c.gc_stale_time = duration(u)?;
    c.delay_first_probe_time = duration(u)?;
    c.retrans_time = duration(u)?;
    c.min_request_interval = duration(u)?;
    c.failed_hold_time = duration(u)?;
    c.locktime = duration(u)?;
    c.mcast_solicit = u.int_in_range(0..=4)?;
    c.ucast_solicit = u.int_in_range(0..=4)?;
    c.max_entries = u.int_in_range(0..=8)?;
    c.unres_qlen = u.int_in_range(0..=4)?;
    c.unres_qlen_bytes = u.int_in_range(0..=2000)?;
    c.max_queued_bytes = u.int_in_range(0..=4000)?;
    c.max_pending_transmits = u.int_in_range(0..=6)?;
    c.max_addresses = u.int_in_range(0..=3)?;
    c.announce_count = u.int_in_range(0..=3)?;
    c.announce_interval = duration(u)?;
    c.defend = u.arbitrary()?;
    c.defend_interval = duration(u)?;
    Ok(c)
}

struct Harness {
    cache: NeighborCache<Tag>,
    now: Instant,
    next_id: u64,
    /// Packets known to be queued, per neighbour, oldest first.
    queued: BTreeMap<Ipv4Addr, VecDeque<Tag>>,
    /// Packets given to `resolve` and packets accounted for.
    given: u64,
    returned: u64,
    dropped_silently: u64,
}

/// Runs one input; must never panic.
pub fn fuzz(data: &[u8]) {
    let _ = run(&mut Unstructured::new(data));
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let config = config(u)?;
    let seed: u64 = u.arbitrary()?;
    let mut h = Harness {
        cache: NeighborCache::new(OUR_MAC, config, &mut SeededRng::new(seed)),
        now: Instant::from_secs(1),
        next_id: 0,
        queued: BTreeMap::new(),
        given: 0,
        returned: 0,
        dropped_silently: 0,
    };
    let mut steps = 0;
    while !u.is_empty() && steps < 300 {
        steps += 1;
        let op: Op = u.arbitrary()?;
        if std::env::var_os("FUZZ_TRACE").is_some() {
            eprintln!("{:?} {op:?}", h.now);
        }
        h.step(op);
        if std::env::var_os("FUZZ_TRACE").is_some() {
            eprintln!("  {:?}", h.cache.iter().collect::<Vec<_>>());
        }
        h.invariants();
    }
    // Let every timer run and drain: every packet must come back.
    for _ in 0..2000 {
        h.drain_transmits();
        h.drain_events(u8::MAX);
        h.invariants();
        match h.cache.poll_at() {
            None => break,
            Some(at) => h.now = h.now.max(at),
        }
    }
    h.drain_transmits();
    h.drain_events(u8::MAX);
    let left: usize = h.queued.values().map(VecDeque::len).sum();
    assert_eq!(left, 0, "packets never released: {:?}", h.queued);
    assert_eq!(h.cache.queued_bytes(), 0);
    assert_eq!(h.given, h.returned + h.dropped_silently);
    Ok(())
}

impl Harness {
    fn step(&mut self, op: Op) {
        let now = self.now;
        match op {
            Op::Resolve { ip, len } => {
                let ip = pick(&IPS, ip);
                let tag = Tag {
                    id: self.next_id,
                    len: usize::from(len % 2048),
                };
                self.next_id += 1;
                self.given += 1;
                let r = self.cache.resolve(ip, tag.clone(), now);
                self.resolution(ip, tag, r);
            }
            Op::Receive {
                op,
                sha,
                spa,
                tha,
                tpa,
            } => {
                let arp = ArpRepr {
                    operation: ArpOperation(u16::from(op % 4)),
                    sender_hardware_addr: pick(&MACS, sha),
                    sender_protocol_addr: pick(&IPS, spa),
                    target_hardware_addr: pick(&MACS, tha),
                    target_protocol_addr: pick(&IPS, tpa),
                };
                self.receive(&arp);
            }
            Op::ReceiveArbitrary(arp) => self.receive(&arp),
            Op::Confirm(ip) => {
                let ip = pick(&IPS, ip);
                if self.cache.confirm(ip, now) {
                    assert_eq!(self.cache.state(ip), Some(NeighborState::Reachable));
                }
            }
            Op::Lookup(ip) => {
                let ip = pick(&IPS, ip);
                if let Some(mac) = self.cache.lookup(ip, now) {
                    check_mac(ip, mac);
                }
            }
            Op::InsertStatic { ip, mac } => {
                let (ip, mac) = (pick(&IPS, ip), pick(&MACS, mac));
                if self.cache.insert_static(ip, mac, now).is_ok() {
                    let info = self.cache.get(ip).expect("static entry");
                    assert_eq!((info.state, info.mac), (NeighborState::Static, Some(mac)));
                    assert!(!mac.is_multicast() && !mac.is_unspecified());
                }
            }
            Op::Remove(ip) => {
                let ip = pick(&IPS, ip);
                let had = self.cache.get(ip).is_some();
                assert_eq!(self.cache.remove(ip), had);
                self.forget(ip);
                assert!(self.cache.get(ip).is_none());
            }
            Op::AddAddress { ip, prefix_len } => {
                let ip = pick(&IPS, ip);
                let ours = self.cache.is_our_address(ip);
                let prefix_len = prefix_len % 34;
                if self.cache.add_address(ip, prefix_len, now).is_ok() {
                    assert!(self.cache.is_our_address(ip));
                    if !ours {
                        // Its neighbour entry went, with the packets.
                        self.forget(ip);
                        assert!(self.cache.get(ip).is_none());
                    }
                    // So did an entry for the subnet's directed broadcast
                    // (prefixes up to /30 have one, RFC 3021).
                    if prefix_len <= 30 {
                        let mask = u32::MAX
                            .checked_shl(32 - u32::from(prefix_len))
                            .unwrap_or(0);
                        let bcast = Ipv4Addr::from(u32::from(ip) | !mask);
                        self.forget(bcast);
                        assert!(self.cache.get(bcast).is_none());
                    }
                }
            }
            Op::RemoveAddress(ip) => {
                let ip = pick(&IPS, ip);
                let ours = self.cache.is_our_address(ip);
                assert_eq!(self.cache.remove_address(ip), ours);
                assert!(!self.cache.is_our_address(ip));
            }
            Op::Advance(ms) => self.now = now + Duration::from_millis(u64::from(ms) * 8),
            Op::AdvanceToPollAt => {
                if let Some(at) = self.cache.poll_at() {
                    self.now = now.max(at);
                    self.cache.handle_timeout(self.now);
                }
            }
            Op::DrainTransmits => self.drain_transmits(),
            Op::DrainEvents(n) => self.drain_events(n),
        }
    }

    /// Packets of `ip`'s entry were dropped with it.
    fn forget(&mut self, ip: Ipv4Addr) {
        if let Some(q) = self.queued.remove(&ip) {
            self.dropped_silently += q.len() as u64;
        }
    }

    fn resolution(&mut self, ip: Ipv4Addr, tag: Tag, r: Resolution<Tag>) {
        match r {
            Resolution::Ready { mac, packet } => {
                assert_eq!(packet, tag);
                self.returned += 1;
                check_mac(ip, mac);
                // Order: nothing of this neighbour may still wait. (A
                // group address has no neighbour; an entry made before
                // `add_address` turned its address into a directed
                // broadcast may still hold packets.)
                if mac != MacAddr::BROADCAST && !mac.is_multicast() {
                    assert!(
                        self.queued.get(&ip).is_none_or(VecDeque::is_empty),
                        "a packet overtook queued ones"
                    );
                }
            }
            Resolution::Queued { dropped } => {
                let q = self.queued.entry(ip).or_default();
                assert!(dropped <= q.len());
                q.drain(..dropped);
                self.dropped_silently += dropped as u64;
                q.push_back(tag);
            }
            Resolution::Dropped { packet, reason } => {
                assert_eq!(packet, tag);
                self.returned += 1;
                let c = self.cache.config();
                match reason {
                    DropReason::NotResolvable => assert!(
                        ip.is_unspecified() || ip.is_loopback() || self.cache.is_our_address(ip)
                    ),
                    DropReason::Unreachable => {
                        assert_eq!(self.cache.state(ip), Some(NeighborState::Failed))
                    }
                    DropReason::QueueFull => assert!(
                        c.unres_qlen == 0
                            || tag.len > c.unres_qlen_bytes
                            || self.cache.queued_bytes() + tag.len > c.max_queued_bytes
                    ),
                    DropReason::TableFull => assert!(self.cache.len() >= c.max_entries),
                }
            }
        }
    }

    fn receive(&mut self, arp: &ArpRepr) {
        let _ = self.cache.handle_packet(arp, self.now);
    }

    fn drain_transmits(&mut self) {
        let mut n = 0;
        while let Some(t) = self.cache.poll_transmit(self.now) {
            n += 1;
            assert!(n <= 10_000, "poll_transmit does not end");
            let p = t.packet;
            assert_eq!(p.sender_hardware_addr, OUR_MAC);
            match t.kind {
                TransmitKind::Request => {
                    assert_eq!(p.operation, ArpOperation::REQUEST);
                    assert!(t.dst == MacAddr::BROADCAST || !t.dst.is_multicast());
                }
                TransmitKind::Reply => {
                    assert_eq!(p.operation, ArpOperation::REPLY);
                    assert_eq!(t.dst, p.target_hardware_addr);
                    assert!(!t.dst.is_multicast() && !t.dst.is_unspecified());
                }
                TransmitKind::Announcement => {
                    assert_eq!(p.sender_protocol_addr, p.target_protocol_addr);
                    assert_eq!(t.dst, MacAddr::BROADCAST);
                }
            }
            let eth = t.ethernet_repr();
            assert_eq!(eth.dst, t.dst);
        }
    }

    fn drain_events(&mut self, max: u8) {
        for _ in 0..=max {
            let Some(e) = self.cache.poll_event(self.now) else {
                return;
            };
            match e {
                NeighborEvent::Send { ip, mac, packet } => {
                    check_mac(ip, mac);
                    self.release(ip, packet);
                }
                NeighborEvent::Unreachable { ip, packet } => self.release(ip, packet),
                NeighborEvent::Conflict(c) => {
                    assert!(!c.mac.is_multicast() && c.mac != OUR_MAC);
                }
            }
        }
    }

    fn release(&mut self, ip: Ipv4Addr, packet: Tag) {
        let q = self
            .queued
            .get_mut(&ip)
            .expect("released from a known queue");
        assert_eq!(q.pop_front(), Some(packet), "released out of order");
        self.returned += 1;
    }

    fn invariants(&self) {
        let c = self.cache.config();
        assert!(self.cache.len() <= c.max_entries);
        assert!(self.cache.pending_transmits() <= c.max_pending_transmits);
        assert!(self.cache.addresses().count() <= c.max_addresses);
        let total: usize = self.queued.values().flatten().map(|t| t.len).sum();
        assert_eq!(self.cache.queued_bytes(), total);
        assert!(total <= c.max_queued_bytes);
        for info in self.cache.iter() {
            let q = self.queued.get(&info.ip);
            assert_eq!(info.queued_packets, q.map_or(0, VecDeque::len), "{info:?}");
            assert_eq!(
                info.queued_bytes,
                q.map_or(0, |q| q.iter().map(|t| t.len).sum())
            );
            assert!(info.queued_packets <= c.unres_qlen);
            assert!(info.queued_bytes <= c.unres_qlen_bytes);
            assert!(
                !self.cache.is_our_address(info.ip),
                "an entry for our address"
            );
            if info.state.is_usable() {
                let mac = info.mac.expect("a usable entry has a MAC");
                assert!(!mac.is_multicast() && !mac.is_unspecified());
            }
        }
        for (ip, q) in &self.queued {
            if !q.is_empty() {
                assert!(self.cache.get(*ip).is_some(), "packets of {ip} vanished");
            }
        }
        assert_eq!(
            self.given,
            self.returned
                + self.dropped_silently
                + self.queued.values().map(|q| q.len() as u64).sum::<u64>()
        );
    }
}

fn check_mac(ip: Ipv4Addr, mac: MacAddr) {
    if ip.is_broadcast() {
        assert_eq!(mac, MacAddr::BROADCAST);
    } else if ip.is_multicast() {
        assert_eq!(mac, MacAddr::from_ipv4_multicast(ip));
    } else if mac != MacAddr::BROADCAST {
        // Unicast neighbours (a directed broadcast maps to broadcast).
        assert!(!mac.is_multicast() && !mac.is_unspecified());
    }
}
