//! Fuzz target `udp_table`: `lamina_udp::UdpTable` under operations
//! chosen by the input, compared with a plain list of bindings.
//!
//! The model is a vector of bindings, each with the order in which it was
//! (re)inserted; binding conflicts, lookups and broadcast lookups are
//! computed from it by scanning, straight from the rules of the module
//! documentation (Linux's bind rule without `SO_REUSEPORT`; connected
//! exact, connected wildcard, bound exact, bound wildcard; the most
//! recently bound of equal matches; ephemeral ports only where no binding
//! is). After every operation the table must agree with the model on the
//! result, on every binding, on the ports in use, and never hold more than
//! `max_bindings`.

use std::net::{Ipv4Addr, SocketAddrV4};

use arbitrary::{Arbitrary, Result, Unstructured};
use lamina_netbuf::SeededRng;
use lamina_udp::{BindOptions, BindingInfo, Error, PortRange, UdpTable, UdpTableConfig};

const ADDRS: [Ipv4Addr; 5] = [
    Ipv4Addr::UNSPECIFIED,
    Ipv4Addr::new(192, 0, 2, 1),
    Ipv4Addr::new(192, 0, 2, 2),
    Ipv4Addr::new(198, 51, 100, 7),
    Ipv4Addr::BROADCAST,
];

/// Fixed ports; the ephemeral range is 5000..=5000+n.
const PORTS: [u16; 5] = [0, 53, 5000, 5001, 5002];

#[derive(Debug, Arbitrary)]
enum Op {
    Bind {
        h: u8,
        addr: u8,
        port: u8,
        reuse: bool,
        broadcast: bool,
    },
    Connect {
        h: u8,
        addr: u8,
        port: u8,
        local: Option<u8>,
    },
    Disconnect(u8),
    Unbind(u8),
    SetBroadcast(u8, bool),
    Lookup {
        dst: u8,
        dport: u8,
        src: u8,
        sport: u8,
    },
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    h: u8,
    info: BindingInfo,
    /// When it was last (re)inserted.
    seq: u64,
}

#[derive(Debug, Default)]
struct Model {
    entries: Vec<Entry>,
    seq: u64,
}

impl Model {
    fn get(&self, h: u8) -> Option<&Entry> {
        self.entries.iter().find(|e| e.h == h)
    }

    fn take(&mut self, h: u8) -> Option<Entry> {
        let i = self.entries.iter().position(|e| e.h == h)?;
        Some(self.entries.remove(i))
    }

    fn insert(&mut self, h: u8, info: BindingInfo) {
        self.seq += 1;
        self.entries.push(Entry {
            h,
            info,
            seq: self.seq,
        });
    }

    fn conflicts(&self, addr: Ipv4Addr, port: u16, reuse: bool) -> bool {
        self.entries.iter().any(|e| {
            let l = e.info.local;
            l.port() == port
                && (*l.ip() == addr || l.ip().is_unspecified() || addr.is_unspecified())
                && !(reuse && e.info.options.reuse_addr)
        })
    }

    fn port_used(&self, port: u16) -> bool {
        self.entries.iter().any(|e| e.info.local.port() == port)
    }

    fn lookup(&self, dst: Ipv4Addr, dport: u16, src: Ipv4Addr, sport: u16) -> Option<u8> {
        let any = Ipv4Addr::UNSPECIFIED;
        let remote = Some(SocketAddrV4::new(src, sport));
        let classes: [&dyn Fn(&BindingInfo) -> bool; 4] = [
            &|b| b.remote == remote && *b.local.ip() == dst,
            &|b| b.remote == remote && *b.local.ip() == any,
            &|b| b.remote.is_none() && *b.local.ip() == dst,
            &|b| b.remote.is_none() && *b.local.ip() == any,
        ];
        classes.iter().find_map(|class| {
            self.entries
                .iter()
                .filter(|e| e.info.local.port() == dport && class(&e.info))
                .max_by_key(|e| e.seq)
                .map(|e| e.h)
        })
    }

    fn lookup_all(
        &self,
        dst: Ipv4Addr,
        dport: u16,
        src: Ipv4Addr,
        sport: u16,
        need_flag: bool,
    ) -> Vec<u8> {
        let any = Ipv4Addr::UNSPECIFIED;
        let mut v: Vec<u8> = self
            .entries
            .iter()
            .filter(|e| {
                let b = &e.info;
                let l = *b.local.ip();
                b.local.port() == dport
                    && (l == any || l == dst)
                    && b.remote.is_none_or(|r| r == SocketAddrV4::new(src, sport))
                    && (b.options.broadcast || !need_flag)
            })
            .map(|e| e.h)
            .collect();
        v.sort_unstable();
        v
    }
}

