//! Tests of the port table: bind rules, ephemeral ports, matching order,
//! broadcast delivery, and a model check under random operations.

use core::net::{Ipv4Addr, SocketAddrV4};
use std::vec::Vec;

use lamina_netbuf::rng::{Rng, SeededRng};

use crate::*;

const ANY: Ipv4Addr = Ipv4Addr::UNSPECIFIED;
const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const PEER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
const BCAST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 255);

const PLAIN: BindOptions = BindOptions {
    reuse_addr: false,
    broadcast: false,
};
const REUSE: BindOptions = BindOptions {
    reuse_addr: true,
    broadcast: false,
};
const BC: BindOptions = BindOptions {
    reuse_addr: true,
    broadcast: true,
};

fn table() -> UdpTable<u32> {
    UdpTable::new(UdpTableConfig::default())
}

fn rng() -> SeededRng {
    SeededRng::new(0x0dd5)
}

#[test]
fn specific_and_wildcard_binds_on_one_port_conflict_without_reuse_linux_rule() {
    let mut r = rng();
    let mut t = table();
    t.bind(1, ANY, 53, PLAIN, &mut r).unwrap();
    assert_eq!(
        t.bind(2, A, 53, PLAIN, &mut r),
        Err(Error::AddrInUse { addr: A, port: 53 })
    );
    let mut t = table();
    t.bind(1, A, 53, PLAIN, &mut r).unwrap();
    assert_eq!(
        t.bind(2, ANY, 53, PLAIN, &mut r),
        Err(Error::AddrInUse {
            addr: ANY,
            port: 53
        })
    );
    // The failed binds left nothing behind.
    assert_eq!(t.len(), 1);
    assert_eq!(t.binding(2), None);
}

#[test]
fn different_specific_addresses_share_a_port_but_the_same_one_does_not() {
    let mut r = rng();
    let mut t = table();
    t.bind(1, A, 53, PLAIN, &mut r).unwrap();
    t.bind(2, B, 53, PLAIN, &mut r).unwrap();
    assert_eq!(
        t.bind(3, A, 53, PLAIN, &mut r),
        Err(Error::AddrInUse { addr: A, port: 53 })
    );
    assert_eq!(t.lookup(A, 53, PEER, 1), Some(1));
    assert_eq!(t.lookup(B, 53, PEER, 1), Some(2));
    assert_eq!(t.ports_in_use(), 1);
}

#[test]
fn reuse_addr_shares_an_endpoint_only_when_both_set_it() {
    let mut r = rng();
    let mut t = table();
    t.bind(1, ANY, 5000, REUSE, &mut r).unwrap();
    t.bind(2, A, 5000, REUSE, &mut r).unwrap();
    t.bind(3, A, 5000, REUSE, &mut r).unwrap();
    assert_eq!(
        t.bind(4, A, 5000, PLAIN, &mut r),
        Err(Error::AddrInUse {
            addr: A,
            port: 5000
        })
    );
    let mut t = table();
    t.bind(1, A, 5000, PLAIN, &mut r).unwrap();
    assert_eq!(
        t.bind(2, A, 5000, REUSE, &mut r),
        Err(Error::AddrInUse {
            addr: A,
            port: 5000
        })
    );
}

#[test]
fn the_most_recently_bound_of_equal_matches_wins() {
    let mut r = rng();
    let mut t = table();
    t.bind(1, A, 5000, REUSE, &mut r).unwrap();
    t.bind(2, A, 5000, REUSE, &mut r).unwrap();
    assert_eq!(t.lookup(A, 5000, PEER, 9), Some(2));
    t.unbind(2);
    assert_eq!(t.lookup(A, 5000, PEER, 9), Some(1));
}

#[test]
fn port_zero_draws_an_ephemeral_port_from_the_dynamic_range_rfc_6056_section_3_3_1() {
    let mut r = rng();
    let mut t = table();
    let mut seen = std::collections::BTreeSet::new();
    for h in 0..2000 {
        let local = t.bind(h, ANY, 0, PLAIN, &mut r).unwrap();
        assert!(PortRange::DYNAMIC.contains(local.port()));
        assert!(seen.insert(local.port()), "port reused");
        assert!(!t.binding(h).unwrap().port_locked);
    }
    // Random, not sequential: the ports spread over the range.
    let spread = seen.iter().max().unwrap() - seen.iter().min().unwrap();
    assert!(spread > 15_000, "{spread}");
    let first_ten: Vec<_> = seen.iter().take(10).collect();
    assert!(first_ten.windows(2).any(|w| *w[1] != w[0] + 1));
}

