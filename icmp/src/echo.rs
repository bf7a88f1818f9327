//! Answering pings: the echo reply (RFC 792; RFC 1122 §3.2.2.6).
//!
//! # Calling protocol
//!
//! For each received Echo Request whose checksum verified
//! ([`IcmpPacket::parse_verified`], or receive offload):
//!
//! 1. Ask [`EchoConfig::should_answer`] whether to answer at all (requests
//!    to a broadcast or multicast address are ignored by default, as
//!    RFC 1122 §3.2.2.6 allows and Linux does), then, if replies are rate
//!    limited, [`ErrorGenerator::reply_allowed`](crate::ErrorGenerator::reply_allowed).
//! 2. Answer, by one of two paths:
//!    - **In place** (the fast path): when the request is a whole,
//!      option-free datagram in a buffer the stack owns, turn it into the
//!      reply where it lies with [`echo_reply_datagram_in_place`] (IPv4
//!      and ICMP headers) or [`echo_reply_in_place`] (the ICMP message
//!      only, when the IP layer writes its own header). Only a few header
//!      words change; the data is not touched and the ICMP checksum is
//!      updated incrementally (RFC 1624), so the cost does not grow with
//!      the ping's size.
//!    - **By copy**: wrap an [`EchoReply`] (a
//!      [`Serializer`]) in the reply's IPv4
//!      header. When the request carried IP options, build that header's
//!      options with [`echo_reply_options`]: RFC 1122 §3.2.2.6 asks for
//!      Record Route and Timestamp to be updated and returned, and a
//!      source route to be reversed.
//!
//! The reply carries the request's identifier, sequence number and data,
//! all of it (RFC 1122 §3.2.2.6: "the data received in the ICMP Echo
//! Request MUST be entirely included in the resulting Echo Reply"), so a
//! ping of any size up to the reassembly limit is answered; the IP layer
//! fragments a reply larger than the path MTU. Its source address is the
//! request's destination when that was one of our unicast addresses, and
//! an address of the receiving interface otherwise.

use core::net::Ipv4Addr;

use lamina_ipv4::{
    ChecksumMode, IPV4_MIN_HEADER_LEN, IpProtocol, Ipv4Option, Ipv4OptionIter, Ipv4OptionsBuf,
    Ipv4Packet, MAX_OPTIONS_LEN, RouteOption, TimestampFlag, TimestampOption,
};
use lamina_netbuf::Serializer;
use lamina_netbuf::checksum;

use crate::packet::ICMP_HEADER_LEN;
use crate::{Error, IcmpPacket, IcmpRepr, IcmpType};

/// Which Echo Requests are answered.
///
/// ```
/// use core::net::Ipv4Addr;
/// use lamina_icmp::EchoConfig;
///
/// let config = EchoConfig::default();
/// assert!(config.should_answer(Ipv4Addr::new(192, 0, 2, 1), false));
/// // A ping to a directed broadcast is ignored by default (smurf attacks).
/// assert!(!config.should_answer(Ipv4Addr::new(192, 0, 2, 255), true));
/// assert!(!config.should_answer(Ipv4Addr::new(224, 0, 0, 1), false));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EchoConfig {
    /// Answer no Echo Request at all (Linux `icmp_echo_ignore_all`;
    /// default false). RFC 1122 §3.2.2.6 says a host MUST implement an
    /// echo server, so only turn this on deliberately.
    pub ignore_all: bool,
    /// Ignore Echo Requests sent to a broadcast or multicast address,
    /// which RFC 1122 §3.2.2.6 allows (Linux
    /// `icmp_echo_ignore_broadcasts`; default true, against "smurf"
    /// amplification).
    pub ignore_broadcasts: bool,
}

impl Default for EchoConfig {
    fn default() -> EchoConfig {
        EchoConfig {
            ignore_all: false,
            ignore_broadcasts: true,
        }
    }
}

impl EchoConfig {
    /// Whether to answer an Echo Request sent to `dst`. `dst_is_broadcast`
    /// is the caller's knowledge that `dst` is a directed broadcast of an
    /// attached subnet (or that the frame was a link-layer broadcast);
    /// the limited broadcast and multicast addresses are recognised from
    /// `dst` itself.
    #[inline]
    pub fn should_answer(&self, dst: Ipv4Addr, dst_is_broadcast: bool) -> bool {
        if self.ignore_all {
            return false;
        }
        let broadcast = dst_is_broadcast || dst.is_broadcast() || dst.is_multicast();
        !(broadcast && self.ignore_broadcasts)
    }
}

