//! Fuzz target `tcp_buffers`: `lamina_tcp::RingBuffer` and
//! `lamina_tcp::Assembler` under operation streams chosen by the input,
//! each against a plain model.
//!
//! The ring's model is a `VecDeque` of the readable bytes plus a map of
//! the bytes placed past the readable end (`write_at`,
//! `free_slices_mut`), keyed by their offset from that end; bytes that
//! become readable by `commit` without having been placed are unknown
//! (the ring does not promise their value) and are not compared. After
//! every operation the target checks the capacity never changes, `len`,
//! `free`, `is_empty` and `is_full` agree with the model, and `peek`,
//! `read` and `slices` return the model's bytes.
//!
//! The assembler's model is a bitmap of the offsets (relative to the
//! front) that arrived. The target checks that `add` refuses exactly the
//! additions that would open one out-of-order range too many, that
//! `ranges` are the bitmap's runs (sorted, disjoint, non-adjacent, at
//! most `max_ranges` beyond offset 0), that `remove_front`, `advance` and
//! `contains` agree with the bitmap, and that `sack_blocks` reports
//! distinct held ranges, the most recently extended first (RFC 2018 §4).
//! Wild operations (offsets near `usize::MAX`) end the modelled part and
//! only need not panic.
//!
//! The send queue (`lamina_tcp::SendQueue`) runs writes, transmissions
//! (`prepare`, sealed or not), acknowledgements and clears against a
//! `VecDeque` of its bytes: lengths agree, every range reads the model's
//! bytes, a shared piece holds the whole range, and every piece lent
//! (kept to the end) still holds the bytes it was lent with.

use std::collections::{BTreeMap, VecDeque};

use arbitrary::{Arbitrary, Result, Unstructured};
use lamina_tcp::{Assembler, RingBuffer, SendQueue, SeqNumber};

/// Runs one input; must never panic.
pub fn fuzz(data: &[u8]) {
    let mut u = Unstructured::new(data);
    // The low bit chooses the ring (as inputs always did), the high bit
    // the send queue over the assembler.
    let pick = u.arbitrary::<u8>().unwrap_or(0);
    if pick & 1 == 1 {
        let _ = ring(&mut u);
    } else if pick & 0x80 != 0 {
        let _ = send_queue(&mut u);
    } else {
        let _ = assembler(&mut u);
    }
}

#[derive(Debug, Arbitrary)]
enum SendOp {
    Write(u16, u8),
    /// Offset, length, seal, keep what is lent.
    Prepare(u16, u16, bool, bool),
    Consume(u16),
    Clear,
}

fn send_queue(u: &mut Unstructured<'_>) -> Result<()> {
    let cap = usize::try_from(u.int_in_range(0u32..=300_000)?).unwrap_or(0);
    let mut q = SendQueue::new(cap);
    let mut model: VecDeque<u8> = VecDeque::new();
    let mut lent: Vec<(Vec<u8>, bytes::Bytes)> = Vec::new();
    for _ in 0..u.int_in_range(0..=512)? {
        match u.arbitrary()? {
            SendOp::Write(n, seed) => {
                let data = pattern(seed, usize::from(n));
                let took = q.write(&data);
                assert_eq!(took, data.len().min(cap - model.len()), "write took");
                model.extend(&data[..took]);
            }
            SendOp::Prepare(off, n, seal, keep) => {
                let off = usize::from(off) % (model.len() + 1);
                let n = usize::from(n);
                let ((a, b), shared) = q.prepare(off, n, seal);
                let want: Vec<u8> = model.iter().skip(off).take(n).copied().collect();
                assert_eq!(a.len() + b.len(), want.len(), "range length");
                assert_eq!(a, &want[..a.len()]);
                assert_eq!(b, &want[a.len()..]);
                if let Some(piece) = shared {
                    assert!(seal, "a piece lent without sealing asked");
                    assert!(b.is_empty(), "a shared range in two slices");
                    let (base, at) = (piece.as_ptr() as usize, a.as_ptr() as usize);
                    assert!(at >= base && at + a.len() <= base + piece.len());
                    if keep && !a.is_empty() && lent.len() < 16 {
                        lent.push((a.to_vec(), piece.slice_ref(a)));
                    }
                }
            }
            SendOp::Consume(n) => {
                let n = usize::from(n);
                let done = q.consume(n);
                assert_eq!(done, n.min(model.len()));
                model.drain(..done);
            }
            SendOp::Clear => {
                q.clear();
                model.clear();
            }
        }
        assert_eq!(q.len(), model.len());
        assert_eq!(q.free(), cap - model.len());
        assert_eq!(q.is_empty(), model.is_empty());
    }
    for (bytes, piece) in &lent {
        assert_eq!(&piece[..], &bytes[..], "a lent piece changed");
    }
    Ok(())
}

#[derive(Debug, Arbitrary)]
enum RingOp {
    Write(u16, u8),
    WriteAt(u16, u16, u8),
    FreeSlices(u16, u16, u8),
    Commit(u16),
    Peek(u16, u16),
    Read(u16),
    Consume(u16),
    Slices(u16, u16),
    Clear,
}

