//! Unit tests of the neighbor cache, on a fake clock: plain `Instant`
//! values stepped forward by hand.

use super::*;
use alloc::vec;
use alloc::vec::Vec;

const OUR_MAC: MacAddr = MacAddr::new(0x02, 0, 0x5e, 0, 0, 0x01);
const MAC_B: MacAddr = MacAddr::new(0x02, 0, 0x5e, 0, 0, 0x02);
const MAC_C: MacAddr = MacAddr::new(0x02, 0, 0x5e, 0, 0, 0x03);
const OUR_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const IP_B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const IP_C: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 3);
const IP_D: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 4);

type Cache = NeighborCache<Vec<u8>>;

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

fn secs(n: u64) -> Instant {
    Instant::from_secs(n)
}

/// The defaults, without announcements (so that tests see only what they
/// cause).
fn quiet() -> NeighborConfig {
    NeighborConfig {
        announce_count: 0,
        ..NeighborConfig::DEFAULT
    }
}

fn cache_with(config: NeighborConfig) -> Cache {
    let mut c = Cache::new(OUR_MAC, config, &mut SeededRng::new(1));
    c.add_address(OUR_IP, 24, Instant::ZERO).unwrap();
    drain_tx(&mut c, Instant::ZERO);
    c
}

fn cache() -> Cache {
    cache_with(quiet())
}

fn drain_tx(c: &mut Cache, now: Instant) -> Vec<ArpTransmit> {
    core::iter::from_fn(|| c.poll_transmit(now)).collect()
}

fn drain_events(c: &mut Cache, now: Instant) -> Vec<NeighborEvent<Vec<u8>>> {
    core::iter::from_fn(|| c.poll_event(now)).collect()
}

fn pkt(n: u8) -> Vec<u8> {
    vec![n; 100]
}

/// The reply `mac` gives to our request for `ip`.
fn reply_from(mac: MacAddr, ip: Ipv4Addr) -> ArpRepr {
    ArpRepr::reply_to(&ArpRepr::request(OUR_MAC, OUR_IP, ip), mac)
}

/// Brings IP_B to REACHABLE at MAC_B at time `at`.
fn resolve_b(c: &mut Cache, at: Instant) {
    assert!(matches!(
        c.resolve(IP_B, pkt(0), at),
        Resolution::Queued { .. }
    ));
    c.handle_packet(&reply_from(MAC_B, IP_B), at);
    drain_tx(c, at);
    drain_events(c, at);
    assert_eq!(c.state(IP_B), Some(NeighborState::Reachable));
}

/// Brings IP_B to STALE (learned from its request to us) at time `at`.
fn stale_b(c: &mut Cache, at: Instant) {
    c.handle_packet(&ArpRepr::request(MAC_B, IP_B, OUR_IP), at);
    drain_tx(c, at);
    assert_eq!(c.state(IP_B), Some(NeighborState::Stale));
}

fn requests(tx: &[ArpTransmit]) -> Vec<(Ipv4Addr, MacAddr)> {
    tx.iter()
        .filter(|t| t.kind == TransmitKind::Request)
        .map(|t| (t.packet.target_protocol_addr, t.dst))
        .collect()
}

/// RFC 1122 §2.3.2.2: packets queued during resolution go out, in order,
/// when the answer arrives; RFC 826: the request is a broadcast naming
/// our address.
#[test]
fn resolution_success_releases_queued_packets_in_order() {
    let mut c = cache();
    for n in 1..=3 {
        assert_eq!(
            c.resolve(IP_B, pkt(n), ms(10 * n as u64)),
            Resolution::Queued { dropped: 0 }
        );
    }
    let tx = drain_tx(&mut c, ms(30));
    assert_eq!(tx.len(), 1, "one request for three packets");
    assert_eq!(tx[0].packet, ArpRepr::request(OUR_MAC, OUR_IP, IP_B));
    assert_eq!(tx[0].dst, MacAddr::BROADCAST);
    assert_eq!(tx[0].ethernet_repr().ethertype, EtherType::ARP);
    assert_eq!(c.get(IP_B).unwrap().queued_packets, 3);
    assert!(drain_events(&mut c, ms(30)).is_empty());

    let r = c.handle_packet(&reply_from(MAC_B, IP_B), ms(40));
    assert_eq!(
        r,
        Received::Processed {
            updated: true,
            created: false,
            replied: false
        }
    );
    assert_eq!(c.state(IP_B), Some(NeighborState::Reachable));
    let events = drain_events(&mut c, ms(40));
    assert_eq!(
        events,
        (1..=3)
            .map(|n| NeighborEvent::Send {
                ip: IP_B,
                mac: MAC_B,
                packet: pkt(n)
            })
            .collect::<Vec<_>>()
    );
    assert_eq!(c.queued_bytes(), 0);
    assert_eq!(c.stats().resolutions, 1);
    assert_eq!(c.stats().requests_sent, 1);
    assert_eq!(
        c.resolve(IP_B, pkt(4), ms(50)),
        Resolution::Ready {
            mac: MAC_B,
            packet: pkt(4)
        }
    );
}

