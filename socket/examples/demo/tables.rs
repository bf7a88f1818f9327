//! The router's and the devices' tables, as text.

use std::net::Ipv4Addr;

use lamina_filter::TcpState;
use lamina_netdev::{Device, FaultInjector};

use crate::net::Net;
use crate::report::{self, Table};

fn proto_name(p: u8) -> String {
    match p {
        1 => "icmp".into(),
        6 => "tcp".into(),
        17 => "udp".into(),
        n => n.to_string(),
    }
}

fn endpoint(ip: Ipv4Addr, port: u16) -> String {
    format!("{ip}:{port}")
}

/// A flow's tuple as text; ICMP echo flows show their identifier (the
/// requester's in an original tuple, the replier's view in a reply).
fn tuple(t: lamina_filter::Tuple, reply: bool) -> String {
    if t.proto == 1 {
        let id = if reply { t.dport } else { t.sport };
        format!("{} -> {} echo id {id:#06x}", t.src, t.dst)
    } else {
        format!(
            "{} -> {}",
            endpoint(t.src, t.sport),
            endpoint(t.dst, t.dport)
        )
    }
}

/// What NAT did to a flow: the reply goes back to where the original came
/// from unless its source was translated (masquerade, SNAT), and comes
/// from where it went unless its destination was (DNAT).
fn nat(o: lamina_filter::Tuple, r: lamina_filter::Tuple) -> String {
    let mut out = Vec::new();
    if o.proto == 1 {
        if r.dst != o.src || r.dport != o.sport {
            out.push(format!("src -> {} id {:#06x}", r.dst, r.dport));
        }
        if r.src != o.dst {
            out.push(format!("dst -> {}", r.src));
        }
    } else {
        if r.dst != o.src || r.dport != o.sport {
            out.push(format!("src -> {}", endpoint(r.dst, r.dport)));
        }
        if r.src != o.dst || r.sport != o.dport {
            out.push(format!("dst -> {}", endpoint(r.src, r.sport)));
        }
    }
    if out.is_empty() {
        "-".into()
    } else {
        out.join(", ")
    }
}

pub fn conntrack(net: &Net) -> String {
    let filter = net.router.iface.hooks();
    let ct = filter.conntrack();
    let mut t = Table::new(&[
        "proto",
        "original<",
        "reply<",
        "NAT<",
        "TCP state<",
        "replied<",
        "expires in",
    ]);
    let mut entries: Vec<_> = ct.iter().collect();
    entries.sort_by_key(|e| (e.original.proto, e.original));
    for e in entries {
        let state = match e.tcp_state {
            TcpState::None => "-".to_string(),
            s => format!("{s:?}"),
        };
        t.row(vec![
            proto_name(e.original.proto),
            tuple(e.original, false),
            tuple(e.reply, true),
            nat(e.original, e.reply),
            state,
            if e.seen_reply { "yes" } else { "no" }.into(),
            report::secs(e.expires.saturating_duration_since(net.now)),
        ]);
    }
    let s = ct.stats();
    format!(
        "{}  {} flows; inserted {}, expired {}, invalid {}\n",
        t.render("  "),
        ct.len(),
        s.inserted,
        s.expired,
        s.invalid
    )
}

pub fn rules(net: &Net) -> String {
    let filter = net.router.iface.hooks();
    let mut t = Table::new(&["table/chain", "#", "packets", "bytes", "rule<"]);
    for table in &net.rules.tables {
        for chain in &table.chains {
            for (i, rule) in chain.rules.iter().enumerate() {
                let c = filter
                    .counters(&table.name, &chain.name, i)
                    .unwrap_or_default();
                t.row(vec![
                    format!("{}/{}", table.name, chain.name),
                    i.to_string(),
                    c.packets.to_string(),
                    c.bytes.to_string(),
                    rule.to_string(),
                ]);
            }
        }
    }
    let s = filter.stats();
    let i = net.router.iface.stats();
    format!(
        "{}  router: {} datagrams forwarded, {} dropped by the hooks; filter: {} dropped, {} rejected\n",
        t.render("  "),
        i.forwarded,
        i.hook_dropped,
        s.dropped,
        s.rejected
    )
}

fn device_row<D: Device>(t: &mut Table, name: &str, d: &FaultInjector<D>, queue_drops: u64) {
    let s = d.stats();
    let f = d.fault_stats().tx;
    t.row(vec![
        name.into(),
        s.rx_packets.to_string(),
        report::bytes(s.rx_bytes),
        s.tx_packets.to_string(),
        report::bytes(s.tx_bytes),
        f.dropped.to_string(),
        f.reordered.to_string(),
        queue_drops.to_string(),
    ]);
}

pub fn devices(net: &Net) -> String {
    let mut t = Table::new(&[
        "device",
        "rx frames",
        "rx bytes",
        "tx frames",
        "tx bytes",
        "tx lost (fault)",
        "tx reordered",
        "rx queue full",
    ]);
    for d in &net.lan.devs {
        device_row(&mut t, "lan host eth0", d, d.inner().stats().rx_dropped);
    }
    for (d, name) in net.router.devs.iter().zip(["router lan", "router wan"]) {
        device_row(&mut t, name, d, d.inner().stats().rx_dropped);
    }
    for d in &net.wan.devs {
        device_row(&mut t, "wan server eth0", d, d.inner().stats().rx_dropped);
    }
    t.render("  ")
}