/// Runs one input; must never panic.
pub fn fuzz(data: &[u8]) {
    let _ = run(&mut Unstructured::new(data));
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let mut config = UdpTableConfig::default();
    config.max_bindings = u.int_in_range(0..=10)?;
    let span: u16 = u.int_in_range(0..=3)?;
    config.ephemeral_ports = PortRange::new(5000, 5000 + span).expect("a valid range");
    config.broadcast_requires_flag = u.arbitrary()?;
    let mut rng = SeededRng::new(u.arbitrary()?);
    let mut table: UdpTable<u8> = UdpTable::new(config);
    let mut model = Model::default();
    let mut steps = 0;
    while !u.is_empty() && steps < 300 {
        steps += 1;
        match u.arbitrary::<Op>()? {
            Op::Bind {
                h,
                addr,
                port,
                reuse,
                broadcast,
            } => {
                let h = h % 12;
                let addr = pick(&ADDRS, addr);
                let port = pick(&PORTS, port);
                let options = BindOptions {
                    reuse_addr: reuse,
                    broadcast,
                };
                let got = table.bind(h, addr, port, options, &mut rng);
                let want_err = if model.get(h).is_some() {
                    Some(Error::AlreadyBound)
                } else if model.entries.len() >= config.max_bindings {
                    Some(Error::TableFull {
                        max: config.max_bindings,
                    })
                } else if port != 0 && model.conflicts(addr, port, reuse) {
                    Some(Error::AddrInUse { addr, port })
                } else if port == 0
                    && (config.ephemeral_ports.first()..=config.ephemeral_ports.last())
                        .all(|p| model.port_used(p))
                {
                    Some(Error::NoEphemeralPort)
                } else {
                    None
                };
                match (got, want_err) {
                    (Err(e), Some(w)) => assert_eq!(e, w),
                    (Ok(local), None) => {
                        assert_eq!(*local.ip(), addr);
                        if port == 0 {
                            let r = config.ephemeral_ports;
                            assert!((r.first()..=r.last()).contains(&local.port()));
                            assert!(!model.port_used(local.port()), "RFC 6056: a free port");
                        } else {
                            assert_eq!(local.port(), port);
                        }
                        model.insert(
                            h,
                            BindingInfo {
                                local,
                                remote: None,
                                options,
                                addr_locked: !addr.is_unspecified(),
                                port_locked: port != 0,
                            },
                        );
                    }
                    (got, want) => panic!("bind: table {got:?}, model {want:?}"),
                }
            }
            Op::Connect {
                h,
                addr,
                port,
                local,
            } => {
                let h = h % 12;
                let remote = SocketAddrV4::new(pick(&ADDRS, addr), pick(&PORTS, port));
                let local_addr = local.map(|a| pick(&ADDRS, a));
                let got = table.connect(h, remote, local_addr);
                if remote.port() == 0 || remote.ip().is_unspecified() {
                    assert_eq!(got, Err(Error::InvalidRemote(remote)));
                } else if let Some(mut e) = model.take(h) {
                    if e.info.local.ip().is_unspecified()
                        && let Some(a) = local_addr
                    {
                        e.info.local.set_ip(a);
                    }
                    e.info.remote = Some(remote);
                    assert_eq!(got, Ok(e.info.local));
                    model.insert(h, e.info);
                } else {
                    assert_eq!(got, Err(Error::NotBound));
                }
            }
            Op::Disconnect(h) => {
                let h = h % 12;
                let got = table.disconnect(h);
                match model.take(h) {
                    None => assert_eq!(got, Err(Error::NotBound)),
                    Some(e) if !e.info.port_locked => assert_eq!(got, Ok(None)),
                    Some(mut e) => {
                        e.info.remote = None;
                        if !e.info.addr_locked {
                            e.info.local.set_ip(Ipv4Addr::UNSPECIFIED);
                        }
                        assert_eq!(got, Ok(Some(e.info.local)));
                        model.insert(h, e.info);
                    }
                }
            }
            Op::Unbind(h) => {
                let h = h % 12;
                let got = table.unbind(h);
                assert_eq!(got, model.take(h).map(|e| e.info));
            }
            Op::SetBroadcast(h, on) => {
                let h = h % 12;
                let got = table.set_broadcast(h, on);
                match model.entries.iter_mut().find(|e| e.h == h) {
                    Some(e) => {
                        assert_eq!(got, Ok(()));
                        e.info.options.broadcast = on;
                    }
                    None => assert_eq!(got, Err(Error::NotBound)),
                }
            }
            Op::Lookup {
                dst,
                dport,
                src,
                sport,
            } => {
                let (dst, src) = (pick(&ADDRS, dst), pick(&ADDRS, src));
                let (dport, sport) = (pick(&PORTS, dport), pick(&PORTS, sport));
                assert_eq!(
                    table.lookup(dst, dport, src, sport),
                    model.lookup(dst, dport, src, sport),
                    "lookup {dst}:{dport} from {src}:{sport}"
                );
                let mut all: Vec<u8> = table.lookup_all(dst, dport, src, sport).collect();
                all.sort_unstable();
                assert_eq!(
                    all,
                    model.lookup_all(dst, dport, src, sport, config.broadcast_requires_flag)
                );
            }
        }
        // The whole table agrees with the model.
        assert!(table.len() <= config.max_bindings);
        assert_eq!(table.len(), model.entries.len());
        assert_eq!(table.is_empty(), model.entries.is_empty());
        let mut want: Vec<(u8, BindingInfo)> =
            model.entries.iter().map(|e| (e.h, e.info)).collect();
        want.sort_by_key(|(h, _)| *h);
        assert_eq!(table.iter().collect::<Vec<_>>(), want);
        let mut ports: Vec<u16> = model.entries.iter().map(|e| e.info.local.port()).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(table.ports_in_use(), ports.len());
        for p in PORTS.into_iter().chain(5000..=5003) {
            assert_eq!(table.port_in_use(p), ports.contains(&p));
        }
    }
    Ok(())
}

fn pick<T: Copy>(items: &[T], i: u8) -> T {
    items[usize::from(i) % items.len()]
}