/// RFC 1122 §2.3.2.1 and Linux `mcast_solicit`/`retrans_time`: three
/// broadcast requests one second apart, then failure, which reports every
/// waiting packet for ICMP host unreachable (RFC 1122 §3.2.2.1).
#[test]
fn unanswered_resolution_retries_every_second_then_reports_every_packet() {
    let mut c = cache();
    c.resolve(IP_B, pkt(1), ms(0));
    c.resolve(IP_B, pkt(2), ms(500));
    assert_eq!(requests(&drain_tx(&mut c, ms(500))).len(), 1);
    assert!(drain_tx(&mut c, ms(999)).is_empty());
    assert_eq!(
        requests(&drain_tx(&mut c, ms(1000))),
        vec![(IP_B, MacAddr::BROADCAST)]
    );
    assert!(drain_tx(&mut c, ms(1999)).is_empty());
    assert_eq!(requests(&drain_tx(&mut c, ms(2000))).len(), 1);
    assert_eq!(c.state(IP_B), Some(NeighborState::Incomplete));
    assert!(drain_events(&mut c, ms(2999)).is_empty());

    let events = drain_events(&mut c, ms(3000));
    assert_eq!(c.state(IP_B), Some(NeighborState::Failed));
    assert_eq!(
        events,
        vec![
            NeighborEvent::Unreachable {
                ip: IP_B,
                packet: pkt(1)
            },
            NeighborEvent::Unreachable {
                ip: IP_B,
                packet: pkt(2)
            },
        ]
    );
    assert!(drain_tx(&mut c, ms(3000)).is_empty(), "no fourth request");
    assert_eq!(c.stats().failures, 1);
    assert_eq!(c.stats().unreachable, 2);
    assert_eq!(c.stats().requests_sent, 3);

    // While FAILED, packets are refused at once, without new requests.
    assert_eq!(
        c.resolve(IP_B, pkt(3), ms(4000)),
        Resolution::Dropped {
            packet: pkt(3),
            reason: DropReason::Unreachable
        }
    );
    assert!(drain_tx(&mut c, ms(4000)).is_empty());
    // After `failed_hold_time` the entry goes, and resolution starts over.
    assert_eq!(c.get(IP_B).unwrap().expires, Some(ms(6000)));
    c.handle_timeout(ms(6000));
    assert_eq!(c.state(IP_B), None);
    c.resolve(IP_B, pkt(4), ms(6500));
    assert_eq!(requests(&drain_tx(&mut c, ms(6500))).len(), 1);
}

/// RFC 1122 §2.3.2.1: "prevent ARP flooding": at most one request per
/// second per destination, however often packets are sent and whatever
/// the retransmission timer says.
#[test]
fn sends_at_most_one_request_per_second_per_destination() {
    let mut config = quiet();
    config.retrans_time = Duration::from_millis(200);
    config.failed_hold_time = Duration::ZERO;
    let mut c = cache_with(config);
    let mut sent: Vec<(Ipv4Addr, Instant)> = Vec::new();
    for step in 0..200u64 {
        let now = ms(step * 50);
        for ip in [IP_B, IP_C] {
            let _ = c.resolve(ip, pkt(step as u8), now);
        }
        for t in drain_tx(&mut c, now) {
            sent.push((t.packet.target_protocol_addr, now));
        }
        drain_events(&mut c, now);
    }
    for ip in [IP_B, IP_C] {
        let times: Vec<Instant> = sent.iter().filter(|s| s.0 == ip).map(|s| s.1).collect();
        assert!(times.len() >= 8, "{ip}: {} requests", times.len());
        for w in times.windows(2) {
            assert!(w[1] - w[0] >= Duration::SECOND, "{ip}: {:?}", w);
        }
    }
    // Still three tries before failing, one second apart.
    assert!(c.stats().failures >= 2);
}

/// RFC 4861 §6.3.2 / §7.3.3 (as Linux for ARP): a confirmed entry stays
/// REACHABLE for a random 0.5–1.5 × base_reachable_time, then goes STALE
/// (still usable).
#[test]
fn reachable_becomes_stale_after_the_randomised_reachable_time() {
    let mut c = cache();
    resolve_b(&mut c, secs(0));
    let expires = c.get(IP_B).unwrap().expires.unwrap();
    assert!(
        (secs(15)..=secs(45)).contains(&expires),
        "{expires:?} outside 15-45 s"
    );
    c.handle_timeout(expires - Duration::MICROSECOND);
    assert_eq!(c.state(IP_B), Some(NeighborState::Reachable));
    c.handle_timeout(expires);
    assert_eq!(c.state(IP_B), Some(NeighborState::Stale));
    assert_eq!(c.get(IP_B).unwrap().mac, Some(MAC_B));

    // Entries confirmed together do not all expire together.
    let mut c = cache();
    let mut seen = Vec::new();
    for i in 10..20 {
        let ip = Ipv4Addr::new(192, 0, 2, i);
        c.resolve(ip, pkt(0), secs(0));
        c.handle_packet(&reply_from(MacAddr::new(2, 0, 0, 0, 0, i), ip), secs(0));
        seen.push(c.get(ip).unwrap().expires.unwrap());
    }
    seen.sort();
    seen.dedup();
    assert!(seen.len() > 5, "{seen:?}");
}

/// RFC 4861 §7.3.3: using a STALE entry moves it to DELAY; after
/// delay_first_probe_time it probes with unicast requests (RFC 1122
/// §2.3.2.1 validation), and a reply makes it REACHABLE.
#[test]
fn stale_use_goes_delay_then_probe_then_reachable_on_reply() {
    let mut c = cache();
    stale_b(&mut c, secs(0));
    assert_eq!(
        c.resolve(IP_B, pkt(1), secs(10)),
        Resolution::Ready {
            mac: MAC_B,
            packet: pkt(1)
        }
    );
    assert_eq!(c.state(IP_B), Some(NeighborState::Delay));
    assert!(drain_tx(&mut c, ms(14_999)).is_empty());
    let tx = drain_tx(&mut c, secs(15));
    assert_eq!(requests(&tx), vec![(IP_B, MAC_B)], "unicast probe");
    assert_eq!(tx[0].ethernet_repr().dst, MAC_B);
    assert_eq!(c.state(IP_B), Some(NeighborState::Probe));
    // Still usable while probing.
    assert_eq!(c.lookup(IP_B, ms(15_100)), Some(MAC_B));

    c.handle_packet(&reply_from(MAC_B, IP_B), ms(15_200));
    assert_eq!(c.state(IP_B), Some(NeighborState::Reachable));
    assert!(drain_tx(&mut c, secs(17)).is_empty());
}

/// RFC 4861 §7.3.3 with Linux `ucast_solicit`: unanswered unicast probes
/// fail the entry.
#[test]
fn unanswered_probes_fail_the_entry() {
    let mut c = cache();
    stale_b(&mut c, secs(0));
    assert_eq!(c.lookup(IP_B, secs(1)), Some(MAC_B));
    assert_eq!(c.state(IP_B), Some(NeighborState::Delay));
    let mut probes = Vec::new();
    for s in 6..=9 {
        probes.extend(requests(&drain_tx(&mut c, secs(s))));
    }
    assert_eq!(probes, vec![(IP_B, MAC_B); 3]);
    assert_eq!(c.state(IP_B), Some(NeighborState::Failed));
    assert_eq!(c.lookup(IP_B, secs(9)), None);
    assert_eq!(c.stats().failures, 1);
}