#[test]
fn ephemeral_ports_differ_between_seeds_rfc_6056_section_2_1() {
    let port = |seed| {
        let mut t = table();
        t.bind(1, ANY, 0, PLAIN, &mut SeededRng::new(seed))
            .unwrap()
            .port()
    };
    let ports: std::collections::BTreeSet<_> = (0..20).map(port).collect();
    assert!(ports.len() > 15);
}

#[test]
fn an_exhausted_ephemeral_range_is_an_error_and_changes_nothing() {
    let mut r = rng();
    let mut t = UdpTable::new(UdpTableConfig {
        ephemeral_ports: PortRange::new(6000, 6009).unwrap(),
        ..UdpTableConfig::default()
    });
    let mut ports: Vec<_> = (0..10)
        .map(|h| t.bind(h, ANY, 0, PLAIN, &mut r).unwrap().port())
        .collect();
    ports.sort_unstable();
    assert_eq!(ports, (6000..6010).collect::<Vec<_>>());
    assert_eq!(
        t.bind(10, ANY, 0, PLAIN, &mut r),
        Err(Error::NoEphemeralPort)
    );
    assert_eq!(t.len(), 10);
    // A freed port is found again.
    t.unbind(3);
    assert!(t.bind(10, ANY, 0, PLAIN, &mut r).is_ok());
}

#[test]
fn an_ephemeral_port_is_never_one_with_a_binding_even_a_compatible_one() {
    let mut r = rng();
    let mut t = UdpTable::new(UdpTableConfig {
        ephemeral_ports: PortRange::new(7000, 7001).unwrap(),
        ..UdpTableConfig::default()
    });
    t.bind(1, A, 7000, REUSE, &mut r).unwrap();
    for _ in 0..20 {
        let local = t.bind(2, B, 0, REUSE, &mut r).unwrap();
        assert_eq!(local.port(), 7001);
        t.unbind(2);
    }
}

#[test]
fn the_table_is_bounded_and_says_so_when_full() {
    let mut r = rng();
    let mut t = UdpTable::new(UdpTableConfig {
        max_bindings: 3,
        ..UdpTableConfig::default()
    });
    for h in 0..3 {
        t.bind(h, ANY, 0, PLAIN, &mut r).unwrap();
    }
    assert_eq!(
        t.bind(3, ANY, 9, PLAIN, &mut r),
        Err(Error::TableFull { max: 3 })
    );
    t.unbind(0);
    assert!(t.bind(3, ANY, 9, PLAIN, &mut r).is_ok());
}

#[test]
fn a_handle_binds_once() {
    let mut r = rng();
    let mut t = table();
    t.bind(1, ANY, 9, PLAIN, &mut r).unwrap();
    assert_eq!(t.bind(1, ANY, 10, PLAIN, &mut r), Err(Error::AlreadyBound));
}

#[test]
fn lookup_prefers_connected_then_specific_then_wildcard() {
    let mut r = rng();
    let mut t = table();
    t.bind(1, ANY, 9, REUSE, &mut r).unwrap();
    assert_eq!(t.lookup(A, 9, PEER, 100), Some(1));
    t.bind(2, A, 9, REUSE, &mut r).unwrap();
    assert_eq!(t.lookup(A, 9, PEER, 100), Some(2));
    assert_eq!(t.lookup(B, 9, PEER, 100), Some(1));
    // Connected with a wildcard local address.
    t.bind(3, ANY, 9, REUSE, &mut r).unwrap();
    t.connect(3, SocketAddrV4::new(PEER, 100), None).unwrap();
    assert_eq!(t.lookup(A, 9, PEER, 100), Some(3));
    // Connected on exactly this 4-tuple beats it.
    t.bind(4, A, 9, REUSE, &mut r).unwrap();
    t.connect(4, SocketAddrV4::new(PEER, 100), None).unwrap();
    assert_eq!(t.lookup(A, 9, PEER, 100), Some(4));
    assert_eq!(t.lookup(B, 9, PEER, 100), Some(3));
    // Other peers fall back to the unconnected sockets.
    assert_eq!(t.lookup(A, 9, PEER, 101), Some(2));
    assert_eq!(t.lookup(A, 10, PEER, 100), None);
}

