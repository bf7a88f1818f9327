//! Seeded randomized property test of the neighbor cache: under random
//! configurations and any sequence of operations (resolutions, received
//! ARP packets good and bad, answers to its own requests, confirmations,
//! static entries, removals, address changes, time jumps, drained or
//! undrained output) it never panics, never exceeds a configured bound,
//! accounts for every packet it was given, releases each neighbour's
//! packets in order, and never sends two requests for one destination
//! closer than `min_request_interval` (RFC 1122 §2.3.2.1).

use std::collections::HashMap;
use std::net::Ipv4Addr;

use lamina_arp::{
    ArpOperation, ArpRepr, DropReason, NeighborCache, NeighborConfig, NeighborEvent, PacketLen,
    Resolution, TransmitKind,
};
use lamina_ethernet::MacAddr;
use lamina_netbuf::{Duration, Instant, Rng, SeededRng};

const SEEDS: u64 = 1000;
const STEPS: usize = 400;

const OUR_MAC: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 0x01);
const OUR_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const SECOND_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 200);

/// A packet tagged with the neighbour it was sent to and its sequence
/// number.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tagged {
    ip: Ipv4Addr,
    seq: u64,
    len: usize,
}

impl PacketLen for Tagged {
    fn packet_len(&self) -> usize {
        self.len
    }
}

fn pick<T: Copy>(rng: &mut SeededRng, items: &[T]) -> T {
    items[rng.below(items.len() as u32) as usize]
}

fn random_duration(rng: &mut SeededRng) -> Duration {
    pick(
        rng,
        &[
            Duration::ZERO,
            Duration::from_millis(1),
            Duration::from_millis(300),
            Duration::SECOND,
            Duration::from_secs(5),
            Duration::from_secs(30),
        ],
    )
}

fn random_config(rng: &mut SeededRng) -> NeighborConfig {
    let mut c = NeighborConfig::default();
    c.base_reachable_time = random_duration(rng);
    c.gc_stale_time = random_duration(rng);
    c.delay_first_probe_time = random_duration(rng);
    c.retrans_time = random_duration(rng);
    c.failed_hold_time = random_duration(rng);
    c.locktime = random_duration(rng);
    c.min_request_interval = pick(rng, &[Duration::ZERO, Duration::SECOND]);
    c.mcast_solicit = rng.below(5);
    c.ucast_solicit = rng.below(5);
    c.max_entries = rng.below(9) as usize;
    c.unres_qlen = rng.below(5) as usize;
    c.unres_qlen_bytes = rng.below(1500) as usize;
    c.max_queued_bytes = rng.below(3000) as usize;
    c.max_pending_transmits = rng.below(7) as usize;
    c.max_addresses = 1 + rng.below(3) as usize;
    c.announce_count = rng.below(4);
    c.announce_interval = pick(rng, &[Duration::from_millis(1), Duration::from_secs(2)]);
    c.defend = rng.below(2) == 0;
    c
}

fn neighbour_ips() -> Vec<Ipv4Addr> {
    let mut v: Vec<Ipv4Addr> = (2..=13).map(|i| Ipv4Addr::new(192, 0, 2, i)).collect();
    v.push(Ipv4Addr::new(198, 51, 100, 5));
    v
}

fn any_ip(rng: &mut SeededRng, neighbours: &[Ipv4Addr]) -> Ipv4Addr {
    if rng.below(5) == 0 {
        pick(
            rng,
            &[
                OUR_IP,
                SECOND_IP,
                Ipv4Addr::UNSPECIFIED,
                Ipv4Addr::BROADCAST,
                Ipv4Addr::new(192, 0, 2, 255),
                Ipv4Addr::new(224, 0, 0, 1),
                Ipv4Addr::LOCALHOST,
            ],
        )
    } else {
        pick(rng, neighbours)
    }
}

fn any_mac(rng: &mut SeededRng) -> MacAddr {
    if rng.below(6) == 0 {
        pick(
            rng,
            &[
                OUR_MAC,
                MacAddr::BROADCAST,
                MacAddr::UNSPECIFIED,
                MacAddr::new(1, 0, 0x5e, 0, 0, 1),
            ],
        )
    } else {
        MacAddr::new(0x02, 0, 0, 0, 0, 0x10 + rng.below(4) as u8)
    }
}