/// Bytes `[0, n)` of a pattern starting at `seed`.
fn pattern(seed: u8, n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| seed.wrapping_add((i as u8).wrapping_mul(31)) ^ (i >> 8) as u8)
        .collect()
}

struct RingModel {
    readable: VecDeque<Option<u8>>,
    /// Offset from the readable end → byte placed there.
    placed: BTreeMap<usize, u8>,
}

impl RingModel {
    /// The readable end moved forward by `n` bytes (written or committed):
    /// placed offsets shift down; those below `n` are gone.
    fn shift(&mut self, n: usize) -> Vec<Option<u8>> {
        let old = std::mem::take(&mut self.placed);
        let mut taken = vec![None; n];
        for (k, v) in old {
            if k < n {
                taken[k] = Some(v);
            } else {
                self.placed.insert(k - n, v);
            }
        }
        taken
    }

    fn check_bytes(&self, offset: usize, got: &[u8]) {
        for (i, &b) in got.iter().enumerate() {
            if let Some(Some(want)) = self.readable.get(offset + i) {
                assert_eq!(b, *want, "ring byte at {}", offset + i);
            }
        }
    }
}

fn ring(u: &mut Unstructured<'_>) -> Result<()> {
    let cap = usize::from(u.int_in_range(0..=600u16)?);
    let mut r = RingBuffer::new(cap);
    let mut m = RingModel {
        readable: VecDeque::new(),
        placed: BTreeMap::new(),
    };
    let mut steps = 0;
    while !u.is_empty() && steps < 300 {
        steps += 1;
        let op: RingOp = u.arbitrary()?;
        let free = cap - m.readable.len();
        match op {
            RingOp::Write(n, seed) => {
                let data = pattern(seed, usize::from(n) % 700);
                let got = r.write(&data);
                assert_eq!(got, data.len().min(free));
                m.shift(got);
                m.readable.extend(data[..got].iter().map(|&b| Some(b)));
            }
            RingOp::WriteAt(off, n, seed) => {
                let off = usize::from(off) % 700;
                let data = pattern(seed, usize::from(n) % 700);
                let got = r.write_at(off, &data);
                let want = if off >= free {
                    0
                } else {
                    data.len().min(free - off)
                };
                assert_eq!(got, want);
                for (i, &b) in data[..got].iter().enumerate() {
                    m.placed.insert(off + i, b);
                }
            }
            RingOp::FreeSlices(off, n, seed) => {
                let off = usize::from(off) % 700;
                let n = usize::from(n) % 700;
                let (a, b) = r.free_slices_mut(off, n);
                let off = off.min(free);
                let want = n.min(free - off);
                assert_eq!(a.len() + b.len(), want);
                assert!(b.is_empty() || !a.is_empty());
                let data = pattern(seed, want);
                let (da, db) = data.split_at(a.len());
                a.copy_from_slice(da);
                b.copy_from_slice(db);
                for (i, &byte) in data.iter().enumerate() {
                    m.placed.insert(off + i, byte);
                }
            }
            RingOp::Commit(n) => {
                let n = usize::from(n).min(free);
                r.commit(n);
                let taken = m.shift(n);
                m.readable.extend(taken);
            }
            RingOp::Peek(off, n) => {
                let off = usize::from(off) % 700;
                let mut buf = vec![0u8; usize::from(n) % 700];
                let got = r.peek(off, &mut buf);
                assert_eq!(got, buf.len().min(m.readable.len().saturating_sub(off)));
                m.check_bytes(off, &buf[..got]);
            }
            RingOp::Read(n) => {
                let mut buf = vec![0u8; usize::from(n) % 700];
                let got = r.read(&mut buf);
                assert_eq!(got, buf.len().min(m.readable.len()));
                m.check_bytes(0, &buf[..got]);
                m.readable.drain(..got);
            }
            RingOp::Consume(n) => {
                let got = r.consume(usize::from(n));
                assert_eq!(got, usize::from(n).min(m.readable.len()));
                m.readable.drain(..got);
            }
            RingOp::Slices(off, n) => {
                let off = usize::from(off) % 700;
                let (a, b) = r.slices(off, usize::from(n));
                let start = off.min(m.readable.len());
                let want = usize::from(n).min(m.readable.len() - start);
                assert_eq!(a.len() + b.len(), want);
                assert!(b.is_empty() || !a.is_empty());
                m.check_bytes(start, &[a, b].concat());
            }
            RingOp::Clear => {
                r.clear();
                m.readable.clear();
                m.placed.clear();
            }
        }
        assert_eq!(r.capacity(), cap, "the capacity never changes");
        assert_eq!(r.len(), m.readable.len());
        assert_eq!(r.free(), cap - m.readable.len());
        assert_eq!(r.is_empty(), m.readable.is_empty());
        assert_eq!(r.is_full(), m.readable.len() == cap);
        assert!(m.placed.keys().all(|&k| k < r.free()));
    }
    // Everything readable reads back as the model says.
    let mut all = vec![0u8; m.readable.len()];
    assert_eq!(r.peek(0, &mut all), all.len());
    m.check_bytes(0, &all);
    Ok(())
}

