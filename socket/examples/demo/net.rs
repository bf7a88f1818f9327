//! The demo's network: a LAN host, a NAT router running `lamina-filter`
//! and a WAN server on two in-memory wires with fault injectors, all
//! driven by one simulated clock; the router's ports record into one
//! pcapng file.

use std::fs::File;
use std::io::BufWriter;
use std::net::Ipv4Addr;

use lamina_ethernet::MacAddr;
use lamina_filter::{Filter, FilterConfig, Ruleset};
use lamina_ipv4::IfaceId;
use lamina_ipv4::hook::{NoHooks, PacketHook};
use lamina_netbuf::{Duration, Instant, SeededRng};
use lamina_netdev::pcap::{PcapNgCapture, PcapNgFile};
use lamina_netdev::{Device, FaultConfig, FaultInjector, LinkConfig, Port, wire};
use lamina_socket::{Interface, InterfaceConfig, SocketSet};

pub const LAN_HOST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
pub const ROUTER_LAN: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const ROUTER_WAN: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
pub const WAN_HOST: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);

/// The router's interfaces, in the rules' numbering (`iif 0`, `oif 1`).
pub const LAN: IfaceId = IfaceId(0);
pub const WAN: IfaceId = IfaceId(1);

/// The LAN link: 1 Gbit/s, 100 µs each way.
pub const LAN_RATE: u64 = 1_000_000_000;
pub const LAN_LATENCY: Duration = Duration::from_micros(100);
/// The WAN link: 100 Mbit/s, 5 ms each way.
pub const WAN_RATE: u64 = 100_000_000;
pub const WAN_LATENCY: Duration = Duration::from_millis(5);
/// Frames each port can hold (waiting, in flight or arrived).
const QUEUE_LEN: usize = 256;

/// The port forwarded to the LAN host's port 80.
pub const FORWARDED_PORT: u16 = 8080;
/// The TCP port the firewall refuses with a reset.
pub const BLOCKED_TCP_PORT: u16 = 23;
/// The UDP port the firewall refuses with ICMP port unreachable.
pub const BLOCKED_UDP_PORT: u16 = 69;

/// The router's rule set, in `lamina-filter`'s `nft`-like syntax.
pub const RULES: &str = "\
table ip nat {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        iif 1 tcp dport 8080 dnat to 192.0.2.10:80
    }
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oif 1 masquerade
    }
}
table ip filter {
    chain input {
        type filter hook input priority 0; policy accept;
        ct state invalid drop
    }
    chain forward {
        type filter hook forward priority 0; policy drop;
        ct state invalid drop
        ct state established,related accept
        tcp dport 23 reject with tcp reset
        udp dport 69 reject with icmp type port-unreachable
        iif 0 oif 1 accept
        iif 1 oif 0 ip daddr 192.0.2.10 tcp dport 80 ct state new accept
    }
}
";

pub type PcapOut = BufWriter<File>;
/// A router port: faults outside, the capture inside (what the wire
/// carries is what gets recorded).
pub type RouterDev = FaultInjector<PcapNgCapture<Port, PcapOut>>;
/// A host's port.
pub type HostDev = FaultInjector<Port>;

/// One machine: an interface with its hooks, its devices and sockets.
pub struct Node<H: PacketHook, D: Device> {
    pub iface: Interface<H>,
    pub devs: Vec<D>,
    pub sockets: SocketSet,
}

impl<H: PacketHook, D: Device> Node<H, D> {
    fn poll(&mut self, now: Instant) -> bool {
        self.iface.poll(now, &mut self.devs[..], &mut self.sockets)
    }

    fn poll_at(&mut self) -> Option<Instant> {
        self.iface.poll_at(&mut self.devs[..], &self.sockets)
    }
}

/// A distinct, reproducible random stream per component.
pub fn rng(seed: u64, stream: u64) -> SeededRng {
    SeededRng::new(
        seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .wrapping_add(stream.wrapping_mul(0xbf58_476d_1ce4_e5b9))
            ^ stream,
    )
}

/// The whole simulation.
pub struct Net {
    pub now: Instant,
    pub lan: Node<NoHooks, HostDev>,
    pub router: Node<Filter, RouterDev>,
    pub wan: Node<NoHooks, HostDev>,
    pub pcap: PcapNgFile<PcapOut>,
    /// The rule set as parsed, to print it with the rules' counters.
    pub rules: Ruleset,
}