/// The identifier and sequence number of an echo exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EchoId {
    /// Identifier.
    pub ident: u16,
    /// Sequence number.
    pub seq_no: u16,
}

impl EchoId {
    /// The identifier and sequence number from bytes 4 to 8 of an echo
    /// message's header (RFC 792).
    #[inline(always)]
    const fn from_rest([i0, i1, s0, s1]: [u8; 4]) -> EchoId {
        EchoId {
            ident: u16::from_be_bytes([i0, i1]),
            seq_no: u16::from_be_bytes([s0, s1]),
        }
    }
}

/// The Echo Reply to an Echo Request, built by copy: a
/// [`Serializer`] to wrap in the reply's IPv4 header.
///
/// ```
/// use core::net::Ipv4Addr;
/// use lamina_icmp::{EchoReply, IcmpMessage, IcmpPacket, IcmpRepr};
/// use lamina_ipv4::{IpProtocol, Ipv4Repr};
/// use lamina_netbuf::Serializer;
///
/// let request = b"ping data".wrap_in(&IcmpRepr::EchoRequest { ident: 9, seq_no: 3 })
///     .serialize_vec(0)?;
/// let request = IcmpPacket::parse_verified(request.as_slice()).unwrap();
///
/// let reply = EchoReply::new(&request).unwrap();
/// let ip = Ipv4Repr::new(Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 7), IpProtocol::ICMP);
/// let frame = reply.wrap_in(&ip).serialize_vec(0)?;
///
/// let icmp = IcmpPacket::parse_verified(&frame.as_slice()[20..]).unwrap();
/// assert_eq!(
///     icmp.message(),
///     IcmpMessage::EchoReply { ident: 9, seq_no: 3, data: b"ping data" },
/// );
/// # Ok::<(), lamina_netbuf::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct EchoReply<'a> {
    repr: IcmpRepr,
    data: &'a [u8],
    checksum: ChecksumMode,
}

impl<'a> EchoReply<'a> {
    /// The reply to `request`: the same identifier, sequence number and
    /// data (RFC 792), code 0. Fails with [`Error::NotAnEchoRequest`] for
    /// any other message.
    pub fn new(request: &IcmpPacket<'a>) -> Result<EchoReply<'a>, Error> {
        let id = request_id(request)?;
        Ok(EchoReply {
            repr: IcmpRepr::EchoReply {
                ident: id.ident,
                seq_no: id.seq_no,
            },
            data: request.payload(),
            checksum: ChecksumMode::Compute,
        })
    }

    /// Sets how the checksum is produced (computed by default; leave it
    /// to the device with [`ChecksumMode::Offload`]).
    #[inline]
    pub fn checksum(mut self, mode: ChecksumMode) -> Self {
        self.checksum = mode;
        self
    }

    /// The reply's header fields.
    #[inline]
    pub fn repr(&self) -> &IcmpRepr {
        &self.repr
    }

    /// The data echoed.
    #[inline]
    pub fn data(&self) -> &'a [u8] {
        self.data
    }
}

impl Serializer for EchoReply<'_> {
    #[inline]
    fn serialized_len(&self) -> Result<usize, lamina_netbuf::Error> {
        self.data
            .wrap_in(self.repr.builder().checksum(self.checksum))
            .serialized_len()
    }

    #[inline]
    fn serialize_exact(&self, out: &mut [u8]) {
        self.data
            .wrap_in(self.repr.builder().checksum(self.checksum))
            .serialize_exact(out)
    }
}

fn request_id(request: &IcmpPacket<'_>) -> Result<EchoId, Error> {
    if request.msg_type() != IcmpType::ECHO_REQUEST {
        return Err(Error::NotAnEchoRequest {
            msg_type: request.msg_type().0,
        });
    }
    Ok(EchoId::from_rest(request.rest_of_header()))
}

