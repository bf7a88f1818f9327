//! Hosts on in-memory links, driven by a fake clock.
#![allow(dead_code)]

use lamina_ethernet::MacAddr;
use lamina_ipv4::IfaceId;
use lamina_ipv4::hook::{NoHooks, PacketHook};
use lamina_netbuf::{Duration, Instant, SeededRng};
use lamina_netdev::Port;
use lamina_socket::{Interface, InterfaceConfig, SocketSet};

/// One simulated host: an interface (with packet hooks `H`), its
/// devices and its sockets.
pub struct Host<H: PacketHook = NoHooks> {
    pub iface: Interface<H>,
    pub devs: Vec<Port>,
    pub sockets: SocketSet,
}

impl Host {
    /// A host with one device per `(port, cidr)`, MAC `02:00:00:00:seed:index`.
    pub fn new(seed: u8, config: InterfaceConfig, ports: Vec<(Port, &str)>) -> Host {
        Host::with_hooks(seed, config, NoHooks, ports)
    }
}

impl<H: PacketHook> Host<H> {
    /// As [`Host::new`], with packet hooks (a filter, NAT).
    pub fn with_hooks(
        seed: u8,
        config: InterfaceConfig,
        hooks: H,
        ports: Vec<(Port, &str)>,
    ) -> Host<H> {
        let mut rng = SeededRng::new(u64::from(seed));
        let mut iface = Interface::with_hooks(config, hooks, &mut rng);
        let mut devs = Vec::new();
        for (i, (port, cidr)) in ports.into_iter().enumerate() {
            let id = iface
                .add_device(&port, MacAddr::new(2, 0, 0, 0, seed, i as u8))
                .unwrap();
            assert_eq!(id, IfaceId(i as u16));
            iface
                .add_address(id, cidr.parse().unwrap(), Instant::ZERO)
                .unwrap();
            devs.push(port);
        }
        Host {
            iface,
            devs,
            sockets: SocketSet::new(64, &mut rng),
        }
    }

    pub fn poll(&mut self, now: Instant) -> bool {
        self.iface.poll(now, &mut self.devs[..], &mut self.sockets)
    }

    pub fn poll_at(&mut self) -> Option<Instant> {
        self.iface.poll_at(&mut self.devs[..], &self.sockets)
    }
}

/// Something [`run`] drives: hosts of any hook type.
pub trait Node {
    fn poll(&mut self, now: Instant) -> bool;
    fn poll_at(&mut self) -> Option<Instant>;
}

impl<H: PacketHook> Node for Host<H> {
    fn poll(&mut self, now: Instant) -> bool {
        Host::poll(self, now)
    }

    fn poll_at(&mut self) -> Option<Instant> {
        Host::poll_at(self)
    }
}

/// Polls every host until none makes progress, then jumps the clock to
/// the earliest timer of any host or device, for `span` (or until
/// nothing is pending). Panics on a busy loop.
pub fn run(hosts: &mut [&mut dyn Node], now: &mut Instant, span: Duration) {
    let until = *now + span;
    let mut steps = 0u32;
    loop {
        loop {
            steps += 1;
            assert!(steps < 200_000, "simulation does not settle");
            let mut progress = false;
            for h in hosts.iter_mut() {
                progress |= h.poll(*now);
            }
            if !progress {
                break;
            }
        }
        let next = hosts.iter_mut().filter_map(|h| h.poll_at()).min();
        match next {
            Some(t) if t <= until => {
                *now = if t > *now {
                    t
                } else {
                    *now + Duration::from_micros(1)
                };
            }
            _ => {
                *now = (*now).max(until);
                return;
            }
        }
    }
}