/// RFC 4861 §7.3.1: upper-layer confirmation (TCP progress) makes the
/// entry REACHABLE, so no probe is needed.
#[test]
fn upper_layer_confirmation_skips_probing() {
    let mut c = cache();
    stale_b(&mut c, secs(0));
    c.lookup(IP_B, secs(1));
    assert_eq!(c.state(IP_B), Some(NeighborState::Delay));
    assert!(c.confirm(IP_B, secs(2)));
    assert_eq!(c.state(IP_B), Some(NeighborState::Reachable));
    assert!(drain_tx(&mut c, secs(10)).is_empty());
    assert!(!c.confirm(IP_C, secs(10)), "no entry");
    c.resolve(IP_C, pkt(0), secs(10));
    assert!(!c.confirm(IP_C, secs(10)), "INCOMPLETE is not confirmed");
}

/// Bounded queue (RFC 1122 §2.3.2.2 asks for at least one packet): when
/// full, the oldest packets are dropped and counted.
#[test]
fn queue_overflow_drops_the_oldest_and_counts() {
    let mut config = quiet();
    config.unres_qlen = 3;
    let mut c = cache_with(config);
    for n in 1..=3 {
        assert_eq!(
            c.resolve(IP_B, pkt(n), ms(0)),
            Resolution::Queued { dropped: 0 }
        );
    }
    for n in 4..=5 {
        assert_eq!(
            c.resolve(IP_B, pkt(n), ms(0)),
            Resolution::Queued { dropped: 1 }
        );
    }
    assert_eq!(c.stats().queue_drops, 2);
    assert_eq!(c.queued_bytes(), 300);
    c.handle_packet(&reply_from(MAC_B, IP_B), ms(1));
    let got: Vec<u8> = drain_events(&mut c, ms(1))
        .into_iter()
        .map(|e| match e {
            NeighborEvent::Send { packet, .. } => packet[0],
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got, vec![3, 4, 5]);
}

/// The byte limits: per neighbour (oldest dropped; a packet too large
/// alone refused) and in total (only the neighbour's own packets make
/// room).
#[test]
fn queue_byte_limits_hold_per_neighbour_and_in_total() {
    let mut config = quiet();
    config.unres_qlen_bytes = 250;
    config.max_queued_bytes = 400;
    let mut c = cache_with(config);
    c.resolve(IP_B, pkt(1), ms(0));
    c.resolve(IP_B, pkt(2), ms(0));
    assert_eq!(
        c.resolve(IP_B, pkt(3), ms(0)),
        Resolution::Queued { dropped: 1 }
    );
    assert_eq!(c.get(IP_B).unwrap().queued_bytes, 200);
    let big = vec![9u8; 251];
    assert_eq!(
        c.resolve(IP_C, big.clone(), ms(0)),
        Resolution::Dropped {
            packet: big,
            reason: DropReason::QueueFull
        }
    );
    c.resolve(IP_C, pkt(4), ms(0));
    c.resolve(IP_C, pkt(5), ms(0));
    assert_eq!(c.queued_bytes(), 400);
    // IP_D has nothing to give up: refused.
    assert!(matches!(
        c.resolve(IP_D, pkt(6), ms(0)),
        Resolution::Dropped {
            reason: DropReason::QueueFull,
            ..
        }
    ));
    // IP_C makes room from its own queue.
    assert_eq!(
        c.resolve(IP_C, pkt(7), ms(0)),
        Resolution::Queued { dropped: 1 }
    );
    assert_eq!(c.queued_bytes(), 400);
    assert_eq!(c.stats().queue_drops, 4);
}

/// Bounded table: a new entry evicts the least recently used STALE or
/// FAILED entry with nothing waiting; with none, it is refused and the
/// packet dropped.
#[test]
fn full_table_evicts_stale_entries_before_refusing() {
    let mut config = quiet();
    config.max_entries = 2;
    let mut c = cache_with(config);
    stale_b(&mut c, secs(0));
    c.resolve(IP_C, pkt(1), secs(1));
    assert_eq!(c.len(), 2);
    assert!(matches!(
        c.resolve(IP_D, pkt(2), secs(2)),
        Resolution::Queued { .. }
    ));
    assert_eq!(c.state(IP_B), None, "the stale entry was evicted");
    assert_eq!(c.stats().evictions, 1);
    // Both remaining entries are INCOMPLETE with packets: refuse.
    let e = Ipv4Addr::new(192, 0, 2, 5);
    assert_eq!(
        c.resolve(e, pkt(3), secs(2)),
        Resolution::Dropped {
            packet: pkt(3),
            reason: DropReason::TableFull
        }
    );
    // Learning cannot create entries either (the request is still answered).
    let r = c.handle_packet(&ArpRepr::request(MAC_B, IP_B, OUR_IP), secs(2));
    assert_eq!(
        r,
        Received::Processed {
            updated: false,
            created: false,
            replied: true
        }
    );
    assert_eq!(c.stats().table_full, 2);
    assert_eq!(c.len(), 2);
    assert_eq!(c.insert_static(IP_B, MAC_B, secs(2)), Err(Error::TableFull));
}

/// RFC 826 "Packet Reception": a packet for another host creates no entry
/// (nor a reply).
#[test]
fn request_not_for_us_creates_no_entry() {
    let mut c = cache();
    let r = c.handle_packet(&ArpRepr::request(MAC_B, IP_B, IP_C), secs(0));
    assert_eq!(
        r,
        Received::Processed {
            updated: false,
            created: false,
            replied: false
        }
    );
    assert!(c.is_empty());
    let reply = ArpRepr::reply_to(&ArpRepr::request(MAC_C, IP_C, IP_B), MAC_B);
    c.handle_packet(&reply, secs(0));
    assert!(c.is_empty());
    assert!(drain_tx(&mut c, secs(0)).is_empty());
}

/// RFC 826: a request for our address creates (or refreshes) the sender's
/// entry, and is answered from our address, unicast to the sender.
#[test]
fn request_for_us_creates_an_entry_and_is_answered() {
    let mut c = cache();
    let req = ArpRepr::request(MAC_B, IP_B, OUR_IP);
    assert_eq!(
        c.handle_packet(&req, secs(0)),
        Received::Processed {
            updated: false,
            created: true,
            replied: true
        }
    );
    assert_eq!(c.state(IP_B), Some(NeighborState::Stale));
    let tx = drain_tx(&mut c, secs(0));
    assert_eq!(tx.len(), 1);
    assert_eq!(tx[0].kind, TransmitKind::Reply);
    assert_eq!(tx[0].packet, ArpRepr::reply_to(&req, OUR_MAC));
    assert_eq!(tx[0].packet.sender_protocol_addr, OUR_IP);
    assert_eq!(tx[0].dst, MAC_B);
    assert_eq!(c.stats().replies_sent, 1);
}

/// RFC 826 "merge": any ARP packet whose sender is in the table updates
/// the entry, even one addressed to another host (including gratuitous
/// ARP).
#[test]
fn any_packet_from_a_known_sender_updates_its_entry() {
    let mut c = cache();
    resolve_b(&mut c, secs(0));
    // B moved to a new NIC and asks for C: we learn the new MAC.
    let r = c.handle_packet(&ArpRepr::request(MAC_C, IP_B, IP_C), secs(5));
    assert!(matches!(
        r,
        Received::Processed {
            updated: true,
            created: false,
            replied: false
        }
    ));
    assert_eq!(c.get(IP_B).unwrap().mac, Some(MAC_C));
    assert_eq!(
        c.state(IP_B),
        Some(NeighborState::Stale),
        "unconfirmed new address"
    );
    // A gratuitous ARP from B moves it back.
    c.handle_packet(&ArpRepr::gratuitous(MAC_B, IP_B), secs(5));
    assert_eq!(c.get(IP_B).unwrap().mac, Some(MAC_B));
    assert!(drain_tx(&mut c, secs(5)).is_empty());
}

/// Linux `locktime`: when two hosts answer one request, the first answer
/// stays for a second; a gratuitous ARP is still believed.
#[test]
fn locktime_keeps_the_first_answer() {
    let mut c = cache();
    c.resolve(IP_B, pkt(1), ms(0));
    c.handle_packet(&reply_from(MAC_B, IP_B), ms(10));
    c.handle_packet(&reply_from(MAC_C, IP_B), ms(20));
    assert_eq!(c.get(IP_B).unwrap().mac, Some(MAC_B));
    c.handle_packet(&reply_from(MAC_C, IP_B), ms(1010));
    assert_eq!(c.get(IP_B).unwrap().mac, Some(MAC_C));
    c.handle_packet(&ArpRepr::gratuitous(MAC_B, IP_B), ms(1020));
    assert_eq!(c.get(IP_B).unwrap().mac, Some(MAC_B));
}

/// RFC 5227 §2.1.1: probes (sender 0.0.0.0) must not pollute caches, but
/// a probe for our address is answered so the prober sees the conflict.
#[test]
fn probes_create_no_entry_but_are_answered() {
    let mut c = cache();
    let probe = ArpRepr::probe(MAC_B, OUR_IP);
    assert_eq!(
        c.handle_packet(&probe, secs(0)),
        Received::Processed {
            updated: false,
            created: false,
            replied: true
        }
    );
    assert!(c.is_empty());
    let tx = drain_tx(&mut c, secs(0));
    assert_eq!(tx[0].dst, MAC_B);
    assert_eq!(tx[0].packet.target_protocol_addr, Ipv4Addr::UNSPECIFIED);
    // A probe for someone else is nothing to us.
    c.handle_packet(&ArpRepr::probe(MAC_B, IP_C), secs(0));
    assert!(c.is_empty() && drain_tx(&mut c, secs(0)).is_empty());
    // A probe for a known neighbour's address does not change its entry.
    resolve_b(&mut c, secs(1));
    c.handle_packet(&ArpRepr::probe(MAC_C, IP_B), secs(3));
    assert_eq!(c.get(IP_B).unwrap().mac, Some(MAC_B));
}

/// RFC 826: answer requests for our addresses only, each from the address
/// asked for.
#[test]
fn answers_requests_for_our_addresses_only() {
    let mut c = cache();
    let second = Ipv4Addr::new(198, 51, 100, 1);
    c.add_address(second, 24, secs(0)).unwrap();
    c.handle_packet(&ArpRepr::request(MAC_B, IP_B, IP_C), secs(0));
    c.handle_packet(&ArpRepr::request(MAC_B, IP_B, second), secs(0));
    let tx = drain_tx(&mut c, secs(0));
    assert_eq!(tx.len(), 1);
    assert_eq!(tx[0].packet.sender_protocol_addr, second);
    assert!(c.remove_address(second));
    assert!(!c.remove_address(second));
    c.handle_packet(&ArpRepr::request(MAC_B, IP_B, second), secs(0));
    assert!(drain_tx(&mut c, secs(0)).is_empty());
}

/// Packets that RFC 826 processing must not learn from: our own (looped),
/// group or zero sender hardware addresses, non-unicast senders, and
/// operations other than request and reply.
#[test]
fn ignores_looped_invalid_and_foreign_operations() {
    let mut c = cache();
    let cases = [
        (
            ArpRepr::request(OUR_MAC, IP_B, OUR_IP),
            IgnoreReason::OwnHardwareAddr,
        ),
        (
            ArpRepr::request(MacAddr::BROADCAST, IP_B, OUR_IP),
            IgnoreReason::InvalidSenderHardwareAddr,
        ),
        (
            ArpRepr::request(MacAddr::new(1, 0, 0x5e, 0, 0, 1), IP_B, OUR_IP),
            IgnoreReason::InvalidSenderHardwareAddr,
        ),
        (
            ArpRepr::request(MacAddr::UNSPECIFIED, IP_B, OUR_IP),
            IgnoreReason::InvalidSenderHardwareAddr,
        ),
        (
            ArpRepr::request(MAC_B, Ipv4Addr::BROADCAST, OUR_IP),
            IgnoreReason::InvalidSenderProtocolAddr,
        ),
        (
            ArpRepr::request(MAC_B, Ipv4Addr::new(192, 0, 2, 255), OUR_IP),
            IgnoreReason::InvalidSenderProtocolAddr,
        ),
        (
            ArpRepr::request(MAC_B, Ipv4Addr::new(224, 0, 0, 1), OUR_IP),
            IgnoreReason::InvalidSenderProtocolAddr,
        ),
        (
            ArpRepr::request(MAC_B, Ipv4Addr::LOCALHOST, OUR_IP),
            IgnoreReason::InvalidSenderProtocolAddr,
        ),
        (
            ArpRepr::reply_to(&ArpRepr::probe(MAC_C, IP_C), MAC_B).tap_spa(Ipv4Addr::UNSPECIFIED),
            IgnoreReason::InvalidSenderProtocolAddr,
        ),
        (
            ArpRepr::request(MAC_B, IP_B, Ipv4Addr::new(224, 0, 0, 1)),
            IgnoreReason::InvalidTargetProtocolAddr,
        ),
        (
            ArpRepr {
                operation: ArpOperation::RARP_REQUEST,
                ..ArpRepr::request(MAC_B, IP_B, OUR_IP)
            },
            IgnoreReason::UnsupportedOperation,
        ),
        (
            ArpRepr {
                operation: ArpOperation::INARP_REPLY,
                ..ArpRepr::request(MAC_B, IP_B, OUR_IP)
            },
            IgnoreReason::UnsupportedOperation,
        ),
    ];
    for (i, (arp, reason)) in cases.iter().enumerate() {
        assert_eq!(
            c.handle_packet(arp, secs(0)),
            Received::Ignored(*reason),
            "case {i}"
        );
    }
    assert!(c.is_empty());
    assert!(drain_tx(&mut c, secs(0)).is_empty());
    assert_eq!(c.stats().ignored, cases.len() as u64);
    assert_eq!(c.stats().received, cases.len() as u64);
}

trait TapSpa {
    fn tap_spa(self, spa: Ipv4Addr) -> ArpRepr;
}

impl TapSpa for ArpRepr {
    fn tap_spa(mut self, spa: Ipv4Addr) -> ArpRepr {
        self.sender_protocol_addr = spa;
        self
    }
}

/// RFC 5227 §2.4: another host using our address is a conflict: reported,
/// not learned, and defended with one announcement at most every
/// DEFEND_INTERVAL (10 s).
#[test]
fn conflicts_are_reported_and_defended_once_per_interval() {
    let mut c = cache();
    let claim = ArpRepr::gratuitous(MAC_B, OUR_IP);
    assert_eq!(
        c.handle_packet(&claim, secs(0)),
        Received::Conflict { defended: true }
    );
    let tx = drain_tx(&mut c, secs(0));
    assert_eq!(tx.len(), 1);
    assert_eq!(tx[0].kind, TransmitKind::Announcement);
    assert_eq!(tx[0].packet, ArpRepr::gratuitous(OUR_MAC, OUR_IP));
    assert_eq!(
        c.poll_event(secs(0)),
        Some(NeighborEvent::Conflict(Conflict {
            ip: OUR_IP,
            mac: MAC_B,
            defended: true,
            at: secs(0)
        }))
    );
    // A reply claiming our address within 10 s: reported, not defended.
    let reply = ArpRepr::reply_to(&ArpRepr::request(OUR_MAC, OUR_IP, IP_C), MAC_B).tap_spa(OUR_IP);
    assert_eq!(
        c.handle_packet(&reply, secs(9)),
        Received::Conflict { defended: false }
    );
    assert!(drain_tx(&mut c, secs(9)).is_empty());
    assert!(matches!(
        c.poll_event(secs(9)),
        Some(NeighborEvent::Conflict(Conflict {
            defended: false,
            ..
        }))
    ));
    assert_eq!(
        c.handle_packet(&claim, secs(10)),
        Received::Conflict { defended: true }
    );
    assert!(c.is_empty(), "nothing learned from a conflict");
    assert_eq!(c.stats().conflicts, 3);

    // Conflict reports are bounded.
    for _ in 0..2 * MAX_PENDING_CONFLICTS {
        c.handle_packet(&claim, secs(11));
    }
    assert_eq!(drain_events(&mut c, secs(11)).len(), MAX_PENDING_CONFLICTS);
}

/// RFC 5227 §2.3: an added address is announced ANNOUNCE_NUM (2) times,
/// ANNOUNCE_INTERVAL (2 s) apart; `announce` starts over.
#[test]
fn announces_an_added_address_twice_two_seconds_apart() {
    let mut c = Cache::new(OUR_MAC, NeighborConfig::default(), &mut SeededRng::new(1));
    assert_eq!(c.poll_at(), None);
    c.add_address(OUR_IP, 24, secs(100)).unwrap();
    let tx = drain_tx(&mut c, secs(100));
    assert_eq!(tx.len(), 1);
    assert_eq!(tx[0].packet, ArpRepr::gratuitous(OUR_MAC, OUR_IP));
    assert_eq!(tx[0].dst, MacAddr::BROADCAST);
    assert_eq!(tx[0].kind, TransmitKind::Announcement);
    assert_eq!(c.poll_at(), Some(secs(102)));
    assert!(drain_tx(&mut c, ms(101_999)).is_empty());
    assert_eq!(drain_tx(&mut c, secs(102)).len(), 1);
    assert_eq!(c.poll_at(), None);
    assert!(drain_tx(&mut c, secs(200)).is_empty());
    assert_eq!(c.stats().announcements_sent, 2);

    c.announce(OUR_IP, secs(300)).unwrap();
    assert_eq!(drain_tx(&mut c, secs(300)).len(), 1);
    assert_eq!(drain_tx(&mut c, secs(302)).len(), 1);
    assert_eq!(
        c.announce(IP_B, secs(300)),
        Err(Error::NotOurAddress { ip: IP_B })
    );
}

/// Linux NUD_PERMANENT: static entries never expire, never change from the
/// network, and release packets that waited for them.
#[test]
fn static_entries_never_expire_or_change() {
    let mut c = cache();
    c.resolve(IP_B, pkt(1), secs(0));
    drain_tx(&mut c, secs(0));
    c.insert_static(IP_B, MAC_C, ms(500)).unwrap();
    assert_eq!(
        drain_events(&mut c, ms(500)),
        vec![NeighborEvent::Send {
            ip: IP_B,
            mac: MAC_C,
            packet: pkt(1)
        }]
    );
    assert_eq!(c.poll_at(), None);
    let day = secs(86_400);
    c.handle_packet(&reply_from(MAC_B, IP_B), day);
    c.handle_packet(&ArpRepr::gratuitous(MAC_B, IP_B), day);
    assert_eq!(c.state(IP_B), Some(NeighborState::Static));
    assert_eq!(c.lookup(IP_B, day), Some(MAC_C));
    assert!(!c.confirm(IP_B, day));
    assert!(drain_tx(&mut c, day).is_empty());
    assert!(c.remove(IP_B));
    assert!(c.is_empty());

    for (ip, mac, err) in [
        (
            IP_B,
            MacAddr::BROADCAST,
            Error::InvalidHardwareAddress {
                mac: MacAddr::BROADCAST,
            },
        ),
        (
            IP_B,
            MacAddr::UNSPECIFIED,
            Error::InvalidHardwareAddress {
                mac: MacAddr::UNSPECIFIED,
            },
        ),
        (OUR_IP, MAC_B, Error::InvalidAddress { ip: OUR_IP }),
        (
            Ipv4Addr::BROADCAST,
            MAC_B,
            Error::InvalidAddress {
                ip: Ipv4Addr::BROADCAST,
            },
        ),
        (
            Ipv4Addr::new(192, 0, 2, 255),
            MAC_B,
            Error::InvalidAddress {
                ip: Ipv4Addr::new(192, 0, 2, 255),
            },
        ),
    ] {
        assert_eq!(c.insert_static(ip, mac, day), Err(err));
    }
}

/// `poll_at` is the earliest pending timer, "now" while output waits, and
/// `None` when idle.
#[test]
fn poll_at_is_the_earliest_timer_and_none_when_idle() {
    let mut c = cache();
    assert_eq!(c.poll_at(), None);
    c.resolve(IP_B, pkt(1), ms(0));
    assert_eq!(c.poll_at(), Some(Instant::ZERO), "a request waits");
    drain_tx(&mut c, ms(0));
    assert_eq!(c.poll_at(), Some(ms(1000)));
    c.resolve(IP_C, pkt(1), ms(300));
    drain_tx(&mut c, ms(300));
    assert_eq!(c.poll_at(), Some(ms(1000)));
    drain_tx(&mut c, ms(1000));
    assert_eq!(c.poll_at(), Some(ms(1300)));
    c.handle_packet(&reply_from(MAC_B, IP_B), ms(1100));
    assert_eq!(c.poll_at(), Some(Instant::ZERO), "a released packet waits");
    drain_events(&mut c, ms(1100));
    assert_eq!(c.poll_at(), Some(ms(1300)));
    // Run everything out: C fails and goes, B ages out.
    let mut now = ms(1100);
    while let Some(at) = c.poll_at() {
        now = now.max(at);
        drain_tx(&mut c, now);
        drain_events(&mut c, now);
        assert!(now < secs(1000), "timers must end");
    }
    assert!(c.is_empty());
    assert_eq!(c.stats().failures, 1);
    assert_eq!(c.stats().unreachable, 1);
}

/// RFC 1112 §6.4 and RFC 919/922: multicast and broadcast destinations
/// map without ARP; our own and unspecified addresses do not resolve.
#[test]
fn broadcast_and_multicast_need_no_resolution() {
    let mut c = cache();
    for (ip, mac) in [
        (Ipv4Addr::BROADCAST, MacAddr::BROADCAST),
        (Ipv4Addr::new(192, 0, 2, 255), MacAddr::BROADCAST),
        (
            Ipv4Addr::new(224, 0, 0, 251),
            MacAddr::new(1, 0, 0x5e, 0, 0, 251),
        ),
    ] {
        assert_eq!(
            c.resolve(ip, pkt(1), secs(0)),
            Resolution::Ready {
                mac,
                packet: pkt(1)
            }
        );
        assert_eq!(c.lookup(ip, secs(0)), Some(mac));
    }
    for ip in [OUR_IP, Ipv4Addr::UNSPECIFIED, Ipv4Addr::LOCALHOST] {
        assert_eq!(
            c.resolve(ip, pkt(1), secs(0)),
            Resolution::Dropped {
                packet: pkt(1),
                reason: DropReason::NotResolvable
            }
        );
        assert_eq!(c.lookup(ip, secs(0)), None);
    }
    assert!(c.is_empty() && drain_tx(&mut c, secs(0)).is_empty());
    // Outside our /24, .255 is an ordinary host.
    let far = Ipv4Addr::new(198, 51, 100, 255);
    assert!(matches!(
        c.resolve(far, pkt(1), secs(0)),
        Resolution::Queued { .. }
    ));
}

/// The request's sender is our address on the target's subnet (the first
/// address otherwise), or 0.0.0.0 without any (an RFC 5227 probe).
#[test]
fn request_sender_is_our_address_on_the_targets_subnet() {
    let mut c = cache();
    let second = Ipv4Addr::new(198, 51, 100, 1);
    c.add_address(second, 24, secs(0)).unwrap();
    c.resolve(Ipv4Addr::new(198, 51, 100, 7), pkt(1), secs(0));
    c.resolve(Ipv4Addr::new(203, 0, 113, 7), pkt(1), secs(0));
    let tx = drain_tx(&mut c, secs(0));
    assert_eq!(tx[0].packet.sender_protocol_addr, second);
    assert_eq!(tx[1].packet.sender_protocol_addr, OUR_IP);

    let mut bare = Cache::new(OUR_MAC, quiet(), &mut SeededRng::new(2));
    bare.resolve(IP_B, pkt(1), secs(0));
    let tx = drain_tx(&mut bare, secs(0));
    assert_eq!(tx[0].packet, ArpRepr::probe(OUR_MAC, IP_B));
}

/// RFC 826 merge applies to FAILED entries: a late answer rescues the
/// packets that still wait to be reported.
#[test]
fn a_late_answer_rescues_a_failed_entry() {
    let mut c = cache();
    c.resolve(IP_B, pkt(1), secs(0));
    for s in 1..=3 {
        c.handle_timeout(secs(s));
    }
    assert_eq!(c.state(IP_B), Some(NeighborState::Failed));
    c.handle_packet(&ArpRepr::request(MAC_B, IP_B, OUR_IP), ms(3500));
    assert_eq!(
        drain_events(&mut c, ms(3500)),
        vec![NeighborEvent::Send {
            ip: IP_B,
            mac: MAC_B,
            packet: pkt(1)
        }]
    );
    assert_eq!(
        c.state(IP_B),
        Some(NeighborState::Delay),
        "released packets use it"
    );
    assert_eq!(c.stats().resolutions, 1);
}

/// RFC 4861 §7.2.5 (the ARP analogue): an unsolicited request from the
/// neighbour being resolved resolves it as STALE, and the released
/// packets are a use, so it moves to DELAY.
#[test]
fn unsolicited_request_resolves_an_incomplete_entry() {
    let mut c = cache();
    c.resolve(IP_B, pkt(1), secs(0));
    c.handle_packet(&ArpRepr::request(MAC_B, IP_B, OUR_IP), ms(100));
    assert_eq!(c.state(IP_B), Some(NeighborState::Delay));
    assert_eq!(drain_events(&mut c, ms(100)).len(), 1);
    let tx = drain_tx(&mut c, ms(100));
    assert_eq!(
        tx.iter().filter(|t| t.kind == TransmitKind::Reply).count(),
        1
    );
}

/// Linux `gc_stale_time`: an unused STALE entry goes after 60 s.
#[test]
fn unused_stale_entries_are_removed() {
    let mut c = cache();
    stale_b(&mut c, secs(0));
    c.handle_timeout(ms(59_999));
    assert_eq!(c.state(IP_B), Some(NeighborState::Stale));
    c.handle_timeout(secs(60));
    assert_eq!(c.state(IP_B), None);
    assert_eq!(c.poll_at(), None);
}

/// Packets released but not yet drained keep their order ahead of new
/// ones, and keep their entry from being collected.
#[test]
fn undrained_packets_keep_order_and_their_entry() {
    let mut c = cache();
    c.resolve(IP_B, pkt(1), secs(0));
    c.handle_packet(&reply_from(MAC_B, IP_B), secs(0));
    assert_eq!(
        c.resolve(IP_B, pkt(2), secs(0)),
        Resolution::Queued { dropped: 0 }
    );
    // Nobody drains for ten minutes.
    c.handle_timeout(secs(600));
    assert!(c.state(IP_B).is_some());
    let got: Vec<_> = drain_events(&mut c, secs(600));
    assert_eq!(got.len(), 2);
    assert!(matches!(&got[0], NeighborEvent::Send { packet, .. } if packet[0] == 1));
    // Releasing to a stale entry is a use: it is probed, fails unanswered
    // and goes.
    assert_eq!(c.state(IP_B), Some(NeighborState::Delay));
    for s in 601..=620 {
        c.handle_timeout(secs(s));
    }
    assert_eq!(c.state(IP_B), None);
}

/// Bounded transmit queue: packets beyond it are dropped and counted.
#[test]
fn transmit_queue_is_bounded() {
    let mut config = quiet();
    config.max_pending_transmits = 2;
    let mut c = cache_with(config);
    for ip in [IP_B, IP_C, IP_D] {
        c.handle_packet(&ArpRepr::request(MAC_B, ip, OUR_IP), secs(0));
    }
    assert_eq!(c.pending_transmits(), 2);
    assert_eq!(c.stats().tx_drops, 1);
    assert_eq!(drain_tx(&mut c, secs(0)).len(), 2);
}

/// Removing an entry drops its packets; adding one of our addresses removes
/// the neighbour entry for it.
#[test]
fn removal_frees_waiting_packets() {
    let mut c = cache();
    c.resolve(IP_B, pkt(1), secs(0));
    c.resolve(IP_C, pkt(1), secs(0));
    c.handle_packet(&reply_from(MAC_C, IP_C), secs(0));
    assert_eq!(c.queued_bytes(), 200);
    assert!(c.remove(IP_C));
    assert!(!c.remove(IP_C));
    assert_eq!(c.queued_bytes(), 100);
    c.add_address(IP_B, 24, secs(0)).unwrap();
    assert_eq!(c.queued_bytes(), 0);
    assert!(c.is_empty());
    assert!(drain_events(&mut c, secs(0)).is_empty());
    drain_tx(&mut c, secs(0));
    assert_eq!(c.poll_at(), None);
}

#[test]
fn address_management_validates_and_bounds() {
    let mut config = quiet();
    config.max_addresses = 2;
    let mut c = cache_with(config);
    assert_eq!(
        c.add_address(IP_B, 33, secs(0)),
        Err(Error::InvalidPrefixLen { prefix_len: 33 })
    );
    for ip in [
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::BROADCAST,
        Ipv4Addr::LOCALHOST,
    ] {
        assert_eq!(
            c.add_address(ip, 8, secs(0)),
            Err(Error::InvalidAddress { ip })
        );
    }
    c.add_address(IP_B, 24, secs(0)).unwrap();
    assert_eq!(
        c.add_address(IP_C, 24, secs(0)),
        Err(Error::TooManyAddresses { max: 2 })
    );
    c.add_address(OUR_IP, 16, secs(0)).unwrap();
    assert_eq!(
        c.addresses().collect::<Vec<_>>(),
        vec![(OUR_IP, 16), (IP_B, 24)]
    );
    assert!(c.is_our_address(IP_B));
}

/// Zero timers and limits mean what they say and never loop or panic.
#[test]
fn zero_timers_and_limits_terminate() {
    let mut config = quiet();
    config.base_reachable_time = Duration::ZERO;
    config.gc_stale_time = Duration::ZERO;
    config.delay_first_probe_time = Duration::ZERO;
    config.retrans_time = Duration::ZERO;
    config.min_request_interval = Duration::ZERO;
    config.failed_hold_time = Duration::ZERO;
    config.locktime = Duration::ZERO;
    config.mcast_solicit = 0;
    config.ucast_solicit = 0;
    let mut c = cache_with(config);
    assert_eq!(
        c.resolve(IP_B, pkt(1), secs(0)),
        Resolution::Queued { dropped: 0 }
    );
    assert_eq!(c.state(IP_B), Some(NeighborState::Failed));
    assert_eq!(drain_events(&mut c, secs(0)).len(), 1);
    assert_eq!(c.state(IP_B), None);
    c.handle_packet(&ArpRepr::request(MAC_B, IP_B, OUR_IP), secs(1));
    c.handle_timeout(secs(1));
    assert!(c.is_empty());

    config.max_entries = 0;
    config.unres_qlen = 0;
    config.max_pending_transmits = 0;
    let mut c = cache_with(config);
    assert!(matches!(
        c.resolve(IP_B, pkt(1), secs(0)),
        Resolution::Dropped {
            reason: DropReason::QueueFull,
            ..
        }
    ));
    c.handle_packet(&ArpRepr::request(MAC_B, IP_B, OUR_IP), secs(0));
    assert!(c.is_empty() && c.pending_transmits() == 0);
    assert_eq!(c.poll_at(), None);
}

#[test]
fn reachable_time_stays_in_range_even_for_extreme_bases() {
    let mut rng = SeededRng::new(5);
    let mut config = quiet();
    for base in [Duration::ZERO, Duration::from_secs(30), Duration::MAX] {
        config.base_reachable_time = base;
        for _ in 0..1000 {
            let t = Cache::reachable_time(&mut rng, &config);
            assert!(t >= base / 2 && t <= base.saturating_add(base / 2), "{t:?}");
        }
    }
}

#[test]
fn debug_output_names_the_cache() {
    let c = cache();
    let s = alloc::format!("{c:?}");
    assert!(s.starts_with("NeighborCache"), "{s}");
}

#[test]
fn adding_an_address_forgets_its_subnets_directed_broadcast_rfc_1812_section_4_2_3_1() {
    // 198.51.100.255 is an ordinary (unresolved) neighbour while the only
    // address is 192.0.2.1/24.
    let mut c = cache();
    let bcast = Ipv4Addr::new(198, 51, 100, 255);
    assert!(matches!(
        c.resolve(bcast, pkt(1), ms(0)),
        Resolution::Queued { .. }
    ));
    assert_eq!(c.state(bcast), Some(NeighborState::Incomplete));
    assert_eq!(drain_tx(&mut c, ms(0)).len(), 1, "the first request");
    // Once 198.51.100.7/24 is ours, that address is the subnet's directed
    // broadcast: no entry, no more requests, and it maps to the broadcast
    // MAC at once.
    c.add_address(Ipv4Addr::new(198, 51, 100, 7), 24, ms(10))
        .unwrap();
    assert_eq!(c.state(bcast), None);
    assert!(
        drain_tx(&mut c, secs(5))
            .iter()
            .all(|t| t.packet.target_protocol_addr != bcast)
    );
    assert!(matches!(
        c.resolve(bcast, pkt(2), secs(5)),
        Resolution::Ready {
            mac: MacAddr::BROADCAST,
            ..
        }
    ));
}

#[test]
fn lookup_cacheable_bounds_a_reachable_answer_by_its_reachable_time() {
    let mut c = cache();
    resolve_b(&mut c, ms(0));
    let (mac, until) = c.lookup_cacheable(IP_B, ms(10)).unwrap();
    assert_eq!(mac, MAC_B);
    let until = until.expect("REACHABLE ends");
    assert!(until > ms(10));
    assert_eq!(c.get(IP_B).unwrap().expires, Some(until));
}

#[test]
fn lookup_cacheable_is_only_good_for_now_while_an_entry_must_be_watched() {
    // RFC 4861 §7.3.3: using a STALE entry starts DELAY, so every use
    // must go through the cache.
    let mut c = cache();
    stale_b(&mut c, ms(0));
    let (_, until) = c.lookup_cacheable(IP_B, ms(5)).unwrap();
    assert_eq!(until, Some(ms(5)));
    assert_eq!(c.state(IP_B), Some(NeighborState::Delay));
}

#[test]
fn the_epoch_moves_with_every_change_a_lookup_could_see() {
    let mut c = cache();
    let e0 = c.epoch();
    resolve_b(&mut c, ms(0));
    let e1 = c.epoch();
    assert_ne!(e0, e1, "a new entry");
    // A lookup of a REACHABLE entry changes nothing.
    c.lookup(IP_B, ms(1));
    assert_eq!(c.epoch(), e1);
    // A reply with a new hardware address, after the lock time.
    c.handle_packet(&reply_from(MAC_C, IP_B), secs(2));
    assert_eq!(c.lookup(IP_B, secs(2)), Some(MAC_C));
    let e2 = c.epoch();
    assert_ne!(e1, e2);
    // Removal, static entries, our addresses.
    assert!(c.remove(IP_B));
    let e3 = c.epoch();
    assert_ne!(e2, e3);
    c.insert_static(IP_C, MAC_C, ms(3)).unwrap();
    let e4 = c.epoch();
    assert_ne!(e3, e4);
    c.add_address(IP_D, 24, ms(4)).unwrap();
    assert_ne!(c.epoch(), e4);
    // The reachable time running out (REACHABLE -> STALE).
    resolve_b(&mut c, secs(10));
    let e5 = c.epoch();
    c.handle_timeout(secs(100));
    assert_eq!(c.state(IP_B), Some(NeighborState::Stale));
    assert_ne!(c.epoch(), e5);
}
