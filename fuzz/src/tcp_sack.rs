//! Fuzz target `tcp_sack`: the sender's SACK `Scoreboard` (RFC 6675)
//! driven by a sender that sends, takes acknowledgments with SACK blocks
//! chosen by the input (valid, D-SACK, stale, beyond `SND.NXT`, empty),
//! and asks `pipe`, `next_seg`, `rescue_seg` and `is_lost`, with
//! sequence numbers starting anywhere (so they wrap).
//!
//! The model is the set of SACKed bytes, computed from the blocks by the
//! rules of RFC 2018 §3 and RFC 2883 §4 (a first block below the
//! cumulative ACK or inside the second one is a D-SACK and ignored). The
//! target checks, after every operation:
//!
//! - at most `max_blocks` ranges, sorted, disjoint, non-adjacent, within
//!   `(SND.UNA, SND.NXT]`; `sacked_bytes` is their total;
//! - they are a subset of the model, and equal to it (with `newly_sacked`
//!   the model's growth) as long as the model never needed more ranges
//!   than the bound;
//! - `is_lost` follows RFC 6675 §4 `IsLost` computed from the ranges;
//!   `pipe` equals `SetPipe` computed octet by octet (small windows);
//! - `next_seg` returns a non-empty range within `[SND.UNA,
//!   new_data_end)` of at most one MSS, at or above `HighRxt`, not
//!   SACKed, and returns something whenever new data may be sent;
//!   `rescue_seg` ends at the highest unSACKed outstanding octet.
//!
//! A final phase calls every method with arbitrary numbers: no panic,
//! bounds held.

use arbitrary::{Arbitrary, Result, Unstructured};
use lamina_tcp::{SackBlock, Scoreboard, SeqNumber};

#[derive(Debug, Arbitrary)]
enum Op {
    Send(u16),
    Ack {
        advance: u16,
        /// `(left relative to the new SND.UNA, length)`.
        blocks: Vec<(i16, u16)>,
    },
    Check {
        high_rxt: u16,
        mss: u16,
        dupthresh: u8,
        new_data: u16,
        probe: u16,
    },
    Timeout,
}

/// Offsets relative to the first `SND.UNA`, half-open.
type Ranges = Vec<(u32, u32)>;

fn insert(model: &mut Ranges, l: u32, r: u32) {
    model.push((l, r));
    model.sort_unstable();
    let mut out: Ranges = Vec::new();
    for (l, r) in model.drain(..) {
        match out.last_mut() {
            Some(last) if l <= last.1 => last.1 = last.1.max(r),
            _ => out.push((l, r)),
        }
    }
    *model = out;
}

fn total(r: &Ranges) -> u32 {
    r.iter().map(|&(l, r)| r - l).sum()
}

struct Sender {
    base: u32,
    una: u32,
    nxt: u32,
    max: usize,
    sb: Scoreboard,
    model: Ranges,
    /// The model never needed more ranges than the bound since the last
    /// clear: the scoreboard must equal it.
    exact: bool,
}

impl Sender {
    fn seq(&self, rel: u32) -> SeqNumber {
        SeqNumber(self.base.wrapping_add(rel))
    }

    fn rel(&self, s: SeqNumber) -> u32 {
        s.0.wrapping_sub(self.base)
    }

    fn ranges(&self) -> Ranges {
        self.sb
            .ranges()
            .map(|b| (self.rel(b.left), self.rel(b.right)))
            .collect()
    }

    fn sacked(ranges: &Ranges, o: u32) -> bool {
        ranges.iter().any(|&(l, r)| l <= o && o < r)
    }

