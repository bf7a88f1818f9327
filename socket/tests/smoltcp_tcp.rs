//! Interoperability with another TCP: smoltcp's, in process, over an
//! in-memory wire with a fake clock. Our client against smoltcp's server
//! and smoltcp's client against ours, 16 MiB each way, byte for byte,
//! over a clean link and over one that loses 5% of frames and reorders
//! others. And seeded random mixes (`random_option_mixes_interoperate_
//! with_smoltcp`): either side the client, our TCP options and smoltcp's
//! drawn at random, on links of random MTU, latency and faults, one mix
//! in three with a slow reader on one end or both (small reads at
//! intervals: windows that fill and close); and the same with one end
//! aborting mid-transfer.

use core::net::{Ipv4Addr, SocketAddrV4};

use lamina_ethernet::MacAddr;
use lamina_netbuf::{Duration, Instant, SeededRng};
use lamina_netdev::{Device, FaultConfig, FaultInjector, LinkConfig, Port, wire};
use lamina_socket::{Error, Interface, InterfaceConfig, SocketHandle, SocketSet, TcpSocket};
use smoltcp::iface::{Config, Interface as SInterface, SocketHandle as SHandle, SocketSet as SSet};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::Instant as SInstant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};

const OURS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const SMOL: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const SIZE: usize = 16 << 20;

/// Any Lamina device as a smoltcp device, on the same fake clock.
struct SmolDev<D: Device> {
    dev: D,
    now: Instant,
}

struct Rx(Vec<u8>);
struct Tx<'a, D: Device + 'a>(D::TxToken<'a>);

impl phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl<'a, D: Device> phy::TxToken for Tx<'a, D> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut f = Some(f);
        let mut out = None;
        let _ = lamina_netdev::TxToken::consume(self.0, len, |buf| {
            out = f.take().map(|f| f(buf));
        });
        match (out, f) {
            (Some(out), _) => out,
            // The device refused the frame: build it anyway, and lose it
            // (as a full queue on a real link would).
            (None, Some(f)) => f(&mut vec![0u8; len]),
            (None, None) => unreachable!("the closure runs at most once"),
        }
    }
}

impl<D: Device> phy::Device for SmolDev<D> {
    type RxToken<'a>
        = Rx
    where
        Self: 'a;
    type TxToken<'a>
        = Tx<'a, D>
    where
        Self: 'a;

    fn receive(&mut self, _t: SInstant) -> Option<(Rx, Tx<'_, D>)> {
        let now = self.now;
        let (rx, _) = self.dev.receive(now)?;
        let frame = lamina_netdev::RxToken::consume(rx, |b| b.to_vec());
        let tx = self.dev.transmit(now)?;
        Some((Rx(frame), Tx(tx)))
    }

    fn transmit(&mut self, _t: SInstant) -> Option<Tx<'_, D>> {
        let now = self.now;
        self.dev.transmit(now).map(Tx)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = self.dev.capabilities().max_frame_len();
        caps
    }
}

struct Smol<D: Device> {
    iface: SInterface,
    dev: SmolDev<D>,
    sockets: SSet<'static>,
    tcp: SHandle,
}

impl<D: Device> Smol<D> {
    fn new(dev: D) -> Smol<D> {
        Smol::with_buffers(dev, 256 * 1024, 256 * 1024)
    }

    fn with_buffers(dev: D, send: usize, recv: usize) -> Smol<D> {
        let mut dev = SmolDev {
            dev,
            now: Instant::ZERO,
        };
        let config = Config::new(HardwareAddress::Ethernet(EthernetAddress([
            2, 0, 0, 0, 0, 2,
        ])));
        let mut iface = SInterface::new(config, &mut dev, SInstant::ZERO);
        iface.update_ip_addrs(|a| {
            a.push(IpCidr::new(IpAddress::Ipv4(SMOL), 24)).unwrap();
        });
        let socket = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; recv]),
            tcp::SocketBuffer::new(vec![0; send]),
        );
        let mut sockets = SSet::new(vec![]);
        let tcp = sockets.add(socket);
        Smol {
            iface,
            dev,
            sockets,
            tcp,
        }
    }

    fn poll(&mut self, now: Instant) -> bool {
        self.dev.now = now;
        CLOCK_MS.with(|c| c.set(now.total_millis() as u32));
        let t = SInstant::from_micros(now.total_micros() as i64);
        self.iface.poll(t, &mut self.dev, &mut self.sockets) != smoltcp::iface::PollResult::None
    }

    fn poll_at(&mut self, now: Instant) -> Option<Instant> {
        let t = SInstant::from_micros(now.total_micros() as i64);
        // The stack's next timer and the device's (frames it holds back,
        // released when the stack next polls it), whichever is first.
        let at = self
            .iface
            .poll_at(t, &self.sockets)
            .map(|at| Instant::from_micros(at.total_micros().max(0) as u64));
        [at, self.dev.dev.poll_at()].into_iter().flatten().min()
    }

    fn socket(&mut self) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket<'static>>(self.tcp)
    }
}