/// What the test knows independently of the cache.
#[derive(Default)]
struct Ledger {
    given: u64,
    returned: u64,
    released: u64,
    reported: u64,
    dropped_oldest: u64,
    removed: u64,
    unreachable_drops: u64,
    last_seq: HashMap<Ipv4Addr, u64>,
    last_request: HashMap<Ipv4Addr, Instant>,
    pending_requests: Vec<ArpRepr>,
}

fn run(seed: u64, totals: &mut [u64; 6]) {
    let mut rng = SeededRng::new(seed);
    let config = random_config(&mut rng);
    let mut c: NeighborCache<Tagged> = NeighborCache::new(OUR_MAC, config, &mut rng);
    let neighbours = neighbour_ips();
    let mut now = Instant::from_secs(1);
    let mut l = Ledger::default();
    let _ = c.add_address(OUR_IP, 24, now);

    for step in 0..STEPS {
        let ctx = format!("seed {seed} step {step} at {now}: {config:?}");
        let op = rng.below(100);
        match op {
            0..30 => {
                let ip = any_ip(&mut rng, &neighbours);
                l.given += 1;
                let p = Tagged {
                    ip,
                    seq: l.given,
                    len: 1 + rng.below(600) as usize,
                };
                match c.resolve(ip, p.clone(), now) {
                    Resolution::Ready { mac, packet } => {
                        assert_eq!(packet, p, "{ctx}");
                        assert!(!mac.is_unspecified(), "{ctx}");
                        if mac.is_unicast() {
                            assert_eq!(c.get(ip).and_then(|e| e.mac), Some(mac), "{ctx}");
                        }
                        l.returned += 1;
                    }
                    Resolution::Queued { dropped } => {
                        l.dropped_oldest += dropped as u64;
                    }
                    Resolution::Dropped { packet, reason } => {
                        assert_eq!(packet, p, "{ctx}");
                        if reason == DropReason::Unreachable {
                            l.unreachable_drops += 1;
                        }
                        l.returned += 1;
                    }
                }
            }
            30..50 => {
                let operation = pick(
                    &mut rng,
                    &[
                        ArpOperation::REQUEST,
                        ArpOperation::REQUEST,
                        ArpOperation::REPLY,
                        ArpOperation::REPLY,
                        ArpOperation::RARP_REPLY,
                    ],
                );
                let spa = any_ip(&mut rng, &neighbours);
                let arp = ArpRepr {
                    operation,
                    sender_hardware_addr: any_mac(&mut rng),
                    sender_protocol_addr: spa,
                    target_hardware_addr: any_mac(&mut rng),
                    target_protocol_addr: if rng.below(2) == 0 {
                        OUR_IP
                    } else if rng.below(3) == 0 {
                        spa
                    } else {
                        any_ip(&mut rng, &neighbours)
                    },
                };
                let _ = c.handle_packet(&arp, now);
            }
            50..60 => {
                if !l.pending_requests.is_empty() {
                    let i = rng.below(l.pending_requests.len() as u32) as usize;
                    let req = l.pending_requests.swap_remove(i);
                    let _ = c.handle_packet(&ArpRepr::reply_to(&req, any_mac(&mut rng)), now);
                }
            }
            60..65 => {
                let _ = c.confirm(any_ip(&mut rng, &neighbours), now);
            }
            65..70 => {
                let ip = any_ip(&mut rng, &neighbours);
                if let Some(mac) = c.lookup(ip, now)
                    && mac.is_unicast()
                {
                    assert_eq!(c.get(ip).and_then(|e| e.mac), Some(mac), "{ctx}");
                }
            }
            70..73 => {
                let _ = c.insert_static(any_ip(&mut rng, &neighbours), any_mac(&mut rng), now);
            }
            73..76 => {
                let ip = any_ip(&mut rng, &neighbours);
                l.removed += c.get(ip).map_or(0, |e| e.queued_packets as u64);
                c.remove(ip);
                l.last_request.remove(&ip);
            }
            76..78 => {
                if c.is_our_address(SECOND_IP) {
                    c.remove_address(SECOND_IP);
                } else {
                    let waiting = c.get(SECOND_IP).map_or(0, |e| e.queued_packets as u64);
                    if c.add_address(SECOND_IP, 24, now).is_ok() {
                        l.removed += waiting;
                        l.last_request.remove(&SECOND_IP);
                    }
                }
            }
            78..80 => {
                let _ = c.announce(pick(&mut rng, &[OUR_IP, SECOND_IP]), now);
            }
            _ => {
                now = match rng.below(10) {
                    0 => now + Duration::from_secs(100),
                    1 => c.poll_at().map_or(now, |t| t.max(now)),
                    _ => now + Duration::from_millis(u64::from(rng.below(2000))),
                };
                c.handle_timeout(now);
            }
        }

        // Bounds.
        assert!(c.len() <= config.max_entries, "{ctx}");
        assert!(
            c.pending_transmits() <= config.max_pending_transmits,
            "{ctx}"
        );
        let mut bytes = 0;
        for e in c.iter() {
            assert!(e.queued_packets <= config.unres_qlen, "{ctx}: {e:?}");
            assert!(e.queued_bytes <= config.unres_qlen_bytes, "{ctx}: {e:?}");
            bytes += e.queued_bytes;
        }
        assert_eq!(bytes, c.queued_bytes(), "{ctx}");
        assert!(c.queued_bytes() <= config.max_queued_bytes, "{ctx}");
        assert!(c.addresses().count() <= config.max_addresses, "{ctx}");

        // Output, as an interface drives it: drain transmissions (and, most
        // of the time, events) until `poll_at` lies in the future.
        let drain_events = rng.below(10) < 7;
        for round in 0.. {
            assert!(round < 100, "{ctx}: poll_at never moves past now");
            while let Some(t) = c.poll_transmit(now) {
                assert_eq!(t.packet.sender_hardware_addr, OUR_MAC, "{ctx}");
                if t.kind == TransmitKind::Request {
                    let ip = t.packet.target_protocol_addr;
                    if let Some(prev) = l.last_request.insert(ip, now) {
                        assert!(
                            now - prev >= config.min_request_interval,
                            "{ctx}: requests for {ip} at {prev} and {now}"
                        );
                    }
                    if l.pending_requests.len() < 8 {
                        l.pending_requests.push(t.packet);
                    }
                }
            }
            if !drain_events {
                break;
            }
            while let Some(e) = c.poll_event(now) {
                let (ip, packet) = match e {
                    NeighborEvent::Send { ip, mac, packet } => {
                        assert!(mac.is_unicast() && !mac.is_unspecified(), "{ctx}");
                        l.released += 1;
                        (ip, packet)
                    }
                    NeighborEvent::Unreachable { ip, packet } => {
                        l.reported += 1;
                        (ip, packet)
                    }
                    NeighborEvent::Conflict(conflict) => {
                        assert!(conflict.ip == OUR_IP || conflict.ip == SECOND_IP);
                        continue;
                    }
                };
                assert_eq!(ip, packet.ip, "{ctx}");
                let last = l.last_seq.insert(ip, packet.seq).unwrap_or(0);
                assert!(packet.seq > last, "{ctx}: {ip} out of order");
            }
            match c.poll_at() {
                Some(at) if at <= now => continue,
                _ => break,
            }
        }
        let queued: u64 = c.iter().map(|e| e.queued_packets as u64).sum();

        // Every packet given is accounted for.
        assert_eq!(
            l.given,
            l.returned + l.released + l.reported + l.dropped_oldest + l.removed + queued,
            "{ctx}"
        );
        let s = c.stats();
        assert_eq!(s.unreachable, l.reported + l.unreachable_drops, "{ctx}");
        assert!(s.queue_drops >= l.dropped_oldest, "{ctx}");
    }
    let s = c.stats();
    for (t, v) in totals.iter_mut().zip([
        l.released,
        l.reported,
        l.dropped_oldest,
        s.evictions,
        s.conflicts,
        s.resolutions,
    ]) {
        *t += v;
    }
}

#[test]
fn random_operations_keep_every_bound_and_account_for_every_packet() {
    let mut totals = [0; 6];
    for seed in 0..SEEDS {
        run(seed, &mut totals);
    }
    // The runs reached every interesting path.
    eprintln!("released, reported, dropped oldest, evictions, conflicts, resolutions: {totals:?}");
    assert!(totals.iter().all(|t| *t > 100), "{totals:?}");
}
