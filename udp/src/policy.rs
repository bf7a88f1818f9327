//! Checksum handling (RFC 768; RFC 1122 §4.1.3.4) and the UDP counters
//! (RFC 4113, with Linux's additions).

use core::net::Ipv4Addr;

use crate::{ChecksumMode, ChecksumStatus, Error, UdpBuilder, UdpPacket, UdpRepr};

/// What a stack does with UDP checksums.
///
/// On receive (RFC 1122 §4.1.3.4): a nonzero checksum is verified against
/// the pseudo-header unless the device already did, and a datagram whose
/// checksum fails is discarded silently; a zero checksum means the sender
/// computed none, which is accepted unless
/// [`accept_zero`](Self::accept_zero) is off. On send: the checksum is
/// computed (a computed zero goes out as `0xFFFF`, RFC 768) unless
/// [`tx`](Self::tx) leaves it to transmit offload; RFC 1122 §4.1.3.4 says
/// checksumming MUST default to on.
///
/// ```
/// use core::net::Ipv4Addr;
/// use lamina_netbuf::Serializer;
/// use lamina_udp::{ChecksumPolicy, Error, UdpRepr};
///
/// let (a, b) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2));
/// let policy = ChecksumPolicy::default();
/// let repr = UdpRepr { src_port: 1000, dst_port: 2000 };
/// let mut dgram = b"data".wrap_in(policy.builder(&repr, a, b)).serialize_vec(0)?.into_vec();
/// assert!(policy.parse(&dgram, a, b, false).is_ok());
///
/// dgram[9] ^= 1; // corrupted on the way
/// assert_eq!(policy.parse(&dgram, a, b, false).unwrap_err(), Error::BadChecksum);
/// // A device that verified the checksum is trusted.
/// assert!(policy.parse(&dgram, a, b, true).is_ok());
/// # Ok::<(), lamina_netbuf::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChecksumPolicy {
    /// Accept datagrams with a zero ("not computed") checksum (default
    /// true, RFC 1122 §4.1.3.4: an application MAY ask to discard them).
    pub accept_zero: bool,
    /// How outgoing checksums are produced (default
    /// [`ChecksumMode::Compute`]; [`ChecksumMode::Offload`] only when the
    /// device completes it, [`ChecksumMode::Zero`] only on request).
    pub tx: ChecksumMode,
}

impl Default for ChecksumPolicy {
    fn default() -> ChecksumPolicy {
        ChecksumPolicy {
            accept_zero: true,
            tx: ChecksumMode::Compute,
        }
    }
}

impl ChecksumPolicy {
    /// Checks a received datagram's checksum between `src` and `dst`.
    /// `device_verified` is the device's word that the checksum is good
    /// (receive offload, `CHECKSUM_UNNECESSARY`); a zero checksum is
    /// judged by [`accept_zero`](Self::accept_zero) either way.
    ///
    /// Errors: [`Error::MissingChecksum`], [`Error::BadChecksum`] (also
    /// for a truncated datagram, whose checksum cannot be checked).
    #[inline]
    pub fn check(
        &self,
        udp: &UdpPacket<'_>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        device_verified: bool,
    ) -> Result<(), Error> {
        if !self.needs_payload_sum(udp, device_verified)? {
            return Ok(());
        }
        Self::verdict(udp.checksum_status(src, dst))
    }

    /// The part of [`check`](Self::check) that reads no payload: `Ok(false)`
    /// when the datagram passes as it is (a zero checksum accepted, or the
    /// device's word), `Ok(true)` when its checksum must still be verified
    /// over the payload ([`check_with_sum`](Self::check_with_sum), with the
    /// payload's sum from wherever it was copied), or the error `check`
    /// gives.
    #[inline]
    pub fn needs_payload_sum(
        &self,
        udp: &UdpPacket<'_>,
        device_verified: bool,
    ) -> Result<bool, Error> {
        if udp.checksum() == 0 {
            return if self.accept_zero {
                Ok(false)
            } else {
                Err(Error::MissingChecksum)
            };
        }
        if udp.is_truncated() {
            // Cannot be checked: refused (as a bad checksum).
            return Err(Error::BadChecksum);
        }
        Ok(!device_verified)
    }

    /// The rest of [`check`](Self::check) once
    /// [`needs_payload_sum`](Self::needs_payload_sum) said so, with
    /// `payload_sum`, the one's-complement sum of the payload
    /// ([`UdpPacket::checksum_status_with_sum`]).
    #[inline]
    pub fn check_with_sum(
        &self,
        udp: &UdpPacket<'_>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        payload_sum: u16,
    ) -> Result<(), Error> {
        Self::verdict(udp.checksum_status_with_sum(src, dst, payload_sum))
    }

