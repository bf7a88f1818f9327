//! Throwaway Linux network namespaces for tests against the kernel's own
//! TCP/IP (feature `testutils`, Linux): the interop tests of every crate
//! create their namespaces, TAP devices and addresses with it, and it
//! deletes them when dropped, panic or not.
//!
//! Everything goes through `ip(8)`; nothing here needs `unsafe`.
//!
//! ```no_run
//! use lamina_netdev::netns::Netns;
//!
//! let ns = Netns::create("lamina-doc")?;
//! ns.sh("ip tuntap add mode tap name lt0 && ip addr add 192.0.2.1/24 dev lt0")?;
//! let out = ns.sh("ip -br addr show lt0")?;
//! assert!(out.contains("192.0.2.1/24"));
//! # Ok::<(), std::io::Error>(())
//! ```

use std::format;
use std::io::{self, Write};
use std::process::{Command, Output, Stdio};
use std::string::{String, ToString};
use std::vec::Vec;

/// Runs `ip ARGS`; an error carrying its stderr when it fails.
pub fn ip(args: &[&str]) -> io::Result<()> {
    let out = Command::new("ip").args(args).output()?;
    checked(out, &format!("ip {}", args.join(" "))).map(|_| ())
}

/// The output of a finished command, or an error with what it printed.
fn checked(out: Output, what: &str) -> io::Result<String> {
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(io::Error::other(format!(
            "{what}: {}{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

/// Whether `program ARG` runs at all (to check that a tool is installed).
pub fn have(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Whether this process can create namespaces and TAP devices: root and
/// `/dev/net/tun`, with `ip` installed. The reason when not.
pub fn can_create() -> Result<(), String> {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if uid.as_deref() != Some("0") {
        return Err("not root".into());
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Err("no /dev/net/tun".into());
    }
    if !have("ip", "-V") {
        return Err("no iproute2".into());
    }
    Ok(())
}

/// A network namespace, deleted (with every device in it) when dropped.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates namespace `name` (deleting a stale one of that name
    /// first) with its loopback device up.
    pub fn create(name: &str) -> io::Result<Netns> {
        let _ = Command::new("ip")
            .args(["netns", "del", name])
            .stderr(Stdio::null())
            .status();
        ip(&["netns", "add", name])?;
        let ns = Netns {
            name: name.to_string(),
        };
        ip(&["-n", name, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A command that runs `program` inside the namespace (add arguments,
    /// then spawn or run it).
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Runs `args` inside the namespace, with `stdin` fed in if given; its
    /// stdout, or an error with its output.
    pub fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> io::Result<String> {
        let (program, rest) = args
            .split_first()
            .ok_or_else(|| io::Error::other("no command"))?;
        let mut child = self
            .command(program)
            .args(rest)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        // Dropping stdin (fed or not) closes it, so the command sees EOF.
        if let (Some(mut i), Some(input)) = (child.stdin.take(), stdin) {
            i.write_all(input)?;
        }
        checked(child.wait_with_output()?, &args.join(" "))
    }

    /// Runs a bash script inside the namespace (with `set -eo pipefail`);
    /// its stdout, or an error with its output.
    pub fn sh(&self, script: &str) -> io::Result<String> {
        let script = format!("set -eo pipefail; {script}");
        self.run(&["bash", "-c", &script], None)
    }

    /// Runs `ip ARGS` against the namespace (`ip -n NAME ARGS`).
    pub fn ip(&self, args: &[&str]) -> io::Result<()> {
        let mut all: Vec<&str> = std::vec!["-n", &self.name];
        all.extend_from_slice(args);
        ip(&all)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}
