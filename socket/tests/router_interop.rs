//! A Lamina NAT router against Linux, over two TAP devices: the
//! `tap-router` example (an `Interface` forwarding through a
//! `lamina_filter::Filter`) between two network namespaces this test
//! creates (and deletes, with everything in them, even on failure):
//!
//! - a LAN client namespace whose kernel has 192.0.2.10/24 on the LAN TAP
//!   and a default route via the router, 192.0.2.1;
//! - a WAN server namespace whose kernel has 198.51.100.1/24 on the WAN
//!   TAP, the router being 198.51.100.2 (RFC 5737 addresses, which never
//!   leave these namespaces).
//!
//! The router masquerades LAN traffic behind 198.51.100.2, forwards WAN
//! port 8080 to 192.0.2.10:8000, and loads a firewall from `--rules`
//! (forwarding policy drop; established flows, LAN to WAN, and the
//! forwarded service allowed). Checks:
//!
//! - `curl` in the LAN downloads 50 MiB from a Python `http.server` in
//!   the WAN, byte-exact (SHA-256 compared);
//! - the router's route to the LAN carries 1200 bytes (`--lan-mtu`), so
//!   that download finds its path MTU through the NAT: the WAN kernel
//!   holds a learned MTU of 1200 for 198.51.100.2 afterwards (RFC 1191;
//!   the router's "fragmentation needed" quoting the segment as the
//!   server sent it, RFC 5508 §7);
//! - the WAN server's log shows 198.51.100.2 as the client (source NAT,
//!   RFC 3022 §2.1);
//! - `ping` from the LAN to the WAN server works through the NAT (echo
//!   identifier translation, RFC 3022 §4.1);
//! - the WAN kernel's ICMP Port Unreachable about a LAN client's UDP
//!   datagram reaches the client's socket (the error translated, its
//!   quoted datagram too);
//! - the port forward lets the WAN reach a server in the LAN (through
//!   198.51.100.2:8080, the LAN server seeing the WAN client's own
//!   address);
//! - the firewall drops what it does not allow: the WAN cannot ping the
//!   LAN host directly even with a route to it.
//!
//! Needs root, `/dev/net/tun`, iproute2, `ping`, `curl`, `python3` and
//! `sha256sum`, and the example built in the same profile
//! (`scripts/router-interop.sh` does both); skipped with a message
//! otherwise. Run alone with
//! `cargo build --release -p lamina-socket --example tap-router &&
//! cargo test --release -p lamina-socket --test router_interop -- --nocapture`.
#![cfg(all(target_os = "linux", feature = "std"))]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use lamina_netbuf::{Rng, SeededRng};
use lamina_netdev::netns as shared_ns;

const BLOB_LEN: usize = 50 << 20;

fn ip(args: &[&str]) {
    shared_ns::ip(args).expect("ip");
}

/// A network namespace, deleted (with its TAP) when dropped.
struct Netns(shared_ns::Netns);

impl Netns {
    fn new(name: String) -> Netns {
        Netns(shared_ns::Netns::create(&name).expect("namespace"))
    }

    fn name(&self) -> &str {
        self.0.name()
    }

    fn command(&self, cmd: &[&str]) -> Command {
        let (program, args) = cmd.split_first().expect("a command");
        let mut c = self.0.command(program);
        c.args(args);
        c
    }

    /// Runs `cmd` inside the namespace: its status and output.
    fn try_run(&self, cmd: &[&str]) -> (bool, String) {
        let out = self
            .command(cmd)
            .stdin(Stdio::null())
            .output()
            .expect("spawn");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    /// Runs `cmd` inside the namespace; its output, or a panic.
    fn run(&self, cmd: &[&str]) -> String {
        let (ok, text) = self.try_run(cmd);
        assert!(ok, "{}: {text}", cmd.join(" "));
        text
    }
}

/// A child process killed and reaped when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn can_run() -> bool {
    let mut missing: Vec<String> = shared_ns::can_create().err().into_iter().collect();
    for (what, cmd, arg) in [
        ("ping", "ping", "-V"),
        ("curl", "curl", "--version"),
        ("python3", "python3", "--version"),
        ("sha256sum", "sha256sum", "--version"),
    ] {
        if !shared_ns::have(cmd, arg) {
            missing.push(what.into());
        }
    }
    if !missing.is_empty() {
        eprintln!(
            "SKIPPED: the router interop test needs {}",
            missing.join(", ")
        );
    }
    missing.is_empty()
}