std::thread_local! {
    /// The fake clock in milliseconds, for smoltcp's timestamp generator
    /// (a plain `fn`), per test thread.
    static CLOCK_MS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// smoltcp's TSval: the fake clock.
fn smol_tsval() -> u32 {
    CLOCK_MS.with(|c| c.get())
}

struct Ours<D: Device> {
    iface: Interface,
    dev: D,
    sockets: SocketSet,
}

impl<D: Device> Ours<D> {
    fn new(dev: D) -> Ours<D> {
        let mut rng = SeededRng::new(1);
        let mut iface = Interface::new(InterfaceConfig::default(), &mut rng);
        let id = iface
            .add_device(&dev, MacAddr::new(2, 0, 0, 0, 0, 1))
            .unwrap();
        iface
            .add_address(id, "192.0.2.1/24".parse().unwrap(), Instant::ZERO)
            .unwrap();
        Ours {
            iface,
            dev,
            sockets: SocketSet::new(8, &mut rng),
        }
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    let mut rng = SeededRng::new(u64::from(seed));
    let mut v = vec![0u8; len];
    lamina_netbuf::Rng::fill_bytes(&mut rng, &mut v);
    v
}

/// Writes what smoltcp's socket `s` takes of `out` past `sent`, and
/// reads all it has into `got` (through `buf`); whether it did either.
fn smol_pump(
    s: &mut tcp::Socket<'static>,
    out: &[u8],
    sent: &mut usize,
    got: &mut Vec<u8>,
    buf: &mut [u8],
) -> bool {
    let wrote = smol_send(s, out, sent);
    smol_recv(s, got, buf, usize::MAX) || wrote
}

/// Writes what smoltcp's socket `s` takes of `out` past `sent`; whether
/// it took any.
fn smol_send(s: &mut tcp::Socket<'static>, out: &[u8], sent: &mut usize) -> bool {
    let mut progress = false;
    while *sent < out.len() && s.can_send() {
        let n = s.send_slice(&out[*sent..]).unwrap();
        if n == 0 {
            break;
        }
        *sent += n;
        progress = true;
    }
    progress
}

/// Reads up to `limit` bytes from smoltcp's socket `s` into `got`
/// (through `buf`); whether it read any.
fn smol_recv(
    s: &mut tcp::Socket<'static>,
    got: &mut Vec<u8>,
    buf: &mut [u8],
    limit: usize,
) -> bool {
    let mut left = limit;
    while left > 0 && s.can_recv() {
        let chunk = buf.len().min(left);
        let n = s.recv_slice(&mut buf[..chunk]).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        left -= n;
    }
    left < limit
}

/// How an application reads: everything there is, whenever it looks
/// (`Reader::EAGER`), or at most `chunk` bytes at a time, one read every
/// `every` at most — a slow consumer whose receive window fills and
/// closes, so that both TCPs' zero-window probes, window updates and
/// silly-window avoidance come into play.
#[derive(Clone, Copy, Debug)]
struct Reader {
    chunk: usize,
    every: Duration,
    next: Instant,
}

impl Reader {
    const EAGER: Reader = Reader {
        chunk: usize::MAX,
        every: Duration::ZERO,
        next: Instant::ZERO,
    };

    /// Bytes it takes at `now`: 0 until its next read is due.
    fn allowance(&self, now: Instant) -> usize {
        if now < self.next { 0 } else { self.chunk }
    }

    /// After a read at `now` that took something.
    fn read_at(&mut self, now: Instant) {
        self.next = now + self.every;
    }

    /// When it reads next, if it is waiting and still expects bytes.
    fn wakes(&self, now: Instant, done: bool) -> Option<Instant> {
        (!done && self.next > now).then_some(self.next)
    }
}

/// The next instant for both stacks: the earliest timer of either (its
/// device's included), or a millisecond on.
fn next_instant<D1: Device, D2: Device>(
    ours: &mut Ours<D1>,
    smol: &mut Smol<D2>,
    now: Instant,
) -> Instant {
    let a = ours.iface.poll_at(&mut ours.dev, &ours.sockets);
    let b = smol.poll_at(now);
    match [a, b].into_iter().flatten().min() {
        Some(t) if t > now => t,
        _ => now + Duration::from_millis(1),
    }
}

/// Our TCP socket `h` and smoltcp's exchange `up` (ours → smoltcp) and
/// `down` at the same time, then both close; returns what each side
/// received.
fn exchange<D1: Device, D2: Device>(
    ours: &mut Ours<D1>,
    smol: &mut Smol<D2>,
    h: SocketHandle,
    start: Instant,
    up: &[u8],
    down: &[u8],
) -> (Vec<u8>, Vec<u8>) {
    exchange_paced(ours, smol, h, start, (up, down), [Reader::EAGER; 2], "")
        .unwrap_or_else(|stuck| panic!("{stuck:?}"))
}

/// An exchange that smoltcp left unfinished, one of two ways (`why`):
///
/// - It holds data or a FIN it has not delivered, our window is open (and
///   smoltcp knows it), and no timer of its runs; or the same with our
///   side done (in TIME-WAIT, or closed after it: we took all its data
///   and its FIN and acknowledged them, in ACKs that were lost), whatever
///   smoltcp thinks of our window (with a zero window it must probe,
///   RFC 9293 §3.8.6.1, and it runs no persist timer either; seed
///   616,352: 1,056 bytes and its FIN outstanding in CLOSING, our
///   window taken for zero after a slow reader, our window updates
///   resent seven times and lost). Its retransmission
///   timer went idle: an RTO that fired while our window was zero
///   (smoltcp 0.14 then idles it, and Nagle holds back new data until
///   the lost data is acknowledged), or duplicate ACKs — our window
///   updates sent again count as such — that armed a fast retransmit
///   with nothing left in its buffer but the FIN (in CLOSING; the FIN is
///   never sent again). RFC 6298 §5 keeps the timer running while
///   anything is outstanding; Linux's receiver would wait alike.
/// - It closed with data still queued, which puts smoltcp 0.14 in
///   LAST-ACK at once (RFC 9293 §3.10.4 sends the FIN, and enters
///   LAST-ACK, only after the data), and it takes our window for zero:
///   in LAST-ACK it answers every ACK that acknowledges nothing new with
///   a challenge ACK and ignores its window, so behind a zero-window
///   probe that landed past a lost segment (our ACKs cannot move) no
///   window update of ours reaches it, while it probes on. (With a slow
///   reader the harness keeps smoltcp from closing before its data has
///   gone, see [`exchange_paced`]; a small receive buffer of ours fills
///   and empties within a poll, and may close the window too.)
///
/// What each side received so far.
#[derive(Debug)]
struct SmoltcpStuck {
    why: &'static str,
    got_ours: usize,
    got_smol: usize,
    prefixes: (Vec<u8>, Vec<u8>),
}

/// Whether (and why) smoltcp stopped as [`SmoltcpStuck`] says: it holds
/// data or a FIN, no timer of its runs, and our receive buffer has room
/// (and smoltcp knows it) or our side is done; or it is in LAST-ACK with data queued, our buffer
/// has room, and it takes our window for zero. (Elsewhere, where smoltcp
/// still takes our window for zero, its stall is the one our window
/// updates sent again must prevent: not excused. Its fields are
/// private; its `Debug` shows them.)
fn smoltcp_stuck<D1: Device, D2: Device>(
    ours: &mut Ours<D1>,
    smol: &mut Smol<D2>,
    h: SocketHandle,
    now: Instant,
) -> Option<&'static str> {
    let our_window_open = ours
        .sockets
        .tcp(h)
        .unwrap()
        .connection()
        .is_some_and(|c| c.recv_queue() < c.config().recv_buffer);
    let ours_done = matches!(
        ours.sockets.tcp(h).unwrap().state(),
        lamina_socket::tcp_proto::State::TimeWait | lamina_socket::tcp_proto::State::Closed
    );
    let s = smol.socket();
    let holds = s.send_queue() > 0
        || matches!(
            s.state(),
            tcp::State::FinWait1 | tcp::State::Closing | tcp::State::LastAck
        );
    let sees_window = !format!("{s:?}").contains("remote_win_len: 0,");
    let deaf = s.state() == tcp::State::LastAck && s.send_queue() > 0 && !sees_window;
    if holds && sees_window && our_window_open && smol.poll_at(now).is_none() {
        Some("stopped with data or its FIN outstanding and no timer, our window open")
    } else if holds && ours_done && smol.poll_at(now).is_none() {
        Some("stopped with data or its FIN outstanding and no timer, our side done")
    } else if deaf && our_window_open {
        Some("in LAST-ACK with data queued, deaf to our window updates")
    } else {
        None
    }
}

/// [`exchange`] with each application reading as its [`Reader`] says
/// (ours first, then smoltcp's); `Err` where smoltcp stopped as
/// [`SmoltcpStuck`] says.
fn exchange_paced<D1: Device, D2: Device>(
    ours: &mut Ours<D1>,
    smol: &mut Smol<D2>,
    h: SocketHandle,
    start: Instant,
    (up, down): (&[u8], &[u8]),
    [mut our_reader, mut smol_reader]: [Reader; 2],
    label: &str,
) -> Result<(Vec<u8>, Vec<u8>), SmoltcpStuck> {
    let paced = [our_reader, smol_reader]
        .iter()
        .filter(|r| r.chunk != usize::MAX)
        .count();
    // The clock goes on from the handshake's (never back: timestamps
    // would go back with it, and PAWS rightly drop what carries them).
    let mut now = start;
    let (mut up_sent, mut down_sent) = (0, 0);
    let (mut got_ours, mut got_smol) = (Vec::new(), Vec::new());
    let mut buf = vec![0u8; 65536];
    let (mut closed_ours, mut closed_smol) = (false, false);
    let end = start + Duration::from_secs(3600);
    loop {
        let mut progress = ours.iface.poll(now, &mut ours.dev, &mut ours.sockets);
        progress |= smol.poll(now);
        // Ours.
        let t = ours.sockets.tcp(h).unwrap();
        while up_sent < up.len() {
            match t.send(&up[up_sent..]) {
                Ok(n) => {
                    up_sent += n;
                    progress = true;
                }
                Err(Error::WouldBlock) => break,
                Err(e) => panic!("our send: {e} ({:?})", t.state()),
            }
        }
        if up_sent == up.len() && !closed_ours && t.is_established() {
            // Half-close: we keep reading what smoltcp still sends.
            t.shutdown(lamina_socket::Shutdown::Write).unwrap();
            closed_ours = true;
        }
        let mut left = our_reader.allowance(now);
        while left > 0 {
            let chunk = buf.len().min(left);
            match t.recv(&mut buf[..chunk]) {
                Ok(0) => break,
                Ok(n) => {
                    got_ours.extend_from_slice(&buf[..n]);
                    left -= n;
                    progress = true;
                }
                Err(Error::WouldBlock) => break,
                Err(e) => panic!("our recv: {e}"),
            }
        }
        if left < our_reader.allowance(now) {
            our_reader.read_at(now);
        }
        // smoltcp's.
        let s = smol.socket();
        progress |= smol_send(s, down, &mut down_sent);
        // smoltcp 0.14 drops what its application has not read when its
        // TIME-WAIT ends (the socket resets, its receive buffer cleared):
        // a slow reader hurries once the peer's FIN put it there.
        let allowance = if s.state() == tcp::State::TimeWait {
            usize::MAX
        } else {
            smol_reader.allowance(now)
        };
        if smol_recv(s, &mut got_smol, &mut buf, allowance) {
            smol_reader.read_at(now);
            progress = true;
        }
        // With a slow reader on either end, smoltcp's application closes
        // only once its send buffer has drained. smoltcp 0.14 enters
        // LAST-ACK at `close()` with data still queued, and there answers
        // every ACK that acknowledges nothing new with a challenge ACK
        // without taking its window: behind a zero window whose probe
        // landed past a lost segment it would wait for ever, whatever
        // window updates we send (seed 819 of this axis, before the rule).
        let drained = paced == 0 || s.send_queue() == 0;
        if down_sent == down.len() && !closed_smol && s.may_send() && drained {
            s.close();
            closed_smol = true;
        }
        if got_ours.len() == down.len()
            && got_smol.len() == up.len()
            && closed_ours
            && closed_smol
            && !s.is_active()
        {
            return Ok((got_ours, got_smol));
        }
        if !progress {
            // On to the next timer, or sooner to a reader that waits.
            let readers = [
                our_reader.wakes(now, got_ours.len() == down.len()),
                smol_reader.wakes(now, got_smol.len() == up.len()),
            ];
            now = readers
                .into_iter()
                .flatten()
                .fold(next_instant(ours, smol, now), Instant::min);
            if now >= end
                && let Some(why) = smoltcp_stuck(ours, smol, h, now)
            {
                return Err(SmoltcpStuck {
                    why,
                    got_ours: got_ours.len(),
                    got_smol: got_smol.len(),
                    prefixes: (got_ours, got_smol),
                });
            }
            assert!(
                now < end,
                "{label}stalled: ours {:?} ({:?}, {:?}) sent {up_sent} got {}, smoltcp {:?} sent {down_sent} got {}",
                ours.sockets.tcp(h).unwrap().state(),
                ours.sockets
                    .tcp(h)
                    .unwrap()
                    .connection()
                    .and_then(|c| c.error()),
                ours.sockets
                    .tcp(h)
                    .unwrap()
                    .connection()
                    .map(|c| *c.stats()),
                got_ours.len(),
                smol.socket().state(),
                got_smol.len()
            );
        }
    }
}

fn links(lossy: bool) -> (FaultInjector<Port>, FaultInjector<Port>) {
    let faults = if lossy {
        FaultConfig::new().with_loss(0.05).with_reorder(0.02, 3)
    } else {
        FaultConfig::new()
    };
    let (a, b) = wire(
        LinkConfig::new()
            .with_latency(Duration::from_micros(500))
            .with_queue_len(512),
    );
    (
        FaultInjector::new(a, 1).with_tx(faults),
        FaultInjector::new(b, 2).with_tx(faults),
    )
}

/// On the lossy link, frames were really lost both ways and we really
/// retransmitted.
fn check_faults(ours: &Ours<FaultInjector<Port>>, smol: &Smol<FaultInjector<Port>>, lossy: bool) {
    let (a, b) = (ours.dev.fault_stats().tx, smol.dev.dev.fault_stats().tx);
    if lossy {
        assert!(a.dropped > 100 && b.dropped > 100, "{a:?} {b:?}");
    } else {
        assert_eq!(a.dropped + b.dropped, 0);
    }
}

fn our_client_against_smoltcp_server(lossy: bool) {
    let (a, b) = links(lossy);
    let (mut ours, mut smol) = (Ours::new(a), Smol::new(b));
    smol.socket().listen(80).unwrap();
    let h = ours.sockets.add(TcpSocket::default()).unwrap();
    ours.sockets
        .connect_tcp(h, SocketAddrV4::new(SMOL, 80), None)
        .unwrap();
    let (up, down) = (pattern(SIZE, 1), pattern(SIZE, 2));
    let (got_ours, got_smol) = exchange(&mut ours, &mut smol, h, Instant::ZERO, &up, &down);
    assert!(got_smol == up, "smoltcp received other bytes than we sent");
    assert!(
        got_ours == down,
        "we received other bytes than smoltcp sent"
    );
    check_faults(&ours, &smol, lossy);
}

/// smoltcp's socket connects to port 80, where `listener` listens on our
/// side; our accepted connection, the clock moved on to the instant.
fn smoltcp_connects<D1: Device, D2: Device>(
    ours: &mut Ours<D1>,
    smol: &mut Smol<D2>,
    listener: TcpSocket,
    now: &mut Instant,
) -> SocketHandle {
    let l = ours.sockets.add(listener).unwrap();
    ours.sockets
        .listen_tcp(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 4)
        .unwrap();
    let cx = smol.iface.context();
    smol.sockets
        .get_mut::<tcp::Socket<'static>>(smol.tcp)
        .connect(cx, (IpAddress::Ipv4(OURS), 80), 49_152)
        .unwrap();
    let start = *now;
    loop {
        ours.iface.poll(*now, &mut ours.dev, &mut ours.sockets);
        smol.poll(*now);
        if let Ok(h) = ours.sockets.accept_tcp(l) {
            return h;
        }
        *now += Duration::from_millis(1);
        assert!(*now < start + Duration::from_secs(600), "no connection");
    }
}

fn smoltcp_client_against_our_server(lossy: bool) {
    let (a, b) = links(lossy);
    let (mut ours, mut smol) = (Ours::new(a), Smol::new(b));
    let mut now = Instant::ZERO;
    let h = smoltcp_connects(&mut ours, &mut smol, TcpSocket::default(), &mut now);
    let (up, down) = (pattern(SIZE, 3), pattern(SIZE, 4));
    let (got_ours, got_smol) = exchange(&mut ours, &mut smol, h, now, &up, &down);
    assert!(got_smol == up, "smoltcp received other bytes than we sent");
    assert!(
        got_ours == down,
        "we received other bytes than smoltcp sent"
    );
    check_faults(&ours, &smol, lossy);
}

#[test]
fn our_client_exchanges_16_mib_each_way_with_a_smoltcp_server() {
    our_client_against_smoltcp_server(false);
}

#[test]
fn a_smoltcp_client_exchanges_16_mib_each_way_with_our_server() {
    smoltcp_client_against_our_server(false);
}

#[test]
fn our_client_and_a_smoltcp_server_survive_5_percent_loss_and_reordering() {
    our_client_against_smoltcp_server(true);
}

#[test]
fn a_smoltcp_client_and_our_server_survive_5_percent_loss_and_reordering() {
    smoltcp_client_against_our_server(true);
}

/// The seeds to run: `LAMINA_SMOLTCP_SEEDS=N` (0..N) or `A..B`, else
/// `default` of them.
fn seeds(default: u64) -> core::ops::Range<u64> {
    let Ok(v) = std::env::var("LAMINA_SMOLTCP_SEEDS") else {
        return 0..default;
    };
    match v.split_once("..") {
        Some((a, b)) => a.parse().unwrap()..b.parse().unwrap(),
        None => 0..v.parse().unwrap(),
    }
}

/// One random mix: who connects, both stacks' options, the link, the
/// amounts each way (each may be nothing).
fn random_mix(seed: u64, abort: bool) {
    use lamina_netbuf::Rng;
    use lamina_socket::tcp_proto::{CcAlgorithm, ConnError, TcpConfig};
    let mut rng = SeededRng::new(seed ^ 0x5e01c);
    let ctx = |m: &str| format!("seed {seed}: {m}");
    // The link: MTU 576 to 1500, up to 2 ms one way, and in two runs of
    // three faults both ways (loss up to 5%, reordering, duplication,
    // corruption in half of those).
    let mtu = if rng.below(2) == 0 {
        1500
    } else {
        576 + rng.below(925) as usize
    };
    let latency = Duration::from_micros(u64::from(rng.below(2_000)));
    let faulty = rng.below(3) != 0;
    let pct = |rng: &mut SeededRng, max: u32| f64::from(rng.below(max + 1)) / 1000.0;
    let faults = if faulty {
        let corrupt = rng.below(2) == 0;
        FaultConfig::new()
            .with_loss(pct(&mut rng, 50))
            .with_reorder(pct(&mut rng, 30), 1 + rng.below(3))
            .with_duplicate(pct(&mut rng, 10))
            .with_corrupt(if corrupt { pct(&mut rng, 10) } else { 0.0 })
    } else {
        FaultConfig::new()
    };
    let (a, b) = wire(
        LinkConfig::new()
            .with_mtu(mtu)
            .with_latency(latency)
            .with_queue_len(64 << rng.below(4)),
    );
    let (a, b) = (
        FaultInjector::new(a, seed ^ 1).with_tx(faults),
        FaultInjector::new(b, seed ^ 2).with_tx(faults),
    );
    // Our options: any combination.
    let size = |rng: &mut SeededRng| 1024usize << rng.below(11);
    let off = |rng: &mut SeededRng| rng.below(3) == 0;
    let config = TcpConfig {
        send_buffer: size(&mut rng),
        recv_buffer: size(&mut rng),
        nodelay: rng.below(2) == 0,
        sack: !off(&mut rng),
        timestamps: !off(&mut rng),
        window_scale: !off(&mut rng),
        cc: if off(&mut rng) {
            CcAlgorithm::NewReno
        } else {
            CcAlgorithm::Cubic
        },
        mss: if off(&mut rng) {
            536 + rng.below(925) as u16
        } else {
            TcpConfig::default().mss
        },
        delayed_ack: match rng.below(3) {
            0 => Duration::ZERO,
            1 => Duration::from_millis(200),
            _ => TcpConfig::default().delayed_ack,
        },
        ..TcpConfig::default()
    };
    // With aborts, keepalive on both ends: the one reset may be lost,
    // and an idle end learns of it only by probing (Linux alike).
    let mut config = config;
    if abort {
        config.keepalive = Some(lamina_socket::tcp_proto::Keepalive {
            idle: Duration::from_secs(20),
            interval: Duration::from_secs(2),
            count: 5,
        });
    }
    // smoltcp's: buffers (window scaling only past 64 KiB), Nagle, ACK
    // delay, timestamps.
    let (smol_send, smol_recv) = (size(&mut rng), size(&mut rng));
    let mut smol = Smol::with_buffers(b, smol_send, smol_recv);
    let s = smol.socket();
    s.set_nagle_enabled(rng.below(2) == 0);
    s.set_ack_delay(match rng.below(3) {
        0 => None,
        1 => Some(smoltcp::time::Duration::from_millis(1)),
        _ => Some(smoltcp::time::Duration::from_millis(10)),
    });
    if rng.below(2) == 0 {
        s.set_tsval_generator(Some(smol_tsval));
    }
    if abort {
        s.set_keep_alive(Some(smoltcp::time::Duration::from_secs(20)));
    }
    let amount = |rng: &mut SeededRng| match rng.below(4) {
        0 => 0,
        1 => rng.below(5_000) as usize,
        _ => rng.below(1 << 20) as usize,
    };
    let (up, down) = (
        pattern(amount(&mut rng), seed as u8),
        pattern(amount(&mut rng), !(seed as u8)),
    );
    let mut ours = Ours::new(a);
    let we_connect = rng.below(2) == 0;
    let mut now = Instant::ZERO;
    let h = if we_connect {
        // A connect that fails (every ARP request or SYN lost: host
        // unreachable, timed out) is tried again on a new socket, with
        // smoltcp's socket listening afresh, as applications do.
        let mut tries = 0;
        'connect: loop {
            tries += 1;
            assert!(tries <= 10, "{}", ctx("no connection in ten tries"));
            let s = smol.socket();
            s.abort();
            s.listen(80).unwrap();
            let h = ours.sockets.add(TcpSocket::new(config.clone())).unwrap();
            ours.sockets
                .connect_tcp(h, SocketAddrV4::new(SMOL, 80), None)
                .unwrap();
            loop {
                ours.iface.poll(now, &mut ours.dev, &mut ours.sockets);
                smol.poll(now);
                let t = ours.sockets.tcp(h).unwrap();
                if t.is_established() {
                    break 'connect h;
                }
                if !t.is_active() {
                    let e = t.take_error();
                    assert!(
                        matches!(
                            e,
                            Some(Error::Tcp(ConnError::HostUnreachable | ConnError::TimedOut))
                        ),
                        "{}",
                        ctx(&format!("connect ended with {e:?}"))
                    );
                    ours.sockets.remove(h);
                    continue 'connect;
                }
                now += Duration::from_millis(1);
            }
        }
    } else {
        smoltcp_connects(&mut ours, &mut smol, TcpSocket::new(config), &mut now)
    };
    if abort {
        // Who aborts, once it has written how much (drawn apart, so that
        // the plain mixes keep their draws).
        let mut arng = SeededRng::new(seed ^ 0xab047);
        let ours_abort = arng.below(2) == 0;
        let len = if ours_abort { up.len() } else { down.len() };
        let after = arng.below(len as u32 + 1) as usize;
        abort_exchange(
            &mut ours,
            &mut smol,
            h,
            now,
            (&up, &down),
            ours_abort,
            after,
            &ctx,
        );
        return;
    }
    // One mix in three with a slow reader on one end or both (drawn
    // apart, so that the other mixes keep their draws).
    let mut prng = SeededRng::new(seed ^ 0x5100_4ead);
    let readers = if prng.below(3) == 0 {
        let slow = |rng: &mut SeededRng| Reader {
            chunk: 64 << rng.below(11),
            every: Duration::from_millis([0, 1, 5, 20][rng.below(4) as usize]),
            next: now,
        };
        match prng.below(3) {
            0 => [slow(&mut prng), Reader::EAGER],
            1 => [Reader::EAGER, slow(&mut prng)],
            _ => [slow(&mut prng), slow(&mut prng)],
        }
    } else {
        [Reader::EAGER; 2]
    };
    let (got_ours, got_smol) = match exchange_paced(
        &mut ours,
        &mut smol,
        h,
        now,
        (&up, &down),
        readers,
        &ctx(""),
    ) {
        Ok(got) => got,
        Err(stuck) => {
            // smoltcp's defect, not ours: what came is right so far.
            let (ours_got, smol_got) = &stuck.prefixes;
            assert!(
                down.starts_with(ours_got),
                "{}",
                ctx("we received other bytes")
            );
            assert!(
                up.starts_with(smol_got),
                "{}",
                ctx("smoltcp received other bytes")
            );
            eprintln!(
                "{}",
                ctx(&format!(
                    "smoltcp {} (we got {} of {} bytes, smoltcp {} of {})",
                    stuck.why,
                    stuck.got_ours,
                    down.len(),
                    stuck.got_smol,
                    up.len()
                ))
            );
            return;
        }
    };
    assert!(got_smol == up, "{}", ctx("smoltcp received other bytes"));
    assert!(got_ours == down, "{}", ctx("we received other bytes"));
}