#[test]
fn a_connected_socket_receives_only_from_its_peer_rfc_768() {
    let mut r = rng();
    let mut t = table();
    let local = t.bind(1, ANY, 0, PLAIN, &mut r).unwrap();
    let l = t.connect(1, SocketAddrV4::new(PEER, 53), Some(A)).unwrap();
    assert_eq!(l, SocketAddrV4::new(A, local.port()));
    assert_eq!(t.lookup(A, local.port(), PEER, 53), Some(1));
    assert_eq!(t.lookup(A, local.port(), PEER, 54), None);
    assert_eq!(t.lookup(A, local.port(), B, 53), None);
    // The route's source fixed the local address.
    assert_eq!(t.lookup(B, local.port(), PEER, 53), None);
    let info = t.binding(1).unwrap();
    assert_eq!(info.remote, Some(SocketAddrV4::new(PEER, 53)));
    assert!(!info.addr_locked);
}

#[test]
fn connect_keeps_a_specific_address_and_rejects_bad_remotes() {
    let mut r = rng();
    let mut t = table();
    t.bind(1, A, 9, PLAIN, &mut r).unwrap();
    let l = t.connect(1, SocketAddrV4::new(PEER, 53), Some(B)).unwrap();
    assert_eq!(l, SocketAddrV4::new(A, 9));
    for bad in [SocketAddrV4::new(PEER, 0), SocketAddrV4::new(ANY, 53)] {
        assert_eq!(t.connect(1, bad, None), Err(Error::InvalidRemote(bad)));
    }
    assert_eq!(
        t.connect(2, SocketAddrV4::new(PEER, 53), None),
        Err(Error::NotBound)
    );
    // Connecting again replaces the peer.
    t.connect(1, SocketAddrV4::new(PEER, 54), None).unwrap();
    assert_eq!(t.lookup(A, 9, PEER, 53), None);
    assert_eq!(t.lookup(A, 9, PEER, 54), Some(1));
}

#[test]
fn a_connected_socket_still_holds_its_local_endpoint_for_bind_conflicts() {
    let mut r = rng();
    let mut t = table();
    t.bind(1, ANY, 9, PLAIN, &mut r).unwrap();
    t.connect(1, SocketAddrV4::new(PEER, 53), Some(A)).unwrap();
    assert_eq!(
        t.bind(2, ANY, 9, PLAIN, &mut r),
        Err(Error::AddrInUse { addr: ANY, port: 9 })
    );
    assert!(t.bind(2, B, 9, PLAIN, &mut r).is_ok());
}

#[test]
fn disconnect_undoes_connect_as_linux_does() {
    let mut r = rng();
    let mut t = table();
    // Explicit port, wildcard address: back to 0.0.0.0:9, unconnected.
    t.bind(1, ANY, 9, PLAIN, &mut r).unwrap();
    t.connect(1, SocketAddrV4::new(PEER, 53), Some(A)).unwrap();
    assert_eq!(t.disconnect(1), Ok(Some(SocketAddrV4::new(ANY, 9))));
    assert_eq!(t.lookup(B, 9, PEER, 99), Some(1));
    // Explicit address: it stays.
    t.bind(2, A, 10, PLAIN, &mut r).unwrap();
    t.connect(2, SocketAddrV4::new(PEER, 53), None).unwrap();
    assert_eq!(t.disconnect(2), Ok(Some(SocketAddrV4::new(A, 10))));
    // Ephemeral port: the binding goes.
    let l = t.bind(3, ANY, 0, PLAIN, &mut r).unwrap();
    t.connect(3, SocketAddrV4::new(PEER, 53), Some(A)).unwrap();
    assert_eq!(t.disconnect(3), Ok(None));
    assert_eq!(t.binding(3), None);
    assert!(!t.port_in_use(l.port()));
    assert_eq!(t.disconnect(3), Err(Error::NotBound));
}

#[test]
fn unbind_frees_the_port() {
    let mut r = rng();
    let mut t = table();
    t.bind(1, A, 9, PLAIN, &mut r).unwrap();
    let info = t.unbind(1).unwrap();
    assert_eq!(info.local, SocketAddrV4::new(A, 9));
    assert!(info.addr_locked && info.port_locked);
    assert!(t.is_empty());
    assert!(!t.port_in_use(9));
    assert_eq!(t.lookup(A, 9, PEER, 1), None);
    assert_eq!(t.unbind(1), None);
    assert!(t.bind(2, ANY, 9, PLAIN, &mut r).is_ok());
}