    fn ack(&mut self, advance: u16, blocks: &[(i16, u16)]) -> u32 {
        let window = self.nxt - self.una;
        self.una += u32::from(advance) % (window + 1);
        let (una, nxt) = (self.una, self.nxt);
        // Prune.
        for r in &mut self.model {
            r.0 = r.0.max(una);
            r.1 = r.1.min(nxt);
        }
        self.model.retain(|r| r.0 < r.1);
        let blocks: Vec<SackBlock> = blocks
            .iter()
            .take(4)
            .map(|&(l, len)| {
                let left = self.seq(una).wrapping_add(i32::from(l) as u32);
                SackBlock {
                    left,
                    right: left.wrapping_add(u32::from(len)),
                }
            })
            .collect();
        let before = total(&self.model);
        let update = self.sb.on_ack(self.seq(una), self.seq(nxt), &blocks);
        // RFC 2883 §4: a D-SACK is the first block, below the cumulative
        // ACK or within the second block.
        let rel = |s: SeqNumber| i64::from(s.0.wrapping_sub(self.base) as i32);
        let dsack = match blocks.as_slice() {
            [first, rest @ ..] => {
                rel(first.right) <= i64::from(una)
                    || rest.first().is_some_and(|second| {
                        rel(second.left) <= rel(first.left)
                            && rel(first.right) <= rel(second.right)
                            && rel(second.left) < rel(second.right)
                    })
            }
            [] => false,
        };
        assert_eq!(update.dsack, dsack, "D-SACK detection");
        for b in blocks.iter().skip(usize::from(dsack)) {
            let (l, r) = (rel(b.left), rel(b.right));
            // RFC 2018 §3: only data that was sent and not yet
            // cumulatively acknowledged can be SACKed.
            if l < r && r > i64::from(una) && r <= i64::from(nxt) {
                insert(&mut self.model, l.max(i64::from(una)) as u32, r as u32);
                // The scoreboard forgets when it needs more ranges than
                // its bound, even for a moment.
                if self.model.len() > self.max {
                    self.exact = false;
                }
            }
        }
        if self.exact {
            assert_eq!(update.newly_sacked, total(&self.model) - before);
        }
        let reported: u32 = blocks
            .iter()
            .map(|b| b.right.0.wrapping_sub(b.left.0))
            .fold(0, u32::saturating_add);
        assert!(update.newly_sacked <= reported);
        update.newly_sacked
    }

    fn invariants(&self) {
        let got = self.ranges();
        assert!(got.len() <= self.max, "{} ranges > {}", got.len(), self.max);
        assert_eq!(self.sb.len(), got.len());
        assert_eq!(self.sb.is_empty(), got.is_empty());
        assert_eq!(self.sb.sacked_bytes(), total(&got), "sacked_bytes");
        for w in got.windows(2) {
            assert!(w[0].1 < w[1].0, "ranges overlap or touch: {got:?}");
        }
        for &(l, r) in &got {
            assert!(
                self.una <= l && l < r && r <= self.nxt,
                "range {l}..{r} outside"
            );
            assert!(
                self.model.iter().any(|&(ml, mr)| ml <= l && r <= mr),
                "SACKed {l}..{r} never reported: {:?}",
                self.model
            );
        }
        if self.exact {
            assert_eq!(got, self.model, "scoreboard differs from the model");
        }
        assert_eq!(
            self.sb.highest_sacked().map(|s| self.rel(s)),
            got.last().map(|r| r.1)
        );
    }

    /// RFC 6675 §4 `IsLost`, from the ranges.
    fn is_lost(ranges: &Ranges, o: u32, mss: u32, dupthresh: u32) -> bool {
        let dupthresh = dupthresh.max(1);
        let count = ranges.iter().filter(|&&(l, _)| l > o).count() as u32;
        let bytes: u64 = ranges
            .iter()
            .filter(|&&(_, r)| r > o + 1)
            .map(|&(l, r)| u64::from(r - l.max(o + 1)))
            .sum();
        count >= dupthresh || bytes > u64::from(dupthresh - 1) * u64::from(mss)
    }

    fn check(&self, high_rxt: u16, mss: u16, dupthresh: u8, new_data: u16, probe: u16) {
        let (una, nxt) = (self.una, self.nxt);
        let window = nxt - una;
        let high_rxt = una + u32::from(high_rxt) % (window + 1);
        let mss = u32::from(mss % 1500);
        let dupthresh = u32::from(dupthresh % 6);
        let ranges = self.ranges();
        let o = una + u32::from(probe) % (window + 2);
        assert_eq!(
            self.sb.is_lost(self.seq(o), mss, dupthresh),
            Self::is_lost(&ranges, o, mss, dupthresh),
            "IsLost({o})"
        );
        assert_eq!(self.sb.is_sacked(self.seq(o)), Self::sacked(&ranges, o));
        let pipe = self.sb.pipe(
            self.seq(una),
            self.seq(nxt),
            self.seq(high_rxt),
            mss,
            dupthresh,
        );
        if window <= 4096 {
            // SetPipe, octet by octet.
            let mut want = 0u32;
            for s in una..nxt {
                if Self::sacked(&ranges, s) {
                    continue;
                }
                want += u32::from(!Self::is_lost(&ranges, s, mss, dupthresh));
                want += u32::from(s < high_rxt);
            }
            assert_eq!(pipe, want, "SetPipe");
        } else {
            assert!(pipe <= 2 * window);
        }
        let new_data_end = nxt + u32::from(new_data % 5000);
        let next = self.sb.next_seg(
            self.seq(una),
            self.seq(nxt),
            self.seq(high_rxt),
            self.seq(new_data_end),
            mss,
            dupthresh,
        );
        match next {
            Some((s, len)) => {
                let s = self.rel(s);
                assert!(len >= 1 && len <= mss.max(1), "NextSeg length {len}");
                assert!(s >= high_rxt.max(una), "NextSeg {s} below HighRxt");
                assert!(s + len <= new_data_end, "NextSeg beyond new data end");
                if s < nxt {
                    assert!(s + len <= nxt);
                    for x in [s, s + len - 1] {
                        assert!(!Self::sacked(&ranges, x), "NextSeg resends SACKed {x}");
                    }
                } else {
                    assert_eq!(s, nxt, "new data starts at SND.NXT");
                }
            }
            None => assert_eq!(new_data_end, nxt, "NextSeg: nothing though new data waits"),
        }
        match self.sb.rescue_seg(self.seq(una), self.seq(nxt), mss) {
            Some((s, len)) => {
                let s = self.rel(s);
                assert!(len >= 1 && len <= mss.max(1));
                assert!(una <= s && s + len <= nxt);
                assert!(!Self::sacked(&ranges, s) && !Self::sacked(&ranges, s + len - 1));
                // Everything above it is SACKed.
                let mut top = nxt;
                for &(l, r) in ranges.iter().rev() {
                    if r == top {
                        top = l;
                    }
                }
                assert_eq!(s + len, top, "rescue does not end at the highest hole");
            }
            None => {
                let unsacked = window - total(&ranges);
                assert_eq!(
                    unsacked, 0,
                    "no rescue though {unsacked} bytes are not SACKed"
                );
            }
        }
    }
}

