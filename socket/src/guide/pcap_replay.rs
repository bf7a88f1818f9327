//! Replaying a pcap corpus in your tests: real traffic through your code,
//! and tshark's decode of the same traffic to compare against.
//!
//! `lamina_netdev::pcap` has three tools:
//!
//! - [`CaptureReader`](lamina_netdev::pcap::CaptureReader): pcap (either
//!   byte order, micro- or nanosecond) and pcapng, frame by frame, from
//!   any [`ByteSource`](lamina_netdev::pcap::ByteSource) (a slice, an owned
//!   buffer; with `std` any `io::Read`). It is `no_std` and defensive:
//!   lengths are bounded (`MAX_FRAME_LEN`, `MAX_BLOCK_LEN`), and a damaged
//!   file ends in a typed [`Error`](lamina_netdev::Error), never a panic.
//! - [`PcapReplay`](lamina_netdev::pcap::PcapReplay): a capture as a
//!   `Device`. Its frames arrive in file order (all at once, or with the
//!   capture's spacing on your clock with `with_pacing`); what the stack
//!   sends back is kept for inspection with `record_transmits`.
//! - [`PcapWriter`](lamina_netdev::pcap::PcapWriter) (feature `std`):
//!   records both directions of any device to pcap or pcapng, with your
//!   clock's timestamps, so a simulated test leaves a file for Wireshark.
//!
//! # Example: a capture in, the stack's answers out
//!
//! A capture made on the spot (in a real test it comes from a file with
//! `PcapReplay::open`), replayed into a host that answers it:
//!
//! ```
//! use core::net::Ipv4Addr;
//! use lamina_arp::ArpRepr;
//! use lamina_ethernet::{EtherType, EthernetRepr, MacAddr};
//! use lamina_icmp::IcmpRepr;
//! use lamina_ipv4::{IpProtocol, Ipv4Repr};
//! use lamina_netbuf::{serialize::EmptyBody, Instant, SeededRng, Serializer};
//! use lamina_netdev::pcap::{PcapFormat, PcapReplay, PcapWriter};
//! use lamina_netdev::{Device, Loopback, TxToken};
//! use lamina_socket::dissect::{dissect, LinkType};
//! use lamina_socket::{Interface, InterfaceConfig, SocketSet};
//!
//! let (peer_mac, peer_ip) = (MacAddr::new(2, 0, 0, 0, 0, 10), Ipv4Addr::new(192, 0, 2, 10));
//! let (our_mac, our_ip) = (MacAddr::new(2, 0, 0, 0, 0, 1), Ipv4Addr::new(192, 0, 2, 1));
//!
//! // Record two frames a peer sends: who-has, then a ping.
//! let arp = ArpRepr::request(peer_mac, peer_ip, our_ip);
//! let (echo, ip) = (IcmpRepr::EchoRequest { ident: 7, seq_no: 1 }, Ipv4Repr::new(peer_ip, our_ip, IpProtocol::ICMP));
//! let frames = [
//!     EmptyBody.wrap_in(arp).wrap_in(arp.ethernet_repr()).serialize_vec(0)?,
//!     b"ping!".wrap_in(&echo).wrap_in(&ip)
//!         .wrap_in(EthernetRepr::new(peer_mac, our_mac, EtherType::IPV4)).serialize_vec(0)?,
//! ];
//! let mut rec = PcapWriter::new(Loopback::default(), Vec::new(), PcapFormat::PcapNg)?;
//! for (i, f) in frames.iter().enumerate() {
//!     let t = rec.transmit(Instant::from_millis(i as u64)).unwrap();
//!     t.consume(f.len(), |buf| buf.copy_from_slice(f.as_slice()))?;
//! }
//! let (_, capture) = rec.into_parts(); // a pcapng file, in memory
//!
//! // Replay it into a host that owns 192.0.2.1, keeping what it sends.
//! let mut replay = PcapReplay::from_bytes(capture)?;
//! replay.record_transmits(16);
//! let mut rng = SeededRng::new(1);
//! let mut iface = Interface::new(InterfaceConfig::default(), &mut rng);
//! let id = iface.add_device(&replay, our_mac)?;
//! iface.add_address(id, "192.0.2.1/24".parse()?, Instant::ZERO)?;
//! let mut sockets = SocketSet::new(4, &mut rng);
//! iface.poll(Instant::from_millis(5), &mut replay, &mut sockets);
//! assert!(replay.is_finished() && replay.error().is_none());
//!
//! // Its answers, decoded by the dissector (the `decode` example's engine).
//! let answers: Vec<_> = replay.transmitted().iter()
//!     .map(|f| dissect(LinkType::Ethernet, f, f.len()))
//!     .filter(|d| d.eth.as_ref().is_some_and(|e| e.dst == peer_mac))
//!     .collect();
//! assert!(answers.iter().any(|d| d.arp.is_some()));
//! assert!(answers.iter().any(|d| d.icmp.as_ref().is_some_and(|i| i.msg_type == 0)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # A corpus of real captures, compared with tshark
//!
//! With the `testutils` feature (`lamina-netdev = { version = "0.1",
//! features = ["testutils"] }` under `[dev-dependencies]`),
//! `lamina_netdev::pcap::corpus` finds a folder of captures,
//! each `FILE` with tshark's decode beside it in `FILE.tsv` (a header row
//! of field names, one row per frame). The folder is `LAMINA_PCAP_DIR`, or
//! `../shared/pcaps` beside the Lamina workspace; when it does not exist,
//! `corpus::dir()` prints a `SKIPPED`
//! line and returns `None`, so the test passes loudly instead of failing
//! on a machine without the corpus. Never copy third-party captures into
//! your repository; point the variable at them.
//!
//! Make a decode for your own captures with
//! `tshark -n -r FILE -T fields -E header=y -E separator=/t -e frame.number
//! -e ip.src -e ip.dst ... > FILE.tsv` (any fields; the test asks for them
//! by name).
//!
//! ```
//! use lamina_ipv4::Ipv4Packet;
//! use lamina_netdev::pcap::corpus;
//!
//! let Some(dir) = corpus::dir() else { return Ok(()) }; // skipped, loudly
//! let mut compared = 0;
//! for path in corpus::captures(&dir)?.iter().take(20) {
//!     let capture = corpus::Capture::load(path)?;
//!     let decode = corpus::Decode::load_beside(path)?;
//!     for (frame, row) in capture.frames.iter().zip(decode.rows()) {
//!         // The datagram located by hand, parsed by the code under test.
//!         let Some(datagram) = frame.ipv4() else { continue };
//!         let Ok(ip) = Ipv4Packet::parse_truncated(datagram.header) else { continue };
//!         if let Some(src) = row.first("ip.src") {
//!             assert_eq!(ip.src().to_string(), src, "{} frame {}", capture.name(), compared);
//!             compared += 1;
//!         }
//!     }
//! }
//! println!("{compared} source addresses agree with tshark");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Lamina's own corpus tests follow this shape: `socket/tests/pcap_corpus.rs`
//! compares every field the dissector and tshark both decode, and asks that
//! malformed frames give an error, never a panic.
