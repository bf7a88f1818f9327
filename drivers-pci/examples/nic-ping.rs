//! Runs the whole Lamina stack on a PCI NIC from user space and serves
//! ICMP echo (ping) and UDP echo on port 7 (RFC 862) until killed.
//!
//! ```text
//! cargo run --release -p lamina-drivers-pci --features linux --example nic-ping -- \
//!     --pci 0000:00:03.0 --addr 192.0.2.2/24 [--gateway 192.0.2.1] [--vfio]
//! ```
//!
//! The function is unbound from its kernel driver (or, with `--vfio`,
//! bound to `vfio-pci`), then driven by this crate's e1000 or virtio-net
//! driver, chosen from its device ID. Needs root; the sysfs backend also
//! needs 2 MiB hugepages (`echo 16 > /proc/sys/vm/nr_hugepages`). It
//! prints one line when ready.

use std::net::{Ipv4Addr, SocketAddrV4};

use lamina_drivers_pci::e1000::{self, E1000};
use lamina_drivers_pci::hal::Hal;
use lamina_drivers_pci::linux::{self, SysfsConfig, SysfsHal, VfioHal};
use lamina_drivers_pci::pci::{ConfigAccess, Header, PciAddress};
use lamina_drivers_pci::virtio::net::{self as vnet, VirtioNet};
use lamina_ethernet::MacAddr;
use lamina_ipv4::Ipv4Cidr;
use lamina_netbuf::{Duration, Instant};
use lamina_netdev::{Capabilities, Device, Stats};
use lamina_socket::stack::{Stack, WaitDevice};

type BoxError = Box<dyn std::error::Error>;

/// A hardware device polled from the stack's thread: waiting is a short
/// sleep, since user space gets no interrupts here.
struct Polled<D>(D);

impl<D: Device> Device for Polled<D> {
    type RxToken<'a>
        = D::RxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = D::TxToken<'a>
    where
        Self: 'a;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        self.0.receive(now)
    }
    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        self.0.transmit(now)
    }
    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }
    fn stats(&self) -> Stats {
        self.0.stats()
    }
    fn flush(&mut self, now: Instant) {
        self.0.flush(now)
    }
}

impl<D: Device> WaitDevice for Polled<D> {
    fn wait(&self, timeout: Duration) -> std::io::Result<()> {
        let us = timeout.total_micros().min(200);
        std::thread::sleep(std::time::Duration::from_micros(us));
        Ok(())
    }
}

fn serve<D: Device + Send + 'static>(
    dev: D,
    mac: [u8; 6],
    pci: PciAddress,
    addr: Ipv4Cidr,
    gateway: Option<Ipv4Addr>,
) -> Result<(), BoxError> {
    let mut builder = Stack::builder().address(addr).mac(MacAddr(mac));
    if let Some(gw) = gateway {
        builder = builder.gateway(gw);
    }
    let stack = builder.spawn(Polled(dev))?;
    let echo = stack.udp_bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7))?;
    println!(
        "nic-ping ready on {pci}: {addr} (mac {}), ICMP echo and UDP echo on port 7",
        stack.mac()
    );
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, from) = echo.recv_from(&mut buf)?;
        echo.send_to(&buf[..n], from)?;
    }
}

fn start<H: Hal + Send + 'static, C: ConfigAccess>(
    cfg: &mut C,
    pci: PciAddress,
    hal: H,
    addr: Ipv4Cidr,
    gateway: Option<Ipv4Addr>,
) -> Result<(), BoxError> {
    let h = Header::read(cfg, pci)?;
    if h.vendor_id == e1000::VENDOR_INTEL {
        let dev = E1000::probe(cfg, pci, hal, e1000::Config::default())?;
        let link = dev.link_status();
        eprintln!(
            "e1000 {:04x}:{:04x} link {link:?}",
            h.vendor_id, h.device_id
        );
        let mac = dev.mac_address();
        serve(dev, mac, pci, addr, gateway)
    } else {
        let dev = VirtioNet::probe(cfg, pci, hal, vnet::Config::default())?;
        eprintln!("virtio-net features {:#x}", dev.features());
        let mac = dev.mac_address();
        serve(dev, mac, pci, addr, gateway)
    }
}

fn main() -> Result<(), BoxError> {
    let usage = "usage: nic-ping --pci SSSS:BB:DD.F --addr A.B.C.D/N [--gateway A.B.C.D] [--vfio]";
    let mut pci: Option<PciAddress> = None;
    let mut addr: Option<Ipv4Cidr> = None;
    let mut gateway: Option<Ipv4Addr> = None;
    let mut vfio = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--pci" => pci = Some(value()?.parse()?),
            "--addr" => addr = Some(value()?.parse()?),
            "--gateway" => gateway = Some(value()?.parse()?),
            "--vfio" => vfio = true,
            _ => return Err(format!("unknown argument {a}; {usage}").into()),
        }
    }
    let (Some(pci), Some(addr)) = (pci, addr) else {
        return Err(usage.into());
    };
    if vfio {
        linux::bind_driver(pci, "vfio-pci")?;
        let hal = VfioHal::open(pci)?;
        let mut cfg = hal.config()?;
        start(&mut cfg, pci, hal, addr, gateway)
    } else {
        linux::unbind(pci)?;
        let mut cfg = SysfsConfig::open(pci)?;
        start(&mut cfg, pci, SysfsHal::new(pci), addr, gateway)
    }
}