/// Turns the Echo Request `message` (the whole ICMP message: the IPv4
/// payload) into its Echo Reply where it lies: the type becomes 0 and the
/// code 0, the checksum is updated incrementally (RFC 1624), and the
/// identifier, sequence number and data stay as they are (RFC 792).
///
/// Returns the identifier and sequence number. Fails, leaving `message`
/// untouched, with [`Error::Truncated`] below 8 bytes and
/// [`Error::NotAnEchoRequest`] for another type. A request whose checksum
/// was bad gives a reply whose checksum is bad: verify first.
///
/// ```
/// use lamina_icmp::{echo_reply_in_place, IcmpMessage, IcmpPacket, IcmpRepr};
/// use lamina_netbuf::Serializer;
///
/// let mut msg = b"abc".wrap_in(&IcmpRepr::EchoRequest { ident: 1, seq_no: 2 }).serialize_vec(0)?;
/// let id = echo_reply_in_place(msg.as_mut_slice()).unwrap();
/// assert_eq!((id.ident, id.seq_no), (1, 2));
/// let reply = IcmpPacket::parse_verified(msg.as_slice()).unwrap();
/// assert_eq!(reply.message(), IcmpMessage::EchoReply { ident: 1, seq_no: 2, data: b"abc" });
/// # Ok::<(), lamina_netbuf::Error>(())
/// ```
#[inline]
pub fn echo_reply_in_place(message: &mut [u8]) -> Result<EchoId, Error> {
    reply_in_place(message)
}

/// [`echo_reply_in_place`], inlined always (in
/// [`echo_reply_datagram_in_place`] too): returned through memory, the
/// identifier and sequence number written as two 16-bit stores and read
/// back as one 32-bit load stalled the caller on store forwarding.
#[inline(always)]
fn reply_in_place(message: &mut [u8]) -> Result<EchoId, Error> {
    let got = message.len();
    let Some(header) = message.first_chunk_mut::<ICMP_HEADER_LEN>() else {
        return Err(Error::Truncated {
            needed: ICMP_HEADER_LEN,
            got,
        });
    };
    let [msg_type, code, c0, c1, i0, i1, s0, s1] = *header;
    if msg_type != IcmpType::ECHO_REQUEST.0 {
        return Err(Error::NotAnEchoRequest { msg_type });
    }
    // The first 16-bit word (type, code) goes from (8, code) to (0, 0).
    let old_word = u16::from_be_bytes([msg_type, code]);
    let mut sum = checksum::update_u16(u16::from_be_bytes([c0, c1]), old_word, 0);
    // RFC 1624 eqn. 3 gives 0x0000 whenever the reply's words sum to
    // zero. That is right unless the reply is all zero bytes (identifier,
    // sequence number and data zero; the request's type 8 never was):
    // then the checksum is 0xffff, and 0x0000 fails verification.
    if sum == 0 && u32::from_be_bytes([i0, i1, s0, s1]) == 0 && zero_data(message) {
        sum = 0xffff;
    }
    let [n0, n1] = sum.to_be_bytes();
    if let Some(header) = message.first_chunk_mut::<ICMP_HEADER_LEN>() {
        *header = [0, 0, n0, n1, i0, i1, s0, s1];
    }
    Ok(EchoId::from_rest([i0, i1, s0, s1]))
}

/// Whether the data after an ICMP header are all zero bytes (the rare
/// case of [`echo_reply_in_place`], out of its line).
#[cold]
#[inline(never)]
fn zero_data(message: &[u8]) -> bool {
    message.iter().skip(ICMP_HEADER_LEN).all(|b| *b == 0)
}

/// The identifier, sequence number and data of an Echo Reply (type 0,
/// any code) of at least 8 bytes whose checksum verifies; `None` for
/// anything else. What [`IcmpPacket::parse_verified`] and then
/// [`IcmpPacket::message`] give for such a message, read straight from
/// the bytes: the receive path of a ping socket.
///
/// ```
/// use lamina_icmp::{verified_echo_reply, IcmpRepr};
/// use lamina_netbuf::Serializer;
///
/// let msg = b"abc".wrap_in(&IcmpRepr::EchoReply { ident: 1, seq_no: 2 }).serialize_vec(0)?;
/// let (id, data) = verified_echo_reply(msg.as_slice()).unwrap();
/// assert_eq!((id.ident, id.seq_no, data), (1, 2, &b"abc"[..]));
/// let mut bad = msg.as_slice().to_vec();
/// bad[9] ^= 1;
/// assert_eq!(verified_echo_reply(&bad), None);
/// # Ok::<(), lamina_netbuf::Error>(())
/// ```
///
/// Inlined always: returned through memory, the identifier and sequence
/// number written as two 16-bit stores and read back as one 32-bit load
/// stalled the caller on store forwarding.
#[inline(always)]
pub fn verified_echo_reply(message: &[u8]) -> Option<(EchoId, &[u8])> {
    let (&[msg_type, _, _, _, i0, i1, s0, s1], data) =
        message.split_first_chunk::<ICMP_HEADER_LEN>()?;
    if msg_type != IcmpType::ECHO_REPLY.0 || checksum::checksum(message) != 0 {
        return None;
    }
    Some((EchoId::from_rest([i0, i1, s0, s1]), data))
}

