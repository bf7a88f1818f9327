//! A Lamina NAT router between two TAP interfaces: an `Interface` with
//! forwarding on and a `lamina_filter::Filter` as its packet hooks.
//!
//! ```text
//! cargo run --release -p lamina-socket --example tap-router -- \
//!     --lan TAP1 [--lan-netns NS1] --lan-addr 192.0.2.1/24 \
//!     --wan TAP2 [--wan-netns NS2] --wan-addr 198.51.100.2/24 \
//!     [--wan-gateway A.B.C.D] [--masquerade] [--forward PORT:IP:PORT]... \
//!     [--rules FILE] [--lan-mtu N] [--seed N]
//! ```
//!
//! - `--lan`/`--wan` name the TAP interfaces (created when missing; the
//!   kernel side is configured with `ip`). With `--lan-netns`/`--wan-netns`
//!   the TAP is opened inside that network namespace
//!   (`/run/netns/NAME`, as `ip netns add` makes): the thread enters it
//!   for the open and returns; the descriptor keeps working.
//! - The LAN is interface 0, the WAN interface 1 (`iif 0`, `oif 1` in
//!   rules). `--masquerade` adds `oif 1 masquerade` at PostRouting;
//!   each `--forward PORT:IP:PORT` adds a destination NAT at PreRouting
//!   for TCP and UDP arriving on the WAN at that port (a port forward).
//! - `--rules FILE` loads more tables in `lamina_filter`'s `nft`-like
//!   syntax (a firewall, say); they run beside the generated `router`
//!   table.
//! - `--lan-mtu N` gives the router's route to the LAN a path MTU of `N`
//!   bytes, below the link's: what it forwards there is fragmented, or
//!   answered with "fragmentation needed" where Don't Fragment is set
//!   (RFC 1191; through the NAT, RFC 5508), as on a router whose next
//!   link is narrower.
//!
//! It prints one line when ready, then forwards until killed.

#[cfg(target_os = "linux")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    linux::main()
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("tap-router needs Linux TAP devices");
}

#[cfg(target_os = "linux")]
mod linux {
    use std::fs::File;
    use std::io;
    use std::net::Ipv4Addr;
    use std::os::fd::{AsRawFd, RawFd};

    use lamina_ethernet::MacAddr;
    use lamina_filter::{Filter, FilterConfig, Ruleset};
    use lamina_ipv4::{IfaceId, Ipv4Cidr, Route};
    use lamina_netbuf::time::StdClock;
    use lamina_netbuf::{Duration, Rng, SeededRng};
    use lamina_netdev::TapDevice;
    use lamina_socket::{Interface, InterfaceConfig, SocketSet};

    const USAGE: &str = "usage: tap-router --lan TAP [--lan-netns NS] --lan-addr A.B.C.D/N \
         --wan TAP [--wan-netns NS] --wan-addr A.B.C.D/N [--wan-gateway A.B.C.D] \
         [--masquerade] [--forward PORT:IP:PORT]... [--rules FILE] [--lan-mtu N] [--seed N]";

    /// The longest sleep between two polls when no timer is due.
    const MAX_SLEEP: Duration = Duration::from_millis(100);
    /// How often expired flows are collected in bulk.
    const GC_EVERY: Duration = Duration::from_secs(5);

    const LAN: IfaceId = IfaceId(0);
    const WAN: IfaceId = IfaceId(1);

    #[derive(Debug, Default)]
    struct Args {
        lan: Option<String>,
        lan_netns: Option<String>,
        lan_addr: Option<Ipv4Cidr>,
        wan: Option<String>,
        wan_netns: Option<String>,
        wan_addr: Option<Ipv4Cidr>,
        wan_gateway: Option<Ipv4Addr>,
        masquerade: bool,
        forwards: Vec<(u16, Ipv4Addr, u16)>,
        rules: Option<String>,
        lan_mtu: Option<u16>,
        seed: Option<u64>,
    }

    fn parse_forward(s: &str) -> Result<(u16, Ipv4Addr, u16), String> {
        let bad = || format!("--forward {s}: expected PORT:IP:PORT");
        let mut it = s.split(':');
        let (Some(p), Some(a), Some(q), None) = (it.next(), it.next(), it.next(), it.next()) else {
            return Err(bad());
        };
        Ok((
            p.parse().map_err(|_| bad())?,
            a.parse().map_err(|_| bad())?,
            q.parse().map_err(|_| bad())?,
        ))
    }

