//! Every table of the interface (neighbor cache, transmit queue, ICMP rate
//! limiter, reassembler) stays within its bound when a flood of
//! datagrams, fragments and ARP packets from random sources arrives (DESIGN
//! principle 4: memory is a function of configuration, not of what the
//! network sends).

mod common;

use core::net::Ipv4Addr;

use common::Host;
use lamina_arp::ArpRepr;
use lamina_ethernet::{EtherType, EthernetRepr, MacAddr};
use lamina_ipv4::{IfaceId, IpProtocol, Ipv4Repr};
use lamina_netbuf::{Duration, Instant, Rng, SeededRng, Serializer};
use lamina_netdev::{Device, LinkConfig, TxToken, wire};
use lamina_socket::InterfaceConfig;
use lamina_udp::UdpRepr;

const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

fn send(port: &mut lamina_netdev::Port, now: Instant, frame: &[u8]) {
    port.transmit(now)
        .unwrap()
        .consume(frame.len(), |b| b.copy_from_slice(frame))
        .unwrap();
}

#[test]
fn tables_stay_bounded_under_a_flood_of_random_sources() {
    let (mut attacker, pb) = wire(LinkConfig::new().with_queue_len(4096));
    let mut config = InterfaceConfig::default();
    config.neighbor.max_entries = 64;
    config.tx_queue_len = 32;
    config.icmp_rate.global_rate = 100;
    config.icmp_rate.global_burst = 10;
    config.reassembly.max_datagrams = 16;
    config.reassembly.max_bytes = 16 * 1024;
    let mut b = Host::new(2, config, vec![(pb, "198.18.0.1/15")]);
    let b_mac = b.iface.hardware_addr(IfaceId(0)).unwrap();
    let mut rng = SeededRng::new(99);
    let mut now = Instant::ZERO;
    for round in 0..40 {
        for _ in 0..64 {
            let src = Ipv4Addr::from_bits(0xc612_0000 | (rng.next_u32() & 0x1_ffff));
            if src == B || src.octets()[3] == 0 || src == Ipv4Addr::new(198, 19, 255, 255) {
                continue;
            }
            let mac = MacAddr::new(2, 0xaa, 0, (rng.next_u32() & 0xff) as u8, 1, 2);
            let kind = rng.next_u32() % 3;
            let frame = if kind == 2 {
                // A first fragment that never completes: held by the
                // reassembler until its timeout or evicted.
                let mut ip = Ipv4Repr::new(src, B, IpProtocol::UDP);
                ip.identification = rng.next_u32() as u16;
                ip.more_fragments = true;
                [0u8; 64]
                    .wrap_in(&ip)
                    .wrap_in(EthernetRepr::new(mac, b_mac, EtherType::IPV4))
                    .serialize_vec(0)
                    .unwrap()
            } else if kind == 0 {
                // A UDP datagram to a closed port: earns port unreachable,
                // whose delivery needs ARP for the random source.
                let ip = Ipv4Repr::new(src, B, IpProtocol::UDP);
                let udp = UdpRepr {
                    src_port: 1234,
                    dst_port: 9,
                };
                b"flood"
                    .wrap_in(udp.builder(src, B))
                    .wrap_in(&ip)
                    .wrap_in(EthernetRepr::new(mac, b_mac, EtherType::IPV4))
                    .serialize_vec(0)
                    .unwrap()
            } else {
                // An ARP request for us: creates an entry for the sender.
                ArpRepr::request(mac, src, B).wrap_in_empty()
            };
            send(&mut attacker, now, frame.as_slice());
        }
        b.poll(now);
        // Drain what B sends so that the wire never blocks it.
        while attacker.poll_rx(now, 1024, |_, _, _| {}) > 0 {}
        let nb = b.iface.neighbors(IfaceId(0)).unwrap();
        assert!(nb.len() <= 64, "round {round}: {} neighbours", nb.len());
        assert!(b.iface.tx_queue_len(IfaceId(0)) <= 32);
        let reasm = b.iface.reassembler();
        assert!(
            reasm.len() <= 16,
            "round {round}: {} datagrams",
            reasm.len()
        );
        assert!(reasm.bytes_held() <= 16 * 1024);
        let limiter = b.iface.icmp_rate_limiter();
        assert!(limiter.tracked_destinations() <= limiter.capacity());
        now += Duration::from_millis(50);
    }
    // RFC 1812 §4.3.2.8: the errors were rate limited, not sent one per
    // datagram: over 2 s at 100/s (each costing at least half a token),
    // from a bucket of 10, at most 2 × (10 + 200) went out.
    let icmp = b.iface.icmp_stats();
    assert!(icmp.errors_rate_limited > 0, "{icmp:?}");
    assert!(icmp.errors_sent <= 420, "{icmp:?}");
    assert!(b.iface.stats().rx_frames > 1000);
    assert!(b.iface.reassembler().stats().reasm_evictions > 0);
}

trait WrapEmpty {
    fn wrap_in_empty(self) -> lamina_netbuf::PacketBuf;
}

impl WrapEmpty for ArpRepr {
    fn wrap_in_empty(self) -> lamina_netbuf::PacketBuf {
        let eth = EthernetRepr::new(
            self.sender_hardware_addr,
            MacAddr::BROADCAST,
            EtherType::ARP,
        );
        lamina_netbuf::serialize::EmptyBody
            .wrap_in(self)
            .wrap_in(eth)
            .serialize_vec(0)
            .unwrap()
    }
}
