//! Nested serialization: bodies wrapped in layer builders, written into one
//! buffer, innermost layer first.
//!
//! A packet on the way out is a body (a payload slice, or nothing) wrapped
//! by a builder per layer: `payload.wrap_in(tcp).wrap_in(ipv4).wrap_in(eth)`.
//! Each [`PacketBuilder`] states its [`PacketConstraints`] (header length,
//! footer length, minimum and maximum body length). The total length is
//! computed from those with checked arithmetic, one buffer of exactly that
//! size is obtained (allocated, or supplied by the caller, for example a
//! transmit buffer a device lends), the body is copied into its final place
//! once, and each layer then writes its header and footer around the bytes
//! already in place, from the innermost outwards, so checksums can cover
//! what they enclose.
//!
//! ```
//! use lamina_netbuf::serialize::{PacketBuilder, PacketConstraints, SerializeTarget, Serializer};
//!
//! /// A toy layer: a one-byte length prefix.
//! struct LenPrefix;
//! impl PacketBuilder for LenPrefix {
//!     fn constraints(&self) -> PacketConstraints {
//!         PacketConstraints::new(1, 0, 0, 255)
//!     }
//!     fn serialize(&self, target: SerializeTarget<'_>) {
//!         target.header[0] = target.body.len() as u8;
//!     }
//! }
//!
//! let pkt = b"hi".as_slice().wrap_in(LenPrefix).wrap_in(LenPrefix).serialize_vec(0)?;
//! assert_eq!(pkt.as_slice(), &[3, 2, b'h', b'i']);
//! # Ok::<(), lamina_netbuf::Error>(())
//! ```

use alloc::vec::Vec;

use crate::{Error, PacketBuf};

/// What a layer needs around its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketConstraints {
    /// Bytes of header in front of the body.
    pub header_len: usize,
    /// Bytes of footer after the body.
    pub footer_len: usize,
    /// Smallest body; shorter bodies are padded with zeros up to this
    /// length (Ethernet's 46 bytes).
    pub min_body_len: usize,
    /// Largest body the layer can describe (for IPv4, 65535 minus the
    /// header); a longer body is an [`Error::BodyTooLong`].
    pub max_body_len: usize,
}

impl PacketConstraints {
    /// Constraints from their four parts.
    pub const fn new(
        header_len: usize,
        footer_len: usize,
        min_body_len: usize,
        max_body_len: usize,
    ) -> PacketConstraints {
        PacketConstraints {
            header_len,
            footer_len,
            min_body_len,
            max_body_len,
        }
    }

    /// The total length for a body of `body_len` bytes, after padding, or
    /// an error if the body is too long or the sum overflows.
    #[inline]
    pub fn total_len(&self, body_len: usize) -> Result<usize, Error> {
        if body_len > self.max_body_len {
            return Err(Error::BodyTooLong {
                len: body_len,
                max: self.max_body_len,
            });
        }
        self.header_len
            .checked_add(body_len.max(self.min_body_len))
            .and_then(|n| n.checked_add(self.footer_len))
            .ok_or(Error::LengthOverflow)
    }
}

/// The parts of the output a builder writes: its header, its body (already
/// written, including any padding), and its footer.
#[derive(Debug)]
pub struct SerializeTarget<'a> {
    /// The header bytes; the builder must write every one.
    pub header: &'a mut [u8],
    /// The body, already in place (padding included).
    pub body: &'a [u8],
    /// The footer bytes; the builder must write every one.
    pub footer: &'a mut [u8],
}

/// One layer's header (and footer) writer.
pub trait PacketBuilder {
    /// What this layer needs around its body.
    fn constraints(&self) -> PacketConstraints;

    /// Writes the header and footer around a body that is already in
    /// place. `target.header` and `target.footer` have exactly the lengths
    /// that [`constraints`](Self::constraints) gave, and `target.body` is
    /// within its limits.
    fn serialize(&self, target: SerializeTarget<'_>);
}

impl<B: PacketBuilder + ?Sized> PacketBuilder for &B {
    #[inline]
    fn constraints(&self) -> PacketConstraints {
        (**self).constraints()
    }
    #[inline]
    fn serialize(&self, target: SerializeTarget<'_>) {
        (**self).serialize(target)
    }
}

/// Something that can write itself into a buffer of known size: a body, or
/// a body nested in builders.
pub trait Serializer {
    /// The number of bytes [`serialize_exact`](Self::serialize_exact) will
    /// write, or why the packet cannot be built.
    fn serialized_len(&self) -> Result<usize, Error>;

    /// Writes the packet into `out`, whose length is exactly
    /// [`serialized_len`](Self::serialized_len) (callers guarantee it; the
    /// provided methods do).
    fn serialize_exact(&self, out: &mut [u8]);