/// Why the simulation could not go on.
#[derive(Debug)]
pub struct Stuck(pub &'static str);

impl std::fmt::Display for Stuck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Stuck {}

fn node<H: PacketHook, D: Device>(
    hooks: H,
    config: InterfaceConfig,
    rng: &mut SeededRng,
    ports: Vec<(D, MacAddr, &str)>,
) -> Result<Node<H, D>, Box<dyn std::error::Error>> {
    let mut iface = Interface::with_hooks(config, hooks, rng);
    let mut devs = Vec::new();
    for (dev, mac, cidr) in ports {
        let id = iface.add_device(&dev, mac)?;
        iface.add_address(id, cidr.parse()?, Instant::ZERO)?;
        devs.push(dev);
    }
    Ok(Node {
        iface,
        devs,
        sockets: SocketSet::new(32, rng),
    })
}

impl Net {
    /// Builds the network; `snaplen` caps the bytes recorded per frame
    /// (0: whole frames).
    pub fn new(
        seed: u64,
        pcap_path: &str,
        snaplen: u32,
    ) -> Result<Net, Box<dyn std::error::Error>> {
        let lan_link = LinkConfig::new()
            .with_latency(LAN_LATENCY)
            .with_bandwidth(LAN_RATE)
            .with_queue_len(QUEUE_LEN);
        let wan_link = LinkConfig::new()
            .with_latency(WAN_LATENCY)
            .with_bandwidth(WAN_RATE)
            .with_queue_len(QUEUE_LEN);
        let (lan_host_port, router_lan_port) = wire(lan_link);
        let (router_wan_port, wan_host_port) = wire(wan_link);

        let file = File::create(pcap_path).map_err(|e| format!("--pcap {pcap_path}: {e}"))?;
        let pcap = PcapNgFile::new(BufWriter::with_capacity(1 << 20, file))?;
        let router_lan = FaultInjector::new(pcap.capture(router_lan_port, "lan", snaplen)?, seed);
        let router_wan = FaultInjector::new(
            pcap.capture(router_wan_port, "wan", snaplen)?,
            seed.wrapping_add(1),
        );
        let lan_dev = FaultInjector::new(lan_host_port, seed.wrapping_add(2));
        let wan_dev = FaultInjector::new(wan_host_port, seed.wrapping_add(3));

        let rules: Ruleset = RULES.parse()?;
        let mut filter = Filter::new(rules.clone(), FilterConfig::default(), &mut rng(seed, 1))?;
        filter.set_interface_address(LAN, ROUTER_LAN);
        filter.set_interface_address(WAN, ROUTER_WAN);

        let mut lan = node(
            NoHooks,
            InterfaceConfig::default(),
            &mut rng(seed, 2),
            vec![(lan_dev, MacAddr::new(2, 0, 0, 0, 0, 0x0a), "192.0.2.10/24")],
        )?;
        lan.iface.set_default_gateway(ROUTER_LAN, IfaceId(0))?;
        let mut config = InterfaceConfig::default();
        config.forwarding = true;
        let router = node(
            filter,
            config,
            &mut rng(seed, 3),
            vec![
                (router_lan, MacAddr::new(2, 0, 0, 0, 1, 1), "192.0.2.1/24"),
                (
                    router_wan,
                    MacAddr::new(2, 0, 0, 0, 1, 2),
                    "198.51.100.2/24",
                ),
            ],
        )?;
        // The WAN server has no route to the LAN: only what the router
        // translates can come back.
        let wan = node(
            NoHooks,
            InterfaceConfig::default(),
            &mut rng(seed, 4),
            vec![(wan_dev, MacAddr::new(2, 0, 0, 0, 0, 1), "198.51.100.1/24")],
        )?;
        Ok(Net {
            now: Instant::ZERO,
            lan,
            router,
            wan,
            pcap,
            rules,
        })
    }

    /// Applies `faults` to every frame sent on either link, both ways.
    pub fn set_faults(&mut self, faults: FaultConfig) {
        for d in &mut self.lan.devs {
            *d.tx_config_mut() = faults;
        }
        for d in &mut self.router.devs {
            *d.tx_config_mut() = faults;
        }
        for d in &mut self.wan.devs {
            *d.tx_config_mut() = faults;
        }
    }

    fn poll(&mut self) -> bool {
        let now = self.now;
        // Every node, every time (no short-circuit).
        let a = self.lan.poll(now);
        let b = self.router.poll(now);
        let c = self.wan.poll(now);
        a | b | c
    }

    fn poll_at(&mut self) -> Option<Instant> {
        [
            self.lan.poll_at(),
            self.router.poll_at(),
            self.wan.poll_at(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs the network, calling `done` after every round of polls (the
    /// applications' turn: it may send and receive), until it returns
    /// true (`Ok(true)`) or `limit` of simulated time passed (`Ok(false)`).
    /// When nothing moves, the clock jumps to the next timer.
    pub fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&mut Net) -> bool,
    ) -> Result<bool, Stuck> {
        let end = self.now.saturating_add(limit);
        let mut rounds_at_this_instant = 0u64;
        loop {
            let mut progress = self.poll();
            if done(self) {
                return Ok(true);
            }
            if !progress {
                // One more round, so that the stacks act on what the
                // applications just did (a socket touched is "due now")
                // before the timers are read.
                progress = self.poll();
            }
            rounds_at_this_instant += 1;
            if rounds_at_this_instant > 1_000_000 {
                return Err(Stuck("the simulation does not settle (busy loop)"));
            }
            if progress {
                continue;
            }
            let next = match self.poll_at() {
                // Due now, yet nothing moved: step the clock rather than
                // spin.
                Some(t) if t <= self.now => self.now + Duration::from_micros(1),
                Some(t) => t,
                None => end,
            };
            if next > end {
                self.now = self.now.max(end);
                return Ok(false);
            }
            rounds_at_this_instant = 0;
            self.now = next;
        }
    }

    /// Runs for `span` of simulated time.
    pub fn run_for(&mut self, span: Duration) -> Result<(), Stuck> {
        self.run_until(span, |_| false).map(drop)
    }
}