/// Both ends write their data and read what comes; the one side aborts
/// (a RST) once it has written `after` bytes. What each received must be
/// a prefix of what the other sent, the other end must learn of the
/// reset (ours: `ConnError::Reset`; smoltcp's connection gone: closed,
/// or its socket listening again), and our socket must then leave the
/// set.
#[allow(clippy::too_many_arguments)]
fn abort_exchange<D1: Device, D2: Device>(
    ours: &mut Ours<D1>,
    smol: &mut Smol<D2>,
    h: SocketHandle,
    start: Instant,
    (up, down): (&[u8], &[u8]),
    ours_abort: bool,
    after: usize,
    ctx: &dyn Fn(&str) -> String,
) {
    use lamina_socket::tcp_proto::ConnError;
    let mut now = start;
    let end = start + Duration::from_secs(3600);
    let (mut up_sent, mut down_sent) = (0, 0);
    let (mut got_ours, mut got_smol) = (Vec::new(), Vec::new());
    let mut buf = vec![0u8; 65536];
    let mut aborted = false;
    let mut ours_done = false;
    loop {
        let mut progress = ours.iface.poll(now, &mut ours.dev, &mut ours.sockets);
        progress |= smol.poll(now);
        if !ours_done {
            let t = ours.sockets.tcp(h).unwrap();
            if ours_abort && !aborted && up_sent >= after {
                ours.sockets.abort_tcp(h).unwrap();
                aborted = true;
                ours_done = true;
                progress = true;
            } else {
                while up_sent < up.len() && !(ours_abort && up_sent >= after) {
                    match t.send(&up[up_sent..after.max(up_sent + 1).min(up.len())]) {
                        Ok(n) => {
                            up_sent += n;
                            progress = true;
                        }
                        Err(Error::WouldBlock) => break,
                        Err(Error::Tcp(ConnError::Reset)) if aborted => break,
                        Err(e) => panic!("{}", ctx(&format!("our send: {e}"))),
                    }
                }
                loop {
                    match t.recv(&mut buf) {
                        Ok(0) | Err(Error::WouldBlock) => break,
                        Ok(n) => {
                            got_ours.extend_from_slice(&buf[..n]);
                            progress = true;
                        }
                        Err(Error::Tcp(ConnError::Reset)) if aborted => break,
                        Err(e) => panic!("{}", ctx(&format!("our recv: {e}"))),
                    }
                }
                if aborted && !t.is_active() {
                    // smoltcp's reset reached us.
                    let e = t.take_error();
                    assert_eq!(e, Some(Error::Tcp(ConnError::Reset)), "{}", ctx("our end"));
                    ours.sockets.remove(h);
                    ours_done = true;
                }
            }
        }
        let s = smol.socket();
        if !ours_abort && !aborted && down_sent >= after {
            s.abort();
            aborted = true;
            progress = true;
        }
        if !aborted || ours_abort {
            let upto = if ours_abort { down.len() } else { after };
            progress |= smol_pump(s, &down[..upto], &mut down_sent, &mut got_smol, &mut buf);
        }
        if aborted && ours_done && !smol.socket().is_active() {
            break;
        }
        if !progress {
            now = next_instant(ours, smol, now);
            assert!(
                now < end,
                "{}",
                ctx(&format!(
                    "stalled after the abort (ours {ours_abort}, after {after}): ours done {ours_done}, smoltcp {}",
                    smol.socket().state()
                ))
            );
        }
    }
    assert!(
        up.starts_with(&got_smol),
        "{}",
        ctx("smoltcp received other bytes")
    );
    assert!(
        down.starts_with(&got_ours),
        "{}",
        ctx("we received other bytes")
    );
    // Our socket leaves the set (an aborting one once its RST is out).
    for _ in 0..100 {
        ours.iface.poll(now, &mut ours.dev, &mut ours.sockets);
        if ours.sockets.get(h).is_none() {
            return;
        }
        now += Duration::from_millis(10);
    }
    panic!("{}", ctx("our socket stayed in the set"));
}