    #[inline]
    fn verdict(status: ChecksumStatus) -> Result<(), Error> {
        match status {
            ChecksumStatus::Good | ChecksumStatus::Absent => Ok(()),
            ChecksumStatus::Bad | ChecksumStatus::Unverifiable => Err(Error::BadChecksum),
        }
    }

    /// Parses a received datagram ([`UdpPacket::parse`]) and
    /// [`check`](Self::check)s its checksum.
    #[inline]
    pub fn parse<'a>(
        &self,
        bytes: &'a [u8],
        src: Ipv4Addr,
        dst: Ipv4Addr,
        device_verified: bool,
    ) -> Result<UdpPacket<'a>, Error> {
        let udp = UdpPacket::parse(bytes)?;
        self.check(&udp, src, dst, device_verified)?;
        Ok(udp)
    }

    /// A builder for `repr` from `src` to `dst` with this policy's
    /// transmit checksum.
    #[inline]
    pub fn builder(&self, repr: &UdpRepr, src: Ipv4Addr, dst: Ipv4Addr) -> UdpBuilder {
        repr.builder(src, dst).checksum(self.tx)
    }
}

/// The UDP counters: the RFC 4113 MIB objects, with the extra counters
/// Linux reports in `/proc/net/snmp` (`RcvbufErrors`, `SndbufErrors`,
/// `InCsumErrors`, `IgnoredMulti`).
///
/// The `record_*` methods keep the counters consistent with each other:
///
/// | event | counters |
/// |---|---|
/// | delivered to a socket | `in_datagrams` |
/// | unicast, no socket on the port | `no_ports` |
/// | broadcast or multicast, no socket | `ignored_multi` |
/// | malformed (bad length, truncated) | `in_errors` |
/// | checksum failed (or missing where required) | `in_csum_errors`, `in_errors` |
/// | receive queue full | `rcvbuf_errors`, `in_errors` |
/// | sent | `out_datagrams` |
/// | send buffer full | `sndbuf_errors` |
///
/// ```
/// use lamina_udp::UdpStats;
///
/// let mut stats = UdpStats::default();
/// stats.record_checksum_error();
/// stats.record_rcvbuf_error();
/// assert_eq!(stats.in_errors, 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct UdpStats {
    /// `udpInDatagrams`: datagrams delivered to sockets.
    pub in_datagrams: u64,
    /// `udpNoPorts`: unicast datagrams for a port with no socket.
    pub no_ports: u64,
    /// `udpInErrors`: datagrams not delivered for any reason other than
    /// no socket (malformed, checksum, full queue).
    pub in_errors: u64,
    /// `udpOutDatagrams`: datagrams sent.
    pub out_datagrams: u64,
    /// Datagrams dropped because a socket's receive queue was full.
    pub rcvbuf_errors: u64,
    /// Datagrams not sent because a send buffer was full.
    pub sndbuf_errors: u64,
    /// Datagrams whose checksum failed.
    pub in_csum_errors: u64,
    /// Broadcast and multicast datagrams no socket wanted (not counted in
    /// `no_ports`, and never answered with port unreachable).
    pub ignored_multi: u64,
}

impl UdpStats {
    /// A datagram was delivered to a socket.
    #[inline]
    pub fn record_delivered(&mut self) {
        self.in_datagrams += 1;
    }

    /// A datagram found no socket; `broadcast` if it was sent to a
    /// broadcast or multicast address.
    #[inline]
    pub fn record_no_port(&mut self, broadcast: bool) {
        if broadcast {
            self.ignored_multi += 1;
        } else {
            self.no_ports += 1;
        }
    }

    /// A datagram was malformed.
    #[inline]
    pub fn record_malformed(&mut self) {
        self.in_errors += 1;
    }

    /// A datagram's checksum failed.
    #[inline]
    pub fn record_checksum_error(&mut self) {
        self.in_csum_errors += 1;
        self.in_errors += 1;
    }

    /// A receive queue was full.
    #[inline]
    pub fn record_rcvbuf_error(&mut self) {
        self.rcvbuf_errors += 1;
        self.in_errors += 1;
    }

    /// Records a receive-path [`Error`] in the right counters.
    #[inline]
    pub fn record_rx_error(&mut self, e: &Error) {
        match e {
            Error::BadChecksum | Error::MissingChecksum => self.record_checksum_error(),
            _ => self.record_malformed(),
        }
    }

    /// A datagram was sent.
    #[inline]
    pub fn record_sent(&mut self) {
        self.out_datagrams += 1;
    }

    /// A send buffer was full.
    #[inline]
    pub fn record_sndbuf_error(&mut self) {
        self.sndbuf_errors += 1;
    }
}

#[cfg(test)]
mod tests;