/// The IPv4 header fields of an in-place echo reply that do not come from
/// the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplyIpFields {
    /// The reply's source: the request's destination when that is one of
    /// our unicast addresses (RFC 1122 §3.2.2.6), else an address of the
    /// receiving interface.
    pub src: Ipv4Addr,
    /// Time to live (64 is the usual default).
    pub ttl: u8,
    /// The identification, from the IP layer's generator.
    pub identification: u16,
}

/// Turns a whole IPv4 datagram carrying an Echo Request into its reply
/// where it lies: the fast path for ping.
///
/// The IPv4 header is rewritten for the way back: source `fields.src`,
/// destination the request's source, `fields.ttl` and
/// `fields.identification`, no fragmentation flags, the DSCP kept and the
/// ECN field cleared, the header checksum recomputed (20 bytes). The ICMP
/// message is turned into the reply as by [`echo_reply_in_place`]. Bytes
/// after the total length (link padding) are left alone; the reply is the
/// first [`Ipv4Packet::total_len`] bytes, exactly as long as the request.
///
/// The datagram must be whole (not a fragment: reassemble first), carry
/// ICMP, and have no IP options, whose echo needs the header to change
/// size (use [`echo_reply_options`] and [`EchoReply`] then); otherwise
/// [`Error::NotInPlaceEligible`] is returned and nothing is written. The
/// header checksum is not verified here.
///
/// ```
/// use core::net::Ipv4Addr;
/// use lamina_icmp::{echo_reply_datagram_in_place, IcmpMessage, IcmpPacket, IcmpRepr, ReplyIpFields};
/// use lamina_ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr};
/// use lamina_netbuf::Serializer;
///
/// let (peer, me) = (Ipv4Addr::new(192, 0, 2, 7), Ipv4Addr::new(192, 0, 2, 1));
/// let mut frame = b"0123456789"
///     .wrap_in(&IcmpRepr::EchoRequest { ident: 5, seq_no: 6 })
///     .wrap_in(&Ipv4Repr::new(peer, me, IpProtocol::ICMP))
///     .serialize_vec(0)?;
///
/// let fields = ReplyIpFields { src: me, ttl: 64, identification: 0x1234 };
/// echo_reply_datagram_in_place(frame.as_mut_slice(), &fields).unwrap();
///
/// let ip = Ipv4Packet::parse_verified(frame.as_slice()).unwrap();
/// assert_eq!((ip.src(), ip.dst()), (me, peer));
/// let icmp = IcmpPacket::parse_verified(ip.payload()).unwrap();
/// assert_eq!(icmp.message(), IcmpMessage::EchoReply { ident: 5, seq_no: 6, data: b"0123456789" });
/// # Ok::<(), lamina_netbuf::Error>(())
/// ```
pub fn echo_reply_datagram_in_place(
    datagram: &mut [u8],
    fields: &ReplyIpFields,
) -> Result<EchoId, Error> {
    let (peer, tos, total) = {
        let ip = Ipv4Packet::parse(datagram).map_err(Error::Ipv4)?;
        if ip.header_len() != IPV4_MIN_HEADER_LEN {
            return Err(Error::NotInPlaceEligible {
                reason: "the request has IP options",
            });
        }
        if ip.is_fragment() {
            return Err(Error::NotInPlaceEligible {
                reason: "the request is a fragment",
            });
        }
        if ip.protocol() != IpProtocol::ICMP {
            return Err(Error::NotInPlaceEligible {
                reason: "the datagram does not carry ICMP",
            });
        }
        (ip.src(), ip.dscp() << 2, usize::from(ip.total_len()))
    };
    let (header, rest) = datagram
        .split_first_chunk_mut::<IPV4_MIN_HEADER_LEN>()
        .ok_or(Error::Ipv4(lamina_ipv4::Error::Truncated {
            needed: IPV4_MIN_HEADER_LEN,
            got: 0,
        }))?;
    let message = rest
        .get_mut(..total.saturating_sub(IPV4_MIN_HEADER_LEN))
        .ok_or(Error::Ipv4(lamina_ipv4::Error::Truncated {
            needed: total,
            got: IPV4_MIN_HEADER_LEN,
        }))?;
    // Checks the ICMP message (and fails) before the IP header changes.
    let id = reply_in_place(message)?;
    let [l0, l1] = u16::try_from(total).unwrap_or(u16::MAX).to_be_bytes();
    let [id0, id1] = fields.identification.to_be_bytes();
    let [s0, s1, s2, s3] = fields.src.octets();
    let [d0, d1, d2, d3] = peer.octets();
    let protocol = IpProtocol::ICMP.0;
    // The header checksum from the values rather than from the bytes just
    // written: reading those back would stall on store forwarding.
    let mut sum = checksum::Checksum::new();
    sum.add_u16(u16::from_be_bytes([0x45, tos]));
    sum.add_u16(u16::from_be_bytes([l0, l1]));
    sum.add_u16(fields.identification);
    sum.add_u16(u16::from_be_bytes([fields.ttl, protocol]));
    sum.add_u32(fields.src.to_bits());
    sum.add_u32(peer.to_bits());
    let [k0, k1] = sum.finish().to_be_bytes();
    *header = [
        0x45, tos, l0, l1, id0, id1, 0, 0, fields.ttl, protocol, k0, k1, s0, s1, s2, s3, d0, d1,
        d2, d3,
    ];
    Ok(id)
}