/// Seeds that found something, run every time: a harness clock that
/// froze while smoltcp held frames back (161) or went back between the
/// handshake and the transfer (2089); smoltcp waiting for ever behind a
/// zero window whose update was lost (1268) or overtaken by an older
/// zero-window ACK (6597), which our receiver now covers by sending the
/// update again (`ConnStats::window_updates_resent`; 97 stalls without
/// it today, 1268 and 6597 no longer do; 242,556 stalled while data
/// that followed the update ended the resending too soon); smoltcp in
/// LAST-ACK deaf to window updates behind a slow reader (819, see the
/// close rule in [`exchange_paced`]) or behind a small receive buffer
/// of ours (370,790: [`SmoltcpStuck`]); smoltcp's retransmission timer
/// idle with data or its FIN outstanding (168,679 and 49,252: the same;
/// 616,352 with our side done).
const REGRESSIONS: [u64; 11] = [
    97, 161, 819, 1268, 2089, 6597, 49_252, 168_679, 242_556, 370_790, 616_352,
];

#[test]
fn random_option_mixes_interoperate_with_smoltcp() {
    for seed in seeds(16).chain(REGRESSIONS) {
        random_mix(seed, false);
    }
}

/// The same mixes with one end aborting mid-transfer.
#[test]
fn random_option_mixes_with_smoltcp_survive_an_abort() {
    for seed in seeds(16) {
        random_mix(seed, true);
    }
}
