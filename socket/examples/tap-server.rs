//! Attaches the Lamina stack to an existing TAP interface and serves ICMP
//! echo (ping) and UDP echo on port 7 (RFC 862) until killed.
//!
//! ```text
//! cargo run --release -p lamina-socket --example tap-server -- \
//!     --tap NAME --addr 192.0.2.2/24 [--gateway 192.0.2.1]
//! ```
//!
//! It prints one line when ready.

#[cfg(target_os = "linux")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use std::net::{Ipv4Addr, SocketAddrV4};

    use lamina_ipv4::Ipv4Cidr;
    use lamina_netdev::TapDevice;
    use lamina_socket::stack::Stack;

    let mut tap = None;
    let mut addr: Option<Ipv4Cidr> = None;
    let mut gateway: Option<Ipv4Addr> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--tap" => tap = Some(value()?),
            "--addr" => addr = Some(value()?.parse()?),
            "--gateway" => gateway = Some(value()?.parse()?),
            _ => {
                return Err(format!(
                    "unknown argument {a}; usage: --tap NAME --addr A.B.C.D/N [--gateway A.B.C.D]"
                )
                .into());
            }
        }
    }
    let (Some(tap), Some(addr)) = (tap, addr) else {
        return Err("usage: tap-server --tap NAME --addr A.B.C.D/N [--gateway A.B.C.D]".into());
    };

    let device = TapDevice::open(&tap)?;
    let mut builder = Stack::builder().address(addr);
    if let Some(gw) = gateway {
        builder = builder.gateway(gw);
    }
    let stack = builder.spawn(device)?;
    let echo = stack.udp_bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7))?;
    println!(
        "tap-server ready on {tap}: {addr} (mac {}), ICMP echo and UDP echo on port 7",
        stack.mac()
    );
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, from) = echo.recv_from(&mut buf)?;
        echo.send_to(&buf[..n], from)?;
    }
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("tap-server needs Linux TAP devices");
}