#[test]
fn broadcasts_reach_every_flagged_socket_on_the_port() {
    let mut r = rng();
    let mut t = table();
    t.bind(1, ANY, 67, BC, &mut r).unwrap();
    t.bind(2, ANY, 67, BC, &mut r).unwrap();
    t.bind(3, ANY, 67, REUSE, &mut r).unwrap(); // no broadcast flag
    t.bind(4, A, 67, BC, &mut r).unwrap(); // a unicast address: no broadcasts
    t.bind(5, BCAST, 67, BC, &mut r).unwrap(); // bound to the broadcast address
    t.bind(6, ANY, 67, BC, &mut r).unwrap();
    t.connect(6, SocketAddrV4::new(PEER, 68), None).unwrap();
    t.bind(7, ANY, 67, BC, &mut r).unwrap();
    t.connect(7, SocketAddrV4::new(B, 68), None).unwrap();
    let all = |t: &UdpTable<u32>, dst| {
        let mut v: Vec<_> = t.lookup_all(dst, 67, PEER, 68).collect();
        v.sort_unstable();
        v
    };
    assert_eq!(all(&t, BCAST), [1, 2, 5, 6]);
    assert_eq!(all(&t, Ipv4Addr::BROADCAST), [1, 2, 6]);
    assert!(t.lookup_all(BCAST, 68, PEER, 68).next().is_none());
    t.set_broadcast(3, true).unwrap();
    t.set_broadcast(1, false).unwrap();
    assert_eq!(all(&t, Ipv4Addr::BROADCAST), [2, 3, 6]);
    assert!(t.binding(3).unwrap().options.broadcast);
    assert_eq!(t.set_broadcast(99, true), Err(Error::NotBound));

    // Linux's behaviour: the flag only gates sending.
    let mut t = UdpTable::new(UdpTableConfig {
        broadcast_requires_flag: false,
        ..UdpTableConfig::default()
    });
    t.bind(1, ANY, 67, REUSE, &mut r).unwrap();
    t.bind(2, ANY, 67, BC, &mut r).unwrap();
    assert_eq!(all(&t, Ipv4Addr::BROADCAST), [1, 2]);
}

/// The rules, written the slow and obvious way.
#[derive(Default)]
struct Model {
    seq: u64,
    // (handle, info, insertion order)
    entries: Vec<(u32, BindingInfo, u64)>,
}

impl Model {
    fn find(&self, h: u32) -> Option<usize> {
        self.entries.iter().position(|e| e.0 == h)
    }

    fn conflicts(&self, addr: Ipv4Addr, port: u16, reuse: bool) -> bool {
        self.entries.iter().any(|(_, b, _)| {
            b.local.port() == port
                && (*b.local.ip() == addr || b.local.ip().is_unspecified() || addr.is_unspecified())
                && !(reuse && b.options.reuse_addr)
        })
    }

    fn insert(&mut self, h: u32, b: BindingInfo) {
        self.seq += 1;
        self.entries.push((h, b, self.seq));
    }

    fn lookup(&self, dst: Ipv4Addr, dport: u16, src: Ipv4Addr, sport: u16) -> Option<u32> {
        let rank = |b: &BindingInfo| -> Option<u8> {
            if b.local.port() != dport {
                return None;
            }
            let l = *b.local.ip();
            match b.remote {
                Some(r) if r == SocketAddrV4::new(src, sport) && l == dst => Some(0),
                Some(r) if r == SocketAddrV4::new(src, sport) && l.is_unspecified() => Some(1),
                Some(_) => None,
                None if l == dst => Some(2),
                None if l.is_unspecified() => Some(3),
                None => None,
            }
        };
        self.entries
            .iter()
            .filter_map(|(h, b, s)| rank(b).map(|r| (r, core::cmp::Reverse(*s), *h)))
            .min()
            .map(|(_, _, h)| h)
    }

    fn lookup_all(&self, dst: Ipv4Addr, dport: u16, src: Ipv4Addr, sport: u16) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .entries
            .iter()
            .filter(|(_, b, _)| {
                let l = *b.local.ip();
                b.options.broadcast
                    && b.local.port() == dport
                    && (l.is_unspecified() || l == dst)
                    && b.remote.is_none_or(|r| r == SocketAddrV4::new(src, sport))
            })
            .map(|e| e.0)
            .collect();
        v.sort_unstable();
        v
    }
}