/// The `tap-router` example of this build profile: beside the test
/// binary's `deps/` directory, or where `LAMINA_TAP_ROUTER` says.
fn router_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("LAMINA_TAP_ROUTER") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test binary path");
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let bin = profile.join("examples").join("tap-router");
    assert!(
        bin.exists(),
        "{} is missing: build it first with `cargo build [--release] -p lamina-socket \
         --example tap-router` (same profile as the test), or set LAMINA_TAP_ROUTER",
        bin.display()
    );
    bin
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Starts `python3 -m http.server` on `addr`:8000 inside `ns`, serving
/// `dir`, its log in `log`; waits until it answers.
fn http_server(ns: &Netns, addr: &str, dir: &Path, log: &Path) -> Proc {
    let log_file = std::fs::File::create(log).expect("create log");
    let child = ns
        .command(&["python3", "-m", "http.server", "8000", "--bind", addr])
        .arg("--directory")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .expect("start http.server");
    let server = Proc(child);
    let url = format!("http://{addr}:8000/");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ns
        .try_run(&["curl", "-s", "-o", "/dev/null", "-m", "1", &url])
        .0
    {
        assert!(
            Instant::now() < deadline,
            "http.server on {addr} did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

/// A connected UDP socket to a closed WAN port: `refused` when the ICMP
/// error reaches it.
const UDP_REFUSED: &str = "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect(('198.51.100.1', 9))
s.send(b'anyone?')
try:
    s.recv(100)
    print('answered')
except ConnectionRefusedError:
    print('refused')
except socket.timeout:
    print('timeout')
";

const FIREWALL: &str = "
table ip firewall {
    chain forward {
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        ct state invalid drop
        iif 0 oif 1 accept
        iif 1 oif 0 ip daddr 192.0.2.10 tcp dport 8000 ct state new accept
    }
}
";

#[test]
fn lamina_nat_router_forwards_between_linux_namespaces() {
    if !can_run() {
        return;
    }
    let router = router_binary();
    let started = Instant::now();
    let pid = std::process::id();
    let dir = TempDir(std::env::temp_dir().join(format!("lamina-router-{pid}")));
    let www = dir.0.join("www");
    let lan_www = dir.0.join("lan-www");
    std::fs::create_dir_all(&www).expect("temp dir");
    std::fs::create_dir_all(&lan_www).expect("temp dir");

    let lan = Netns::new(format!("lamina-rlan-{pid}"));
    let wan = Netns::new(format!("lamina-rwan-{pid}"));
    let lan_tap = format!("lmrl{}", pid % 100_000);
    let wan_tap = format!("lmrw{}", pid % 100_000);
    for (ns, tap, addr) in [
        (&lan, &lan_tap, "192.0.2.10/24"),
        (&wan, &wan_tap, "198.51.100.1/24"),
    ] {
        ip(&["-n", ns.name(), "tuntap", "add", "dev", tap, "mode", "tap"]);
        ip(&["-n", ns.name(), "addr", "add", addr, "dev", tap]);
        ip(&["-n", ns.name(), "link", "set", tap, "up"]);
    }
    ip(&[
        "-n",
        lan.name(),
        "route",
        "add",
        "default",
        "via",
        "192.0.2.1",
    ]);

    let rules = dir.0.join("firewall.nft");
    std::fs::write(&rules, FIREWALL).expect("write rules");
    let mut child = Command::new(&router)
        .args(["--lan", &lan_tap, "--lan-netns", lan.name()])
        .args(["--lan-addr", "192.0.2.1/24"])
        .args(["--wan", &wan_tap, "--wan-netns", wan.name()])
        .args(["--wan-addr", "198.51.100.2/24", "--masquerade"])
        .args(["--forward", "8080:192.0.2.10:8000", "--seed", "7"])
        .args(["--lan-mtu", "1200"])
        .arg("--rules")
        .arg(&rules)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start tap-router");
    let stdout = child.stdout.take().expect("router stdout");
    let _router = Proc(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let ready = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("tap-router printed nothing in 30 s");
    assert!(ready.starts_with("tap-router ready"), "{ready}");
    println!("router interop: {}", ready.trim());

    // 50 MiB from the WAN server to the LAN client, through the NAT.
    let blob = www.join("blob");
    {
        let mut rng = SeededRng::new(u64::from(pid));
        let mut data = vec![0u8; BLOB_LEN];
        rng.fill_bytes(&mut data);
        let mut f = std::fs::File::create(&blob).expect("create blob");
        f.write_all(&data).expect("write blob");
    }
    let wan_log = dir.0.join("wan-http.log");
    let _wan_server = http_server(&wan, "198.51.100.1", &www, &wan_log);
    let got = dir.0.join("got");
    let t = Instant::now();
    lan.run(&[
        "curl",
        "-sS",
        "-m",
        "60",
        "-o",
        got.to_str().expect("utf-8 path"),
        "http://198.51.100.1:8000/blob",
    ]);
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(
        std::fs::metadata(&got).map(|m| m.len()).unwrap_or(0),
        BLOB_LEN as u64
    );
    assert_eq!(sha256(&got), sha256(&blob), "download differs");
    println!(
        "router interop: curl downloaded 50 MiB through the NAT byte-exact in {secs:.2} s \
         ({:.0} Mbit/s)",
        BLOB_LEN as f64 * 8.0 / secs / 1e6
    );

    // Path MTU discovery through the NAT (RFC 1191, RFC 5508 §7): the
    // router's route to the LAN carries 1200 bytes, so the server's
    // full-sized segments drew "fragmentation needed" from the router,
    // translated so that the server's kernel matched it to its
    // connection: it now holds that path MTU for the router's address.
    let route = wan.run(&["ip", "route", "get", "198.51.100.2"]);
    assert!(route.contains("mtu 1200"), "no learned path MTU: {route}");
    println!(
        "router interop: path MTU learned through the NAT: {}",
        route.split_whitespace().collect::<Vec<_>>().join(" ")
    );

    // The WAN server saw the router's address.
    let log = std::fs::read_to_string(&wan_log).expect("server log");
    let get = log
        .lines()
        .find(|l| l.contains("GET /blob"))
        .unwrap_or_else(|| panic!("no GET /blob in the server log:\n{log}"));
    assert!(get.starts_with("198.51.100.2 "), "{get}");
    println!("router interop: WAN server log: {get}");

    // Ping through the NAT.
    let out = lan.run(&["ping", "-c", "5", "-i", "0.2", "-W", "2", "198.51.100.1"]);
    assert!(out.contains(" 0% packet loss"), "{out}");
    for l in out.lines().filter(|l| l.contains("packet loss")) {
        println!("router interop: ping LAN -> WAN: {l}");
    }

    // An ICMP error about a NATed flow comes back translated: the WAN
    // kernel's Port Unreachable quotes 198.51.100.2, the LAN kernel must
    // see its own datagram quoted to match it to the socket (RFC 3022
    // §4.3, RFC 5508 §7).
    let out = lan.run(&["python3", "-c", UDP_REFUSED]);
    assert_eq!(out.trim(), "refused", "{out}");
    println!("router interop: ICMP port unreachable from the WAN reached the LAN socket");

    // The port forward: WAN reaches the LAN server at 198.51.100.2:8080.
    std::fs::write(lan_www.join("hello"), "hello from the LAN\n").expect("write");
    let lan_log = dir.0.join("lan-http.log");
    let _lan_server = http_server(&lan, "192.0.2.10", &lan_www, &lan_log);
    let body = wan.run(&["curl", "-sS", "-m", "10", "http://198.51.100.2:8080/hello"]);
    assert_eq!(body, "hello from the LAN\n");
    let log = std::fs::read_to_string(&lan_log).expect("server log");
    let get = log
        .lines()
        .find(|l| l.contains("GET /hello"))
        .unwrap_or_else(|| panic!("no GET /hello in the LAN server log:\n{log}"));
    assert!(get.starts_with("198.51.100.1 "), "{get}");
    println!("router interop: port forward 198.51.100.2:8080 -> 192.0.2.10:8000: {get}");

    // The firewall: even with a route, the WAN cannot ping the LAN host.
    ip(&[
        "-n",
        wan.name(),
        "route",
        "add",
        "192.0.2.0/24",
        "via",
        "198.51.100.2",
    ]);
    let (ok, out) = wan.try_run(&["ping", "-c", "2", "-i", "0.2", "-W", "1", "192.0.2.10"]);
    assert!(!ok && out.contains("100% packet loss"), "{out}");
    println!("router interop: firewall drops WAN -> LAN ping (forward policy drop)");

    println!(
        "router interop: done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