/// The IP options of an echo reply, and where to send it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoReplyOptions {
    /// The reply header's options.
    pub options: Ipv4OptionsBuf,
    /// With a reversed source route, the reply's IP destination: the
    /// first hop of the way back. `None` when the reply goes straight to
    /// the request's source.
    pub first_hop: Option<Ipv4Addr>,
}

/// The IP options of the reply to an Echo Request that carried
/// `request_options` (its options area, as [`Ipv4Packet::options`]
/// gives it), per RFC 1122 §3.2.2.6:
///
/// - Record Route is returned with `local` recorded, when a slot is
///   free, so that the route shown is the whole round trip.
/// - Internet Timestamp is returned with this host's entry added
///   (`timestamp_ms`, milliseconds since midnight UT, or any value with
///   the high bit set when the time of day is unknown; RFC 791 §3.1):
///   for the prespecified form only when `local` is the next address; the
///   overflow count goes up when the option is full.
/// - A source route (loose or strict) is reversed (RFC 1122 §3.2.1.8):
///   the recorded hops in reverse order, ending at the request's source
///   `request_src`, and the reply is sent to the first of them
///   ([`EchoReplyOptions::first_hop`]). Note that a host is expected to
///   drop source-routed datagrams on input in the first place (RFC 7126
///   §4.3, Linux `accept_source_route = 0`).
/// - Every other option (Router Alert, security labels, ...) is not
///   returned.
///
/// Fails with [`Error::Ipv4`] on a malformed options area.
///
/// ```
/// use core::net::Ipv4Addr;
/// use lamina_icmp::echo_reply_options;
/// use lamina_ipv4::{Ipv4Option, Ipv4OptionsBuf, RouteOption};
///
/// let hop = Ipv4Addr::new(198, 51, 100, 1);
/// let me = Ipv4Addr::new(192, 0, 2, 1);
/// // Record Route with room for 3 addresses, one recorded on the way.
/// let mut slots = [0u8; 12];
/// slots[..4].copy_from_slice(&hop.octets());
/// let mut request = Ipv4OptionsBuf::new();
/// request.push(&Ipv4Option::RecordRoute(RouteOption { pointer: 8, data: &slots })).unwrap();
///
/// let reply = echo_reply_options(request.as_bytes(), Ipv4Addr::new(203, 0, 113, 5), me, 0)?;
/// let Some(Ok(Ipv4Option::RecordRoute(rr))) = reply.options.iter().next() else { panic!() };
/// assert_eq!(rr.addresses().take(rr.filled()).collect::<Vec<_>>(), [hop, me]);
/// assert_eq!(reply.first_hop, None);
/// # Ok::<(), lamina_icmp::Error>(())
/// ```
pub fn echo_reply_options(
    request_options: &[u8],
    request_src: Ipv4Addr,
    local: Ipv4Addr,
    timestamp_ms: u32,
) -> Result<EchoReplyOptions, Error> {
    let mut out = EchoReplyOptions {
        options: Ipv4OptionsBuf::new(),
        first_hop: None,
    };
    for option in Ipv4OptionIter::new(request_options) {
        let mut scratch = [0u8; MAX_OPTIONS_LEN];
        let reply = match option.map_err(Error::Ipv4)? {
            Ipv4Option::EndOfList => break,
            Ipv4Option::RecordRoute(r) => {
                let len = r.data.len();
                let mut pointer = r.pointer;
                if let Some(data) = scratch.get_mut(..len) {
                    data.copy_from_slice(r.data);
                    let at = r.filled() * 4;
                    if !r.is_full()
                        && let Some(slot) = data.get_mut(at..at + 4)
                    {
                        slot.copy_from_slice(&local.octets());
                        pointer = pointer.saturating_add(4);
                    }
                }
                Some(Ipv4Option::RecordRoute(RouteOption {
                    pointer,
                    data: scratch.get(..len).unwrap_or(&[]),
                }))
            }
            Ipv4Option::Timestamp(t) => {
                let len = t.data.len();
                let (mut pointer, mut overflow) = (t.pointer, t.overflow);
                if let Some(data) = scratch.get_mut(..len) {
                    data.copy_from_slice(t.data);
                    (pointer, overflow) = stamp(&t, data, local, timestamp_ms);
                }
                Some(Ipv4Option::Timestamp(TimestampOption {
                    pointer,
                    overflow,
                    flag: t.flag,
                    data: scratch.get(..len).unwrap_or(&[]),
                }))
            }
            Ipv4Option::LooseSourceRoute(r) => {
                reverse_route(&r, request_src, &mut scratch, &mut out.first_hop)
                    .map(Ipv4Option::LooseSourceRoute)
            }
            Ipv4Option::StrictSourceRoute(r) => {
                reverse_route(&r, request_src, &mut scratch, &mut out.first_hop)
                    .map(Ipv4Option::StrictSourceRoute)
            }
            _ => None,
        };
        if let Some(reply) = reply {
            out.options.push(&reply).map_err(Error::Ipv4)?;
        }
    }
    Ok(out)
}