/// Runs one input; must never panic.
pub fn fuzz(data: &[u8]) {
    let _ = run(&mut Unstructured::new(data));
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let max = usize::from(u.int_in_range(0..=8u8)?);
    let mut s = Sender {
        base: u.arbitrary()?,
        una: 0,
        nxt: 0,
        max,
        sb: Scoreboard::new(max),
        model: Vec::new(),
        exact: true,
    };
    assert_eq!(s.sb.max_blocks(), max);
    let mut steps = 0;
    while !u.is_empty() && steps < 200 {
        steps += 1;
        match u.arbitrary::<Op>()? {
            Op::Send(n) => {
                let room = 60_000 - (s.nxt - s.una);
                s.nxt += u32::from(n % 3000).min(room);
            }
            Op::Ack { advance, blocks } => {
                s.ack(advance, &blocks);
            }
            Op::Check {
                high_rxt,
                mss,
                dupthresh,
                new_data,
                probe,
            } => s.check(high_rxt, mss, dupthresh, new_data, probe),
            Op::Timeout => {
                s.sb.clear();
                s.model.clear();
                s.exact = true;
            }
        }
        s.invariants();
        // Sequence space is finite: stop before offsets could wrap.
        if s.nxt > 1 << 30 {
            break;
        }
    }
    wild(u, &mut s.sb, max)
}

/// Arbitrary numbers everywhere: no panic, the bound and the total held.
fn wild(u: &mut Unstructured<'_>, sb: &mut Scoreboard, max: usize) -> Result<()> {
    let mut steps = 0;
    while !u.is_empty() && steps < 50 {
        steps += 1;
        let una = SeqNumber(u.arbitrary()?);
        let nxt = SeqNumber(u.arbitrary()?);
        let a = SeqNumber(u.arbitrary()?);
        let b = SeqNumber(u.arbitrary()?);
        let mss: u32 = u.arbitrary()?;
        let dupthresh: u32 = u.arbitrary()?;
        match u.int_in_range(0..=4u8)? {
            0 => {
                let blocks: Vec<SackBlock> = (0..u.int_in_range(0..=5u8)?)
                    .map(|_| {
                        Ok(SackBlock {
                            left: SeqNumber(u.arbitrary()?),
                            right: SeqNumber(u.arbitrary()?),
                        })
                    })
                    .collect::<Result<_>>()?;
                sb.on_ack(una, nxt, &blocks);
            }
            1 => {
                let _ = sb.pipe(una, nxt, a, mss, dupthresh);
            }
            2 => {
                let _ = sb.next_seg(una, nxt, a, b, mss, dupthresh);
            }
            3 => {
                let _ = sb.rescue_seg(una, nxt, mss);
            }
            _ => {
                let _ = sb.is_lost(a, mss, dupthresh);
                let _ = sb.is_sacked(a);
            }
        }
        assert!(sb.len() <= max);
        let sum = sb
            .ranges()
            .map(|r| r.right.0.wrapping_sub(r.left.0))
            .fold(0u32, u32::wrapping_add);
        assert_eq!(sb.sacked_bytes(), sum, "sacked_bytes after wild calls");
    }
    Ok(())
}