/// Property: under random binds, connects, disconnects, unbinds and
/// lookups over a small space of addresses and ports, the table agrees
/// with the model and stays within its bound.
#[test]
fn agrees_with_a_linear_model_under_random_operations() {
    let addrs = [ANY, A, B, BCAST];
    let peers = [PEER, B];
    let mut r = SeededRng::new(0x7ab1e);
    for round in 0..30 {
        let max = 4 + round;
        let mut t = UdpTable::new(UdpTableConfig {
            max_bindings: max,
            ephemeral_ports: PortRange::new(60000, 60007).unwrap(),
            ..UdpTableConfig::default()
        });
        let mut m = Model::default();
        for _ in 0..600 {
            let h = r.below(12);
            let addr = addrs[r.below(4) as usize];
            let port = [0u16, 5, 6, 60001][r.below(4) as usize];
            match r.below(6) {
                0 | 1 => {
                    let opts = BindOptions {
                        reuse_addr: r.below(2) == 0,
                        broadcast: r.below(2) == 0,
                    };
                    let got = t.bind(h, addr, port, opts, &mut r);
                    let expect_err = if m.find(h).is_some() {
                        Some(Error::AlreadyBound)
                    } else if m.entries.len() >= max {
                        Some(Error::TableFull { max })
                    } else if port != 0 && m.conflicts(addr, port, opts.reuse_addr) {
                        Some(Error::AddrInUse { addr, port })
                    } else {
                        None
                    };
                    match (got, expect_err) {
                        (Err(e), Some(x)) => assert_eq!(e, x),
                        (Ok(local), None) => {
                            if port == 0 {
                                assert!((60000..=60007).contains(&local.port()));
                                assert!(m.entries.iter().all(|e| e.1.local.port() != local.port()));
                            } else {
                                assert_eq!(local, SocketAddrV4::new(addr, port));
                            }
                            m.insert(
                                h,
                                BindingInfo {
                                    local,
                                    remote: None,
                                    options: opts,
                                    addr_locked: !addr.is_unspecified(),
                                    port_locked: port != 0,
                                },
                            );
                        }
                        (Err(Error::NoEphemeralPort), None) if port == 0 => {
                            let used: std::collections::BTreeSet<_> =
                                m.entries.iter().map(|e| e.1.local.port()).collect();
                            assert!((60000..=60007).all(|p| used.contains(&p)));
                        }
                        (got, x) => panic!("bind got {got:?}, expected error {x:?}"),
                    }
                }
                2 => {
                    let remote =
                        SocketAddrV4::new(peers[r.below(2) as usize], 100 + r.below(2) as u16);
                    let via = [None, Some(A), Some(B)][r.below(3) as usize];
                    let got = t.connect(h, remote, via);
                    match m.find(h) {
                        None => assert_eq!(got, Err(Error::NotBound)),
                        Some(i) => {
                            let (_, mut b, _) = m.entries.remove(i);
                            if b.local.ip().is_unspecified()
                                && let Some(a) = via
                            {
                                b.local.set_ip(a);
                            }
                            b.remote = Some(remote);
                            assert_eq!(got, Ok(b.local));
                            m.insert(h, b);
                        }
                    }
                }
                3 => {
                    let got = t.disconnect(h);
                    match m.find(h) {
                        None => assert_eq!(got, Err(Error::NotBound)),
                        Some(i) => {
                            let (_, mut b, _) = m.entries.remove(i);
                            if b.port_locked {
                                b.remote = None;
                                if !b.addr_locked {
                                    b.local.set_ip(ANY);
                                }
                                assert_eq!(got, Ok(Some(b.local)));
                                m.insert(h, b);
                            } else {
                                assert_eq!(got, Ok(None));
                            }
                        }
                    }
                }
                4 => {
                    let got = t.unbind(h);
                    let expect = m.find(h).map(|i| m.entries.remove(i).1);
                    assert_eq!(got, expect);
                }
                _ => {
                    let on = r.below(2) == 0;
                    let got = t.set_broadcast(h, on);
                    match m.find(h) {
                        None => assert_eq!(got, Err(Error::NotBound)),
                        Some(i) => {
                            assert_eq!(got, Ok(()));
                            m.entries[i].1.options.broadcast = on;
                        }
                    }
                }
            }
            assert!(t.len() <= max);
            assert_eq!(t.len(), m.entries.len());
            // Every lookup over the small space agrees.
            for dst in [A, B, BCAST] {
                for dport in [5, 6, 60001, 60003] {
                    for src in peers {
                        for sport in [100, 101] {
                            assert_eq!(
                                t.lookup(dst, dport, src, sport),
                                m.lookup(dst, dport, src, sport),
                                "lookup {dst}:{dport} from {src}:{sport}"
                            );
                            let mut all: Vec<_> = t.lookup_all(dst, dport, src, sport).collect();
                            all.sort_unstable();
                            assert_eq!(all, m.lookup_all(dst, dport, src, sport));
                        }
                    }
                }
            }
            for (h, info, _) in &m.entries {
                assert_eq!(t.binding(*h).as_ref(), Some(info));
            }
        }
    }
}