/// The reverse of a source route received at its end (RFC 1122
/// §3.2.1.8): the recorded hops, last first, then the original source;
/// the first of them becomes the reply's destination (`first_hop`), the
/// rest the option's list. `None` when no hop was recorded (the request
/// came straight to us).
fn reverse_route<'s>(
    r: &RouteOption<'_>,
    request_src: Ipv4Addr,
    scratch: &'s mut [u8; MAX_OPTIONS_LEN],
    first_hop: &mut Option<Ipv4Addr>,
) -> Option<RouteOption<'s>> {
    let mut hops = [Ipv4Addr::UNSPECIFIED; MAX_OPTIONS_LEN / 4];
    let mut n = 0;
    for (slot, addr) in hops.iter_mut().zip(r.addresses().take(r.filled())) {
        *slot = addr;
        n += 1;
    }
    let (&first, earlier) = hops.get(..n)?.split_last()?;
    *first_hop = Some(first);
    let mut len = 0;
    for addr in earlier.iter().rev().chain(core::iter::once(&request_src)) {
        if let Some(slot) = scratch.get_mut(len..len + 4) {
            slot.copy_from_slice(&addr.octets());
            len += 4;
        }
    }
    Some(RouteOption {
        pointer: 4,
        data: scratch.get(..len).unwrap_or(&[]),
    })
}

/// Adds this host's entry to a copy of a timestamp option's `data`,
/// returning the new pointer and overflow count (RFC 791 §3.1).
fn stamp(t: &TimestampOption<'_>, data: &mut [u8], local: Ipv4Addr, ts: u32) -> (u8, u8) {
    let entry = t.flag.entry_len();
    if t.is_full() {
        // No room: count ourselves in the overflow (a 4-bit field).
        return (t.pointer, (t.overflow + 1).min(15));
    }
    let at = t.filled() * entry;
    let Some(slot) = data.get_mut(at..at + entry) else {
        return (t.pointer, t.overflow);
    };
    let advance = u8::try_from(entry).unwrap_or(u8::MAX);
    match (t.flag, slot) {
        (TimestampFlag::TimestampsOnly, slot) => slot.copy_from_slice(&ts.to_be_bytes()),
        (TimestampFlag::WithAddresses, slot) => {
            let (a, s) = slot.split_at_mut(4);
            a.copy_from_slice(&local.octets());
            s.copy_from_slice(&ts.to_be_bytes());
        }
        (TimestampFlag::Prespecified, slot) => {
            let (a, s) = slot.split_at_mut(4);
            if a != local.octets() {
                // Not our turn: the option goes back as it came.
                return (t.pointer, t.overflow);
            }
            s.copy_from_slice(&ts.to_be_bytes());
        }
    }
    (t.pointer.saturating_add(advance), t.overflow)
}

#[cfg(test)]
mod tests;