    /// Appends the packet to `v` with its bodies in place and zeros where
    /// headers, padding and footers go, after `zeros` further zero bytes
    /// (the headers of enclosing layers, gathered into one fill);
    /// [`write_headers`](Self::write_headers) then fills the headers in.
    /// Together they build a packet in a fresh `Vec` without first
    /// zero-filling the bytes a body overwrites.
    ///
    /// The default appends zeros and calls
    /// [`serialize_exact`](Self::serialize_exact); bodies override it to
    /// copy themselves in directly.
    #[inline]
    fn append_to(&self, v: &mut Vec<u8>, zeros: usize) {
        let start = v.len() + zeros;
        let len = self.serialized_len().unwrap_or(0);
        v.resize(start + len, 0);
        if let Some(out) = v.get_mut(start..) {
            self.serialize_exact(out);
        }
    }

    /// Writes the headers and footers of a packet whose bodies
    /// [`append_to`](Self::append_to) has already put in place in `out`
    /// (exactly [`serialized_len`](Self::serialized_len) bytes). Bodies have
    /// nothing to write: the default does nothing.
    #[inline]
    fn write_headers(&self, out: &mut [u8]) {
        let _ = out;
    }

    /// Wraps this serializer as the body of `outer`.
    #[inline]
    fn wrap_in<B: PacketBuilder>(self, outer: B) -> Nested<Self, B>
    where
        Self: Sized,
    {
        Nested { inner: self, outer }
    }

    /// Writes the packet at the start of `out` and returns its length, or
    /// fails if `out` is too small. This is how a frame goes straight into a
    /// transmit buffer a device lends.
    #[inline]
    fn serialize_into(&self, out: &mut [u8]) -> Result<usize, Error> {
        let len = self.serialized_len()?;
        let available = out.len();
        match out.get_mut(..len) {
            Some(dst) => {
                self.serialize_exact(dst);
                Ok(len)
            }
            None => Err(Error::BufferTooSmall {
                needed: len,
                available,
            }),
        }
    }

    /// Builds the packet in a newly allocated [`PacketBuf`] with `headroom`
    /// spare bytes in front (for layers to be pushed later) and none
    /// behind: exactly one allocation.
    #[inline]
    fn serialize_vec(&self, headroom: usize) -> Result<PacketBuf, Error> {
        let len = self.serialized_len()?;
        let total = headroom.checked_add(len).ok_or(Error::LengthOverflow)?;
        let mut v = Vec::with_capacity(total);
        self.append_to(&mut v, headroom);
        if let Some(out) = v.get_mut(headroom..) {
            self.write_headers(out);
        }
        PacketBuf::from_vec_range(v, headroom, total)
    }

    /// Builds the packet into the caller's `buf`, replacing its contents
    /// and reusing its storage (growing it only if it is too small). The
    /// packet starts `headroom` bytes into the storage.
    #[inline]
    fn serialize_to_buf(&self, buf: &mut PacketBuf, headroom: usize) -> Result<(), Error> {
        let len = self.serialized_len()?;
        buf.reset(headroom);
        let out = buf.put(len);
        self.serialize_exact(out);
        Ok(())
    }
}

impl Serializer for &[u8] {
    #[inline]
    fn serialized_len(&self) -> Result<usize, Error> {
        Ok(self.len())
    }
    #[inline]
    fn append_to(&self, v: &mut Vec<u8>, zeros: usize) {
        zero_extend(v, zeros);
        v.extend_from_slice(self);
    }
    #[inline]
    fn serialize_exact(&self, out: &mut [u8]) {
        out.copy_from_slice(self);
    }
}

impl<const N: usize> Serializer for &[u8; N] {
    #[inline]
    fn serialized_len(&self) -> Result<usize, Error> {
        Ok(N)
    }
    #[inline]
    fn append_to(&self, v: &mut Vec<u8>, zeros: usize) {
        zero_extend(v, zeros);
        v.extend_from_slice(&self[..]);
    }
    #[inline]
    fn serialize_exact(&self, out: &mut [u8]) {
        out.copy_from_slice(&self[..]);
    }
}

impl Serializer for &PacketBuf {
    #[inline]
    fn serialized_len(&self) -> Result<usize, Error> {
        Ok(self.len())
    }
    #[inline]
    fn append_to(&self, v: &mut Vec<u8>, zeros: usize) {
        zero_extend(v, zeros);
        v.extend_from_slice(self.as_slice());
    }
    #[inline]
    fn serialize_exact(&self, out: &mut [u8]) {
        out.copy_from_slice(self.as_slice());
    }
}

/// A body with no bytes (a bare TCP ACK, an ARP packet's outer frame).
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyBody;

impl Serializer for EmptyBody {
    #[inline]
    fn serialized_len(&self) -> Result<usize, Error> {
        Ok(0)
    }
    #[inline]
    fn append_to(&self, v: &mut Vec<u8>, zeros: usize) {
        zero_extend(v, zeros);
    }
    #[inline]
    fn serialize_exact(&self, _out: &mut [u8]) {}
}

/// A body in two pieces, written back to back: the two halves of a ring
/// buffer that wrapped, so that a TCP payload is copied once, straight from
/// the send buffer into the frame.
#[derive(Debug, Clone, Copy)]
pub struct FragmentedBody<'a>(pub &'a [u8], pub &'a [u8]);

impl Serializer for FragmentedBody<'_> {
    #[inline]
    fn serialized_len(&self) -> Result<usize, Error> {
        self.0
            .len()
            .checked_add(self.1.len())
            .ok_or(Error::LengthOverflow)
    }
    #[inline]
    fn serialize_exact(&self, out: &mut [u8]) {
        let (a, b) = out.split_at_mut(self.0.len().min(out.len()));
        a.copy_from_slice(self.0);
        b.copy_from_slice(self.1);
    }
}