    fn parse_args() -> Result<Args, Box<dyn std::error::Error>> {
        let mut a = Args::default();
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or(format!("{arg} needs a value; {USAGE}"));
            match arg.as_str() {
                "--lan" => a.lan = Some(value()?),
                "--lan-netns" => a.lan_netns = Some(value()?),
                "--lan-addr" => a.lan_addr = Some(value()?.parse()?),
                "--wan" => a.wan = Some(value()?),
                "--wan-netns" => a.wan_netns = Some(value()?),
                "--wan-addr" => a.wan_addr = Some(value()?.parse()?),
                "--wan-gateway" => a.wan_gateway = Some(value()?.parse()?),
                "--masquerade" => a.masquerade = true,
                "--forward" => a.forwards.push(parse_forward(&value()?)?),
                "--rules" => a.rules = Some(value()?),
                "--lan-mtu" => a.lan_mtu = Some(value()?.parse()?),
                "--seed" => a.seed = Some(value()?.parse()?),
                _ => return Err(format!("unknown argument {arg}; {USAGE}").into()),
            }
        }
        Ok(a)
    }

    /// The ruleset: the file's tables, then the generated `router` table.
    fn ruleset(a: &Args) -> Result<Ruleset, Box<dyn std::error::Error>> {
        let mut text = String::new();
        if let Some(path) = &a.rules {
            text = std::fs::read_to_string(path).map_err(|e| format!("--rules {path}: {e}"))?;
            // Check the file alone first, so that error offsets are its own.
            text.parse::<Ruleset>()
                .map_err(|e| format!("--rules {path}: {e}"))?;
            text.push('\n');
        }
        let mut pre = String::new();
        for (port, ip, to) in &a.forwards {
            for proto in ["tcp", "udp"] {
                pre.push_str(&format!(
                    "        iif {} {proto} dport {port} dnat to {ip}:{to}\n",
                    WAN.0
                ));
            }
        }
        let post = if a.masquerade {
            format!("        oif {} masquerade\n", WAN.0)
        } else {
            String::new()
        };
        text.push_str(&format!(
            "table ip router {{\n\
             \x20   chain prerouting {{\n\
             \x20       type nat hook prerouting priority dstnat; policy accept;\n\
             {pre}\
             \x20   }}\n\
             \x20   chain postrouting {{\n\
             \x20       type nat hook postrouting priority srcnat; policy accept;\n\
             {post}\
             \x20   }}\n\
             }}\n"
        ));
        Ok(text.parse()?)
    }

    /// `setns(2)` and `poll(2)` from the C library std already links.
    mod sys {
        use std::os::raw::{c_int, c_short, c_ulong};

        /// `CLONE_NEWNET` from `<sched.h>`.
        pub const CLONE_NEWNET: c_int = 0x4000_0000;
        /// `POLLIN` from `<poll.h>`.
        pub const POLLIN: c_short = 0x001;

        /// `struct pollfd` from `<poll.h>`.
        #[repr(C)]
        #[derive(Debug, Clone, Copy)]
        pub struct PollFd {
            pub fd: c_int,
            pub events: c_short,
            pub revents: c_short,
        }

        unsafe extern "C" {
            pub fn setns(fd: c_int, nstype: c_int) -> c_int;
            pub fn poll(fds: *mut PollFd, nfds: c_ulong, timeout: c_int) -> c_int;
        }
    }

    fn setns(fd: RawFd) -> io::Result<()> {
        // SAFETY: `setns` only reads its two integer arguments; `fd` is an
        // open descriptor (a namespace file) owned by the caller for the
        // duration of the call.
        let rc = unsafe { sys::setns(fd, sys::CLONE_NEWNET) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Opens TAP `name`, inside network namespace `netns` when given: this
    /// thread enters `/run/netns/NAME` for the open and then returns to
    /// its own namespace (aborting if it cannot, rather than run in the
    /// wrong one).
    fn open_tap(name: &str, netns: Option<&str>) -> io::Result<TapDevice> {
        let Some(ns) = netns else {
            return TapDevice::open(name);
        };
        let home = File::open("/proc/thread-self/ns/net")?;
        let target = File::open(format!("/run/netns/{ns}"))
            .map_err(|e| io::Error::new(e.kind(), format!("/run/netns/{ns}: {e}")))?;
        setns(target.as_raw_fd())?;
        let tap = TapDevice::open(name);
        if let Err(e) = setns(home.as_raw_fd()) {
            eprintln!("tap-router: cannot return to the original network namespace: {e}");
            std::process::abort();
        }
        tap
    }

    /// Waits until one of `fds` is readable or `timeout` passes.
    fn wait(fds: [RawFd; 2], timeout: Duration) -> io::Result<()> {
        let mut pfds = fds.map(|fd| sys::PollFd {
            fd,
            events: sys::POLLIN,
            revents: 0,
        });
        let ms = timeout.total_micros().div_ceil(1000).min(i32::MAX as u64) as i32;
        // SAFETY: `pfds` is a live, writable array of `repr(C)` pollfd
        // structs of the length passed; poll writes only their `revents`.
        let rc = unsafe { sys::poll(pfds.as_mut_ptr(), pfds.len() as _, ms) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        Ok(())
    }

    fn random_mac(rng: &mut SeededRng) -> MacAddr {
        let mut m = [0u8; 6];
        rng.fill_bytes(&mut m);
        m[0] = (m[0] & 0xfe) | 0x02;
        MacAddr(m)
    }

    pub fn main() -> Result<(), Box<dyn std::error::Error>> {
        let a = parse_args()?;
        let (Some(lan_name), Some(lan_addr), Some(wan_name), Some(wan_addr)) =
            (&a.lan, a.lan_addr, &a.wan, a.wan_addr)
        else {
            return Err(USAGE.into());
        };
        let rules = ruleset(&a)?;
        let mut lan = open_tap(lan_name, a.lan_netns.as_deref())
            .map_err(|e| format!("opening TAP {lan_name}: {e}"))?;
        let mut wan = open_tap(wan_name, a.wan_netns.as_deref())
            .map_err(|e| format!("opening TAP {wan_name}: {e}"))?;

        let seed = a.seed.unwrap_or_else(|| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            t ^ (u64::from(std::process::id()) << 32)
        });
        let mut rng = SeededRng::new(seed);
        let mut filter = Filter::new(rules, FilterConfig::default(), &mut rng)?;
        filter.set_interface_address(LAN, lan_addr.address());
        filter.set_interface_address(WAN, wan_addr.address());

        let clock = StdClock::new();
        let now = clock.now();
        let mut iface = Interface::with_hooks(InterfaceConfig::default(), filter, &mut rng);
        iface.set_forwarding(true);
        let (lan_mac, wan_mac) = (random_mac(&mut rng), random_mac(&mut rng));
        let lan_id = iface.add_device(&lan, lan_mac)?;
        let wan_id = iface.add_device(&wan, wan_mac)?;
        if (lan_id, wan_id) != (LAN, WAN) {
            return Err("unexpected interface numbering".into());
        }
        iface.add_address(LAN, lan_addr, now)?;
        iface.add_address(WAN, wan_addr, now)?;
        if let Some(gw) = a.wan_gateway {
            iface.set_default_gateway(gw, WAN)?;
        }
        if let Some(mtu) = a.lan_mtu {
            iface
                .routes_mut()
                .replace(lan_addr.normalized(), Route::on_link(LAN).with_mtu(mtu))?;
        }
        let mut sockets = SocketSet::new(4, &mut rng);

        println!(
            "tap-router ready: lan {} {lan_addr} (mac {lan_mac}), wan {} {wan_addr} (mac {wan_mac}), \
             masquerade {}, {} port forward(s){}{}",
            lan.name(),
            wan.name(),
            if a.masquerade { "on" } else { "off" },
            a.forwards.len(),
            a.rules
                .as_deref()
                .map_or(String::new(), |r| format!(", rules from {r}")),
            a.lan_mtu
                .map_or(String::new(), |m| format!(", LAN route MTU {m}")),
        );

        let fds = [lan.as_raw_fd(), wan.as_raw_fd()];
        let mut next_gc = now + GC_EVERY;
        loop {
            let now = clock.now();
            iface.poll(now, (&mut lan, &mut wan), &mut sockets);
            if now >= next_gc {
                iface.hooks_mut().conntrack_mut().gc(now);
                next_gc = now + GC_EVERY;
            }
            let sleep = iface
                .poll_at((&mut lan, &mut wan), &sockets)
                .map_or(MAX_SLEEP, |at| at.saturating_duration_since(now))
                .min(MAX_SLEEP);
            if !sleep.is_zero() {
                wait(fds, sleep)?;
            }
        }
    }
}
