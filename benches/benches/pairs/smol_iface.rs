//! The smoltcp interface both benchmark groups' smoltcp hosts use:
//! Ethernet address `02:00:00:00:00:MAC`, address `IP/24`, on `dev`.

use std::net::Ipv4Addr;

use smoltcp::iface::{Config, Interface};
use smoltcp::phy;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};

/// A smoltcp interface on `dev` with hardware address
/// `02:00:00:00:00:mac` and address `ip/24`, its clock at zero.
pub fn smol_interface<D: phy::Device>(dev: &mut D, mac: u8, ip: Ipv4Addr) -> Interface {
    let config = Config::new(HardwareAddress::Ethernet(EthernetAddress([
        2, 0, 0, 0, 0, mac,
    ])));
    let mut iface = Interface::new(config, dev, Instant::ZERO);
    iface.update_ip_addrs(|a| {
        a.push(IpCidr::new(IpAddress::Ipv4(ip), 24)).unwrap();
    });
    iface
}