/// A serializer wrapped in a builder: see [`Serializer::wrap_in`].
#[derive(Debug, Clone, Copy)]
pub struct Nested<I, B> {
    inner: I,
    outer: B,
}

impl<I, B> Nested<I, B> {
    /// The wrapped serializer.
    pub fn inner(&self) -> &I {
        &self.inner
    }

    /// The outer builder.
    pub fn outer(&self) -> &B {
        &self.outer
    }

    /// The two parts.
    pub fn into_parts(self) -> (I, B) {
        (self.inner, self.outer)
    }
}

impl<I: Serializer, B: PacketBuilder> Serializer for Nested<I, B> {
    #[inline]
    fn serialized_len(&self) -> Result<usize, Error> {
        self.outer
            .constraints()
            .total_len(self.inner.serialized_len()?)
    }

    #[inline]
    fn serialize_exact(&self, out: &mut [u8]) {
        let c = self.outer.constraints();
        let (header, body, footer, inner_len) = split(out, &c, &self.inner);
        let (inner, padding) = body.split_at_mut(inner_len);
        self.inner.serialize_exact(inner);
        if !padding.is_empty() {
            padding.fill(0);
        }
        self.outer.serialize(SerializeTarget {
            header,
            body,
            footer,
        });
    }

    #[inline]
    fn append_to(&self, v: &mut Vec<u8>, zeros: usize) {
        let c = self.outer.constraints();
        let body_start = v.len() + zeros + c.header_len;
        self.inner.append_to(v, zeros + c.header_len);
        let body_len = v.len().saturating_sub(body_start);
        zero_extend(v, c.min_body_len.saturating_sub(body_len) + c.footer_len);
    }

    #[inline]
    fn write_headers(&self, out: &mut [u8]) {
        let c = self.outer.constraints();
        let (header, body, footer, inner_len) = split(out, &c, &self.inner);
        if let Some(inner) = body.get_mut(..inner_len) {
            self.inner.write_headers(inner);
        }
        self.outer.serialize(SerializeTarget {
            header,
            body,
            footer,
        });
    }
}

/// Appends `n` zeros (nothing at all when `n` is zero).
#[inline(always)]
fn zero_extend(v: &mut Vec<u8>, n: usize) {
    if n > 0 {
        v.resize(v.len() + n, 0);
    }
}

/// Splits a nested packet's bytes into header, body (with padding) and
/// footer, and gives the inner serializer's length within the body.
#[inline]
fn split<'a, S: Serializer>(
    out: &'a mut [u8],
    c: &PacketConstraints,
    inner: &S,
) -> (&'a mut [u8], &'a mut [u8], &'a mut [u8], usize) {
    let (header, rest) = out.split_at_mut(c.header_len.min(out.len()));
    let body_end = rest.len().saturating_sub(c.footer_len);
    let (body, footer) = rest.split_at_mut(body_end);
    // By contract `out` has the length `serialized_len` computed, so the
    // inner length is known to fit; the fallback only keeps this free of
    // panics if a caller breaks the contract.
    let inner_len = inner.serialized_len().unwrap_or(body.len()).min(body.len());
    (header, body, footer, inner_len)
}