#[derive(Debug, Arbitrary)]
enum AsmOp {
    Add(u16, u16),
    RemoveFront,
    Advance(u16),
    Contains(u16),
    Sack(u32, u8),
    Clear,
    /// Unmodelled: offsets anywhere in `usize`.
    Wild(u64, u64, u64),
}

/// The modelled offsets: `[0, SPAN)`.
const SPAN: usize = 2048;

/// The runs of set bits: `(start, end)`.
fn runs(bits: &[bool]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bits.len() {
        if bits[i] {
            let s = i;
            while i < bits.len() && bits[i] {
                i += 1;
            }
            out.push((s, i));
        } else {
            i += 1;
        }
    }
    out
}

fn assembler(u: &mut Unstructured<'_>) -> Result<()> {
    let max = usize::from(u.int_in_range(0..=8u8)?);
    let mut a = Assembler::new(max);
    let mut bits = vec![false; SPAN];
    // The offset most recently added (successfully, non-empty).
    let mut last_added: Option<usize> = None;
    let mut steps = 0;
    while !u.is_empty() && steps < 300 {
        steps += 1;
        match u.arbitrary::<AsmOp>()? {
            AsmOp::Add(off, len) => {
                let off = usize::from(off) % 1024;
                let len = usize::from(len) % 512;
                let before = runs(&bits);
                // Opens a new range iff it neither overlaps nor touches one.
                let touches = before.iter().any(|&(s, e)| s <= off + len && off <= e);
                let ooo = before.iter().filter(|&&(s, _)| s != 0).count();
                let refused = len > 0 && !touches && off != 0 && ooo >= max;
                match a.add(off, len) {
                    Ok(()) => {
                        assert!(!refused, "add({off}, {len}) accepted beyond {max} ranges");
                        bits[off..off + len].fill(true);
                        if len > 0 {
                            last_added = Some(off);
                        }
                    }
                    Err(_) => assert!(refused, "add({off}, {len}) refused: {before:?}"),
                }
            }
            AsmOp::RemoveFront => {
                let want = if bits[0] {
                    bits.iter().position(|&b| !b).unwrap_or(SPAN)
                } else {
                    0
                };
                assert_eq!(a.remove_front(), want);
                bits.drain(..want);
                bits.resize(SPAN, false);
                last_added = last_added.and_then(|o| o.checked_sub(want));
            }
            AsmOp::Advance(n) => {
                let n = usize::from(n) % 1024;
                a.advance(n);
                bits.drain(..n);
                bits.resize(SPAN, false);
                last_added = None;
            }
            AsmOp::Contains(off) => {
                let off = usize::from(off) % SPAN;
                assert_eq!(a.contains(off), bits[off], "contains({off})");
            }
            AsmOp::Sack(rcv_nxt, n) => {
                let n = usize::from(n % 6);
                let rcv_nxt = SeqNumber(rcv_nxt);
                let blocks = a.sack_blocks(rcv_nxt, n);
                let held: Vec<(usize, usize)> =
                    runs(&bits).into_iter().filter(|&(s, _)| s != 0).collect();
                assert_eq!(blocks.len(), held.len().min(n).min(4));
                let mut seen = Vec::new();
                for b in blocks.iter() {
                    let s = b.left.0.wrapping_sub(rcv_nxt.0) as usize;
                    let e = b.right.0.wrapping_sub(rcv_nxt.0) as usize;
                    assert!(held.contains(&(s, e)), "SACK block {s}..{e} not held");
                    assert!(!seen.contains(&s), "SACK block reported twice");
                    seen.push(s);
                }
                // RFC 2018 §4: the block with the most recent segment first.
                if let (Some(o), Some(first)) = (last_added, blocks.iter().next())
                    && let Some(&(s, e)) = held.iter().find(|&&(s, e)| s <= o && o < e)
                {
                    let fs = first.left.0.wrapping_sub(rcv_nxt.0) as usize;
                    let fe = first.right.0.wrapping_sub(rcv_nxt.0) as usize;
                    assert_eq!((fs, fe), (s, e), "most recent block not first");
                }
            }
            AsmOp::Clear => {
                a.clear();
                bits.fill(false);
                last_added = None;
            }
            AsmOp::Wild(x, y, z) => {
                // No model from here on: only no panic and the bound.
                let _ = a.add(x as usize, y as usize);
                a.advance(z as usize);
                let _ = a.contains(y as usize);
                let _ = a.sack_blocks(SeqNumber(z as u32), 4);
                let _ = a.remove_front();
                let out = a.ranges().filter(|&(s, _)| s != 0).count();
                assert!(out <= max);
                return Ok(());
            }
        }
        let got: Vec<(usize, usize)> = a.ranges().collect();
        assert_eq!(got, runs(&bits), "ranges differ from the model");
        assert_eq!(a.len(), got.len());
        assert_eq!(a.is_empty(), got.is_empty());
        assert!(got.iter().filter(|&&(s, _)| s != 0).count() <= max);
        assert_eq!(a.max_ranges(), max);
    }
    Ok(())
}