impl PacketBuf {
    /// Wraps the buffer's current content, in place, as the body of
    /// `builder`: pads it to the minimum body length, pushes the header into
    /// the head room and puts the footer into the tail room (growing only
    /// if they are too small), then lets the builder write them. This is
    /// the path for a packet already in a buffer (forwarding, a payload
    /// placed by a socket) gaining its next header.
    pub fn encapsulate<B: PacketBuilder>(&mut self, builder: &B) -> Result<(), Error> {
        let c = builder.constraints();
        let body_len = self.len();
        c.total_len(body_len)?;
        if body_len < c.min_body_len {
            self.put(c.min_body_len - body_len).fill(0);
        }
        self.push(c.header_len);
        self.put(c.footer_len);
        let all = self.as_mut_slice();
        let (header, rest) = all.split_at_mut(c.header_len);
        let body_end = rest.len() - c.footer_len;
        let (body, footer) = rest.split_at_mut(body_end);
        builder.serialize(SerializeTarget {
            header,
            body,
            footer,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Tag(u8, usize);
    impl PacketBuilder for Tag {
        fn constraints(&self) -> PacketConstraints {
            PacketConstraints::new(1, 1, self.1, 10)
        }
        fn serialize(&self, t: SerializeTarget<'_>) {
            t.header[0] = self.0;
            t.footer[0] = t.body.len() as u8;
        }
    }

    #[test]
    fn pads_short_bodies_with_zeros() {
        let p = b"ab".wrap_in(Tag(7, 5)).serialize_vec(0).unwrap();
        assert_eq!(p.as_slice(), &[7, b'a', b'b', 0, 0, 0, 5]);
    }

    #[test]
    fn rejects_bodies_over_the_maximum() {
        let body = [0u8; 11];
        assert_eq!(
            body.as_slice().wrap_in(Tag(1, 0)).serialized_len(),
            Err(Error::BodyTooLong { len: 11, max: 10 })
        );
        // The inner layer's total (12) exceeds the outer maximum.
        assert_eq!(
            [0u8; 10]
                .as_slice()
                .wrap_in(Tag(1, 0))
                .wrap_in(Tag(2, 0))
                .serialized_len(),
            Err(Error::BodyTooLong { len: 12, max: 10 })
        );
    }

    #[test]
    fn reports_overflow() {
        struct Huge;
        impl PacketBuilder for Huge {
            fn constraints(&self) -> PacketConstraints {
                PacketConstraints::new(usize::MAX, 1, 0, usize::MAX)
            }
            fn serialize(&self, _: SerializeTarget<'_>) {}
        }
        assert_eq!(
            b"x".wrap_in(Huge).serialized_len(),
            Err(Error::LengthOverflow)
        );
    }

    #[test]
    fn serialize_into_checks_the_buffer() {
        let s = b"abc".wrap_in(Tag(1, 0));
        let mut small = [0u8; 4];
        assert_eq!(
            s.serialize_into(&mut small),
            Err(Error::BufferTooSmall {
                needed: 5,
                available: 4
            })
        );
        let mut big = [0xffu8; 8];
        assert_eq!(s.serialize_into(&mut big), Ok(5));
        assert_eq!(&big[..5], &[1, b'a', b'b', b'c', 3]);
    }

    #[test]
    fn fragmented_body_is_written_back_to_back() {
        let p = FragmentedBody(b"he", b"llo")
            .wrap_in(Tag(9, 0))
            .serialize_vec(3)
            .unwrap();
        assert_eq!(p.as_slice(), &[9, b'h', b'e', b'l', b'l', b'o', 5]);
        assert_eq!(p.headroom(), 3);
    }

    #[test]
    fn encapsulate_in_place_matches_nested() {
        let mut buf = PacketBuf::with_headroom(4, 16);
        buf.extend_from_slice(b"ab");
        buf.encapsulate(&Tag(1, 4)).unwrap();
        buf.encapsulate(&Tag(2, 0)).unwrap();
        let nested = b"ab"
            .wrap_in(Tag(1, 4))
            .wrap_in(Tag(2, 0))
            .serialize_vec(0)
            .unwrap();
        assert_eq!(buf.as_slice(), nested.as_slice());
        assert_eq!(buf.len(), 8);
        assert!(buf.encapsulate(&Tag(3, 0)).is_ok());
        assert!(buf.encapsulate(&Tag(3, 0)).is_ok());
        assert_eq!(
            buf.encapsulate(&Tag(3, 0)),
            Err(Error::BodyTooLong { len: 12, max: 10 })
        );
        assert_eq!(
            buf.len(),
            12,
            "a failed encapsulation leaves the buffer as it was"
        );
    }

    #[test]
    fn serialize_to_buf_reuses_storage() {
        let mut buf = PacketBuf::with_headroom(0, 64);
        buf.extend_from_slice(&[0xee; 30]);
        b"xyz"
            .wrap_in(Tag(4, 0))
            .serialize_to_buf(&mut buf, 10)
            .unwrap();
        assert_eq!(buf.as_slice(), &[4, b'x', b'y', b'z', 3]);
        assert_eq!(buf.headroom(), 10);
    }
}
