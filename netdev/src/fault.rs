//! [`FaultInjector`]: seeded, reproducible loss, duplication, reordering,
//! corruption, delay and rate limiting around any [`Device`].

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use lamina_netbuf::{Duration, Instant, Rng, SeededRng};

use crate::frame::{Frame, FreeList};
use crate::{Capabilities, ChecksumSet, Device, Error, RxMeta, RxToken, Stats, TxMeta, TxToken};

/// Frames the receive path may discard in one [`Device::receive`] call
/// before it gives up for now (the inner device's `poll_at` or readiness
/// then says there is more).
const SCAN_LIMIT: usize = 64;

/// A token-bucket rate limit; frames beyond it are dropped (a policer) and
/// counted in [`FaultCounters::rate_limited`]. The bucket starts full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateLimit {
    /// At most `per_second` frames per second, bursts of `burst` frames.
    Frames {
        /// Sustained rate in frames per second.
        per_second: u64,
        /// Bucket size in frames.
        burst: u64,
    },
    /// At most `per_second` bytes per second, bursts of `burst` bytes (a
    /// frame longer than `burst` never passes).
    Bytes {
        /// Sustained rate in bytes per second.
        per_second: u64,
        /// Bucket size in bytes.
        burst: u64,
    },
}

impl RateLimit {
    fn rate_and_burst(self) -> (u64, u64) {
        match self {
            RateLimit::Frames { per_second, burst } | RateLimit::Bytes { per_second, burst } => {
                (per_second, burst)
            }
        }
    }

    fn cost(self, len: usize) -> u64 {
        match self {
            RateLimit::Frames { .. } => 1,
            RateLimit::Bytes { .. } => len as u64,
        }
    }
}

/// The faults applied in one direction. Probabilities are in `0.0..=1.0`
/// (values outside are clamped, NaN counts as 0). Start from
/// [`FaultConfig::new`] (no faults) and add:
///
/// ```
/// use lamina_netdev::fault::FaultConfig;
/// use lamina_netbuf::Duration;
/// let cfg = FaultConfig::new()
///     .with_loss(0.01)
///     .with_reorder(0.05, 2)
///     .with_delay(Duration::from_millis(20), Duration::from_millis(5));
/// assert_eq!(cfg.reorder_distance, 2);
/// ```
///
/// Each frame meets the faults in this order: rate limit (drop), loss
/// (drop), corruption (one random bit flipped), duplication (a second copy
/// right behind it), reordering (held back until `reorder_distance` later
/// frames have passed, or `reorder_timeout`), delay (`delay` plus a uniform
/// `0..=jitter`; jitter can reorder frames, as on a real path).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct FaultConfig {
    /// Probability that a frame is lost.
    pub loss: f64,
    /// Probability that a frame is delivered twice.
    pub duplicate: f64,
    /// Probability that a frame is held back and overtaken.
    pub reorder: f64,
    /// How many later frames overtake a held-back frame (at least 1).
    pub reorder_distance: u32,
    /// The longest a held-back frame waits for its overtakers.
    pub reorder_timeout: Duration,
    /// Probability that one random bit of a frame is flipped. A corrupted
    /// received frame loses its verified-checksum flags.
    pub corrupt: f64,
    /// Fixed delay added to every frame.
    pub delay: Duration,
    /// Random extra delay, uniform in `0..=jitter`, per frame.
    pub jitter: Duration,
    /// A rate limit, if any.
    pub rate_limit: Option<RateLimit>,
}

impl FaultConfig {
    /// No faults at all; reordering (when enabled) defaults to a distance
    /// of 1 frame and a timeout of 10 ms.
    pub const fn new() -> FaultConfig {
        FaultConfig {
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_distance: 1,
            reorder_timeout: Duration::from_millis(10),
            corrupt: 0.0,
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            rate_limit: None,
        }
    }

    /// With loss probability `p`.
    #[must_use]
    pub const fn with_loss(mut self, p: f64) -> FaultConfig {
        self.loss = p;
        self
    }

    /// With duplication probability `p`.
    #[must_use]
    pub const fn with_duplicate(mut self, p: f64) -> FaultConfig {
        self.duplicate = p;
        self
    }

    /// With reordering probability `p`, each held frame overtaken by
    /// `distance` later ones.
    #[must_use]
    pub const fn with_reorder(mut self, p: f64, distance: u32) -> FaultConfig {
        self.reorder = p;
        self.reorder_distance = distance;
        self
    }

    /// With corruption probability `p`.
    #[must_use]
    pub const fn with_corrupt(mut self, p: f64) -> FaultConfig {
        self.corrupt = p;
        self
    }

    /// With a fixed delay plus uniform jitter.
    #[must_use]
    pub const fn with_delay(mut self, delay: Duration, jitter: Duration) -> FaultConfig {
        self.delay = delay;
        self.jitter = jitter;
        self
    }

    /// With a rate limit.
    #[must_use]
    pub const fn with_rate_limit(mut self, limit: RateLimit) -> FaultConfig {
        self.rate_limit = Some(limit);
        self
    }
}

impl Default for FaultConfig {
    fn default() -> FaultConfig {
        FaultConfig::new()
    }
}

/// What the injector did in one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct FaultCounters {
    /// Frames lost on purpose.
    pub dropped: u64,
    /// Frames sent twice.
    pub duplicated: u64,
    /// Frames held back to be overtaken.
    pub reordered: u64,
    /// Frames with a flipped bit.
    pub corrupted: u64,
    /// Frames delayed (by a non-zero delay).
    pub delayed: u64,
    /// Frames dropped by the rate limit.
    pub rate_limited: u64,
    /// Frames (or duplicates) dropped because the injector's holding queue
    /// was full or the frame longer than its buffers.
    pub overflowed: u64,
}

/// [`FaultCounters`] for both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct FaultStats {
    /// Faults applied to received frames.
    pub rx: FaultCounters,
    /// Faults applied to transmitted frames.
    pub tx: FaultCounters,
}

/// A [`Device`] wrapper that applies seeded, reproducible faults to the
/// frames crossing it, per direction.
///
/// The same seed, configuration and sequence of calls (frames and `now`
/// values) always give the same outcome: each direction draws from its own
/// [`SeededRng`] a fixed set of numbers per frame, never per call, so how
/// often the caller polls does not change what happens.
///
/// Frames that pass untouched (or only corrupted) keep the zero-copy path
/// of the inner device. Frames held for delay, reordering or duplication
/// are copied into the injector's own bounded set of buffers
/// ([`with_max_held`](Self::with_max_held), default 64 per direction);
/// held transmit frames are pushed into the inner device on the next
/// [`transmit`](Device::transmit), [`receive`](Device::receive) or
/// [`flush`](Device::flush) at or after their time, and
/// [`poll_at`](Device::poll_at) reports when that is.
///
/// The injector's [`Stats`] count what crossed its upper side: frames
/// handed to or taken from the stack, and as drops the frames it discarded.
///
/// ```
/// use lamina_netdev::fault::{FaultConfig, FaultInjector};
/// use lamina_netdev::{Device, Loopback, TxToken};
/// use lamina_netbuf::Instant;
///
/// let mut dev = FaultInjector::new(Loopback::default(), 7)
///     .with_tx(FaultConfig::new().with_loss(0.5));
/// let now = Instant::ZERO;
/// for _ in 0..40 {
///     dev.transmit(now).unwrap().consume(60, |f| f.fill(0))?;
///     while dev.receive(now).is_some() {}
/// }
/// let lost = dev.fault_stats().tx.dropped;
/// assert!(lost > 5 && lost < 35);
/// assert_eq!(dev.inner().stats().tx_packets, 40 - lost);
/// # Ok::<(), lamina_netdev::Error>(())
/// ```
#[derive(Debug)]
pub struct FaultInjector<D> {
    inner: D,
    rx: Side,
    tx: Side,
}

impl<D: Device> FaultInjector<D> {
    /// Wraps `inner` with no faults configured yet; `seed` fixes every
    /// random choice.
    pub fn new(inner: D, seed: u64) -> FaultInjector<D> {
        let max_len = inner.capabilities().max_tx_len();
        FaultInjector {
            inner,
            rx: Side::new(SeededRng::new(seed), max_len, 64),
            tx: Side::new(SeededRng::new(seed ^ 0x9E37_79B9_7F4A_7C15), max_len, 64),
        }
    }
}

impl<D> FaultInjector<D> {
    /// With these faults on received frames.
    #[must_use]
    pub fn with_rx(mut self, config: FaultConfig) -> FaultInjector<D> {
        self.rx.cfg = config;
        self
    }

    /// With these faults on transmitted frames.
    #[must_use]
    pub fn with_tx(mut self, config: FaultConfig) -> FaultInjector<D> {
        self.tx.cfg = config;
        self
    }

    /// With room for `max_held` held frames per direction (at least 1).
    #[must_use]
    pub fn with_max_held(mut self, max_held: usize) -> FaultInjector<D> {
        for side in [&mut self.rx, &mut self.tx] {
            side.max_held = max_held.max(1);
            side.free = FreeList::new(side.free.buf_len(), side.max_held.saturating_add(1));
        }
        self
    }

    /// The receive-side faults, to change them on the fly (from the next
    /// frame on).
    pub fn rx_config_mut(&mut self) -> &mut FaultConfig {
        // Draws made ahead for the next frame followed the old settings.
        self.rx.pending = None;
        &mut self.rx.cfg
    }

    /// The transmit-side faults, to change them on the fly (from the next
    /// frame on).
    pub fn tx_config_mut(&mut self) -> &mut FaultConfig {
        &mut self.tx.cfg
    }

    /// What the injector has done so far.
    pub fn fault_stats(&self) -> FaultStats {
        FaultStats {
            rx: self.rx.counters,
            tx: self.tx.counters,
        }
    }

    /// Frames currently held back (received, transmitted).
    pub fn held(&self) -> (usize, usize) {
        (self.rx.held.len(), self.tx.held.len())
    }

    /// The wrapped device.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// The wrapped device, mutably.
    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.inner
    }

    /// Unwraps the device; held frames are discarded.
    pub fn into_inner(self) -> D {
        self.inner
    }
}

impl<D: Device> FaultInjector<D> {
    /// Pushes held transmit frames that are due at `now` into the inner
    /// device, as far as it has room.
    fn flush_tx(&mut self, now: Instant) {
        while let Some(i) = self.tx.ready_index(now) {
            let Some(mut token) = self.inner.transmit(now) else {
                break;
            };
            let held = self.tx.held.swap_remove(i);
            token.set_meta(held.tx_meta);
            let src = held.frame.data();
            let sent = token.consume(src.len(), |dst| {
                if dst.len() == src.len() {
                    dst.copy_from_slice(src);
                }
            });
            if sent.is_err() {
                self.tx.stats.tx_errors = self.tx.stats.tx_errors.wrapping_add(1);
            }
            self.tx.free.give(held.frame.buf);
            self.tx.on_delivered(now);
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Draws {
    lose: bool,
    duplicate: bool,
    reorder: bool,
    corrupt: Option<u64>,
    jitter_us: u64,
}

fn chance(rng: &mut SeededRng, p: f64) -> bool {
    // `!(p > 0.0)` also catches NaN.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    if !(p > 0.0) {
        return false;
    }
    if p >= 1.0 {
        return true;
    }
    // 53 random bits as a uniform number in [0, 1).
    let x = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
    x < p
}

impl Draws {
    fn draw(rng: &mut SeededRng, cfg: &FaultConfig) -> Draws {
        let lose = chance(rng, cfg.loss);
        let corrupt = chance(rng, cfg.corrupt).then(|| rng.next_u64());
        let duplicate = chance(rng, cfg.duplicate);
        let reorder = chance(rng, cfg.reorder);
        let jitter_max = cfg.jitter.total_micros();
        let jitter_us = if jitter_max == 0 {
            0
        } else if jitter_max == u64::MAX {
            rng.next_u64()
        } else {
            rng.next_u64() % (jitter_max + 1)
        };
        Draws {
            lose,
            duplicate,
            reorder,
            corrupt,
            jitter_us,
        }
    }

    fn delay(&self, cfg: &FaultConfig) -> Duration {
        cfg.delay
            .saturating_add(Duration::from_micros(self.jitter_us))
    }

    /// Whether the frame can pass on the zero-copy path (at most corrupted).
    fn passes_in_place(&self, cfg: &FaultConfig) -> bool {
        !self.lose && !self.duplicate && !self.reorder && self.delay(cfg).is_zero()
    }
}

/// Flips bit `r mod 8·len` of `buf`; false for an empty buffer.
fn flip_bit(buf: &mut [u8], r: u64) -> bool {
    let bits = (buf.len() as u64).saturating_mul(8);
    if bits == 0 {
        return false;
    }
    let bit = r % bits;
    match buf.get_mut((bit / 8) as usize) {
        Some(byte) => {
            *byte ^= 1 << (bit % 8);
            true
        }
        None => false,
    }
}

#[derive(Debug, Default)]
struct Bucket {
    /// Tokens times 10^6, so that refills at any rate stay exact.
    scaled: u128,
    last: Option<Instant>,
}

impl Bucket {
    fn refill(&mut self, limit: RateLimit, now: Instant) {
        let (rate, burst) = limit.rate_and_burst();
        let cap = u128::from(burst).saturating_mul(1_000_000);
        match self.last {
            None => {
                self.scaled = cap;
                self.last = Some(now);
            }
            Some(last) if now > last => {
                let elapsed = u128::from(now.saturating_duration_since(last).total_micros());
                self.scaled = self
                    .scaled
                    .saturating_add(elapsed.saturating_mul(u128::from(rate)))
                    .min(cap);
                self.last = Some(now);
            }
            Some(_) => self.scaled = self.scaled.min(cap),
        }
    }

    fn allows(&mut self, limit: RateLimit, now: Instant, cost: u64) -> bool {
        self.refill(limit, now);
        self.scaled >= u128::from(cost).saturating_mul(1_000_000)
    }

    fn try_take(&mut self, limit: RateLimit, now: Instant, cost: u64) -> bool {
        if self.allows(limit, now, cost) {
            self.scaled -= u128::from(cost).saturating_mul(1_000_000);
            true
        } else {
            false
        }
    }
}

#[derive(Debug)]
struct Held {
    frame: Frame,
    rx_meta: RxMeta,
    tx_meta: TxMeta,
    /// Earliest release (arrival plus delay).
    base: Instant,
    /// Release time: `base`, or the reordering timeout while overtakers are
    /// still awaited.
    due: Instant,
    overtakers: u32,
    seq: u64,
}

/// One direction's state.
#[derive(Debug)]
struct Side {
    cfg: FaultConfig,
    rng: SeededRng,
    /// Random draws for the next received frame, kept until a frame comes
    /// so that the draws per frame do not depend on how often we are polled.
    pending: Option<Draws>,
    bucket: Bucket,
    held: Vec<Held>,
    max_held: usize,
    free: FreeList,
    scratch: Vec<u8>,
    seq: u64,
    counters: FaultCounters,
    stats: Stats,
}

impl Side {
    fn new(rng: SeededRng, max_len: usize, max_held: usize) -> Side {
        Side {
            cfg: FaultConfig::new(),
            rng,
            pending: None,
            bucket: Bucket::default(),
            held: Vec::with_capacity(max_held),
            max_held,
            free: FreeList::new(max_len, max_held.saturating_add(1)),
            scratch: Vec::new(),
            seq: 0,
            counters: FaultCounters::default(),
            stats: Stats::new(),
        }
    }

    /// A throw-away buffer of `len` bytes for a frame that will be dropped.
    fn scratch(&mut self, len: usize) -> &mut [u8] {
        if self.scratch.len() < len {
            self.scratch = vec![0; len];
        }
        self.scratch.get_mut(..len).unwrap_or_default()
    }

    /// The held frame to release first at `now`, if any is due.
    fn ready_index(&self, now: Instant) -> Option<usize> {
        self.held
            .iter()
            .enumerate()
            .filter(|(_, h)| h.due <= now)
            .min_by_key(|(_, h)| (h.due, h.seq))
            .map(|(i, _)| i)
    }

    fn next_due(&self) -> Option<Instant> {
        self.held.iter().map(|h| h.due).min()
    }

    /// One frame went through: held-back frames waiting to be overtaken
    /// count it.
    fn on_delivered(&mut self, now: Instant) {
        for h in &mut self.held {
            if h.overtakers > 0 {
                h.overtakers -= 1;
                if h.overtakers == 0 {
                    h.due = h.base.max(now);
                }
            }
        }
    }

    fn rate_limited(&mut self, now: Instant, len: usize) -> bool {
        match self.cfg.rate_limit {
            Some(limit) => !self.bucket.try_take(limit, now, limit.cost(len)),
            None => false,
        }
    }

    /// Copies a frame into the holding queue; false (counted) if there is
    /// no room.
    fn hold(
        &mut self,
        data: &[u8],
        now: Instant,
        meta: RxMeta,
        tx_meta: TxMeta,
        delay: Duration,
        reorder: bool,
    ) -> bool {
        let buf = if self.held.len() < self.max_held && data.len() <= self.free.buf_len() {
            self.free.take()
        } else {
            None
        };
        let Some(mut buf) = buf else {
            self.counters.overflowed = self.counters.overflowed.wrapping_add(1);
            return false;
        };
        if let Some(dst) = buf.get_mut(..data.len()) {
            dst.copy_from_slice(data);
        }
        let base = now.saturating_add(delay);
        let (due, overtakers) = if reorder {
            (
                base.saturating_add(self.cfg.reorder_timeout),
                self.cfg.reorder_distance.max(1),
            )
        } else {
            (base, 0)
        };
        self.seq = self.seq.wrapping_add(1);
        self.held.push(Held {
            frame: Frame::new(buf, data.len(), base, meta.checksum_verified, false),
            rx_meta: meta,
            tx_meta,
            base,
            due,
            overtakers,
            seq: self.seq,
        });
        true
    }

    /// Applies the faults that need the frame's bytes to a received frame
    /// and holds what survives.
    fn ingest(&mut self, frame: &mut [u8], mut meta: RxMeta, draws: Draws, now: Instant) {
        if self.rate_limited(now, frame.len()) {
            self.counters.rate_limited = self.counters.rate_limited.wrapping_add(1);
            self.stats.rx_dropped = self.stats.rx_dropped.wrapping_add(1);
            return;
        }
        if draws.lose {
            self.counters.dropped = self.counters.dropped.wrapping_add(1);
            self.stats.rx_dropped = self.stats.rx_dropped.wrapping_add(1);
            return;
        }
        if let Some(r) = draws.corrupt
            && flip_bit(frame, r)
        {
            self.counters.corrupted = self.counters.corrupted.wrapping_add(1);
            meta.checksum_verified = ChecksumSet::EMPTY;
        }
        self.apply_hold(frame, now, meta, TxMeta::default(), draws, Direction::Rx);
    }

    /// Holds a frame (and its duplicate) with its delay and reordering.
    fn apply_hold(
        &mut self,
        frame: &[u8],
        now: Instant,
        meta: RxMeta,
        tx_meta: TxMeta,
        draws: Draws,
        dir: Direction,
    ) {
        let delay = draws.delay(&self.cfg);
        if !delay.is_zero() {
            self.counters.delayed = self.counters.delayed.wrapping_add(1);
        }
        if draws.reorder {
            self.counters.reordered = self.counters.reordered.wrapping_add(1);
        }
        if !self.hold(frame, now, meta, tx_meta, delay, draws.reorder) {
            dir.count_drop(&mut self.stats);
        }
        if draws.duplicate {
            self.counters.duplicated = self.counters.duplicated.wrapping_add(1);
            if !self.hold(frame, now, meta, tx_meta, delay, false) {
                dir.count_drop(&mut self.stats);
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Direction {
    Rx,
    Tx,
}

impl Direction {
    fn count_drop(self, stats: &mut Stats) {
        match self {
            Direction::Rx => stats.rx_dropped = stats.rx_dropped.wrapping_add(1),
            Direction::Tx => stats.tx_dropped = stats.tx_dropped.wrapping_add(1),
        }
    }
}

/// The receive token of a [`FaultInjector`].
pub struct FaultRxToken<'a, D: Device> {
    kind: Option<RxKind<'a, D>>,
    side: &'a mut Side,
}

enum RxKind<'a, D: Device + 'a> {
    /// The inner device's own token, possibly with a bit to flip.
    Pass {
        token: D::RxToken<'a>,
        corrupt: Option<u64>,
    },
    /// A frame released from the holding queue.
    Held(Frame, RxMeta),
}

impl<D: Device> fmt::Debug for FaultRxToken<'_, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultRxToken").finish_non_exhaustive()
    }
}

impl<D: Device> RxToken for FaultRxToken<'_, D> {
    fn meta(&self) -> RxMeta {
        match &self.kind {
            Some(RxKind::Pass { token, corrupt }) => {
                let mut meta = token.meta();
                if corrupt.is_some() {
                    meta.checksum_verified = ChecksumSet::EMPTY;
                }
                meta
            }
            Some(RxKind::Held(_, meta)) => *meta,
            None => RxMeta::default(),
        }
    }

    fn consume<R, F>(mut self, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let side = &mut *self.side;
        match self.kind.take() {
            Some(RxKind::Pass { token, corrupt }) => token.consume(|buf| {
                if let Some(r) = corrupt
                    && flip_bit(buf, r)
                {
                    side.counters.corrupted = side.counters.corrupted.wrapping_add(1);
                }
                side.stats.count_rx(buf.len());
                f(buf)
            }),
            Some(RxKind::Held(mut frame, _)) => {
                side.stats.count_rx(frame.len);
                let r = f(frame.data_mut());
                side.free.give(frame.buf);
                r
            }
            None => f(&mut []),
        }
    }

    /// A frame passed through untouched can be kept where the inner
    /// device allows it; held and corrupted ones cannot.
    fn can_keep(&self) -> bool {
        matches!(&self.kind, Some(RxKind::Pass { token, corrupt: None }) if token.can_keep())
    }

    fn consume_keep<R, F>(mut self, f: F) -> (R, Option<crate::KeptFrame>)
    where
        F: FnOnce(&mut [u8]) -> (R, bool),
    {
        match self.kind.take() {
            Some(RxKind::Pass {
                token,
                corrupt: None,
            }) => {
                let side = &mut *self.side;
                token.consume_keep(|buf| {
                    side.stats.count_rx(buf.len());
                    f(buf)
                })
            }
            kind => {
                self.kind = kind;
                (self.consume(|buf| f(buf).0), None)
            }
        }
    }
}

impl<D: Device> Drop for FaultRxToken<'_, D> {
    fn drop(&mut self) {
        if let Some(RxKind::Held(frame, _)) = self.kind.take() {
            self.side.free.give(frame.buf);
        }
    }
}

/// The transmit token of a [`FaultInjector`].
pub struct FaultTxToken<'a, D: Device + 'a> {
    /// The inner device's token, or `None` when the inner device had no
    /// room (the frame is then held and pushed out later).
    inner: Option<D::TxToken<'a>>,
    side: &'a mut Side,
    now: Instant,
    meta: TxMeta,
}

impl<D: Device> fmt::Debug for FaultTxToken<'_, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultTxToken")
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl<D: Device> TxToken for FaultTxToken<'_, D> {
    fn set_meta(&mut self, meta: TxMeta) {
        self.meta = meta;
    }

    fn consume<R, F>(self, len: usize, f: F) -> Result<R, Error>
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let max = self.side.free.buf_len();
        if len > max {
            self.side.stats.tx_errors = self.side.stats.tx_errors.wrapping_add(1);
            return Err(Error::FrameTooLong { len, max });
        }
        let draws = Draws::draw(&mut self.side.rng, &self.side.cfg);
        self.send_drawn(len, draws, f)
    }

    /// A frame that passes untouched keeps its payload by reference into
    /// the inner device; a lost one drops it; any other fault (delay,
    /// reordering, duplication, corruption, a rate limit) works on the
    /// whole frame, copied, as [`consume`](Self::consume) does.
    fn consume_shared<R, F>(
        mut self,
        head_len: usize,
        payload: bytes::Bytes,
        f: F,
    ) -> Result<R, Error>
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let len = head_len.saturating_add(payload.len());
        let max = self.side.free.buf_len();
        if len > max {
            self.side.stats.tx_errors = self.side.stats.tx_errors.wrapping_add(1);
            return Err(Error::FrameTooLong { len, max });
        }
        let draws = Draws::draw(&mut self.side.rng, &self.side.cfg);
        let untouched = !draws.lose
            && !draws.reorder
            && !draws.duplicate
            && draws.corrupt.is_none()
            && draws.delay(&self.side.cfg).is_zero()
            && self.side.cfg.rate_limit.is_none();
        if untouched && let Some(mut token) = self.inner.take() {
            let side = &mut *self.side;
            token.set_meta(self.meta);
            let res = token.consume_shared(head_len, payload, f);
            match res {
                Ok(_) => {
                    side.stats.count_tx(len);
                    side.on_delivered(self.now);
                }
                Err(_) => side.stats.tx_errors = side.stats.tx_errors.wrapping_add(1),
            }
            return res;
        }
        self.send_drawn(len, draws, |buf| {
            crate::device::split_copy(buf, head_len, &payload, f)
        })
    }
}

impl<D: Device> FaultTxToken<'_, D> {
    /// Sends a frame of `len` bytes (within the limit) with the faults
    /// `draws` decided.
    fn send_drawn<R, F>(mut self, len: usize, draws: Draws, f: F) -> Result<R, Error>
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let side = &mut *self.side;
        let now = self.now;
        if side.rate_limited(now, len) {
            side.counters.rate_limited = side.counters.rate_limited.wrapping_add(1);
            side.stats.tx_dropped = side.stats.tx_dropped.wrapping_add(1);
            return Ok(f(side.scratch(len)));
        }
        if draws.lose {
            side.counters.dropped = side.counters.dropped.wrapping_add(1);
            side.stats.tx_dropped = side.stats.tx_dropped.wrapping_add(1);
            return Ok(f(side.scratch(len)));
        }
        let in_place = !draws.reorder && draws.delay(&side.cfg).is_zero();
        // A frame corrupted on the link fails the receiving device's
        // checksum check: it must not go out with checksums left to the
        // device (which would vouch for them), but as it is, to be verified
        // (and dropped) by the receiver.
        let tx_meta = if draws.corrupt.is_some() {
            TxMeta::default()
        } else {
            self.meta
        };
        if in_place && let Some(mut token) = self.inner.take() {
            token.set_meta(tx_meta);
            let meta = tx_meta;
            let res = token.consume(len, |buf| {
                let r = f(buf);
                if let Some(bits) = draws.corrupt
                    && flip_bit(buf, bits)
                {
                    side.counters.corrupted = side.counters.corrupted.wrapping_add(1);
                }
                if draws.duplicate {
                    side.counters.duplicated = side.counters.duplicated.wrapping_add(1);
                    if !side.hold(buf, now, RxMeta::default(), meta, Duration::ZERO, false) {
                        side.stats.tx_dropped = side.stats.tx_dropped.wrapping_add(1);
                    }
                }
                r
            });
            match res {
                Ok(_) => {
                    side.stats.count_tx(len);
                    side.on_delivered(now);
                }
                Err(_) => side.stats.tx_errors = side.stats.tx_errors.wrapping_add(1),
            }
            return res;
        }
        // Held: written into the injector's own buffer, pushed out later.
        let mut frame = side.free.take().filter(|_| side.held.len() < side.max_held);
        let Some(buf) = frame.as_mut() else {
            side.counters.overflowed = side.counters.overflowed.wrapping_add(1);
            side.stats.tx_dropped = side.stats.tx_dropped.wrapping_add(1);
            return Ok(f(side.scratch(len)));
        };
        let data = buf.get_mut(..len).unwrap_or_default();
        let r = f(data);
        if let Some(bits) = draws.corrupt
            && flip_bit(data, bits)
        {
            side.counters.corrupted = side.counters.corrupted.wrapping_add(1);
        }
        side.stats.count_tx(len);
        // `apply_hold` copies into buffers of its own; this one goes back.
        let buf = frame.unwrap_or_default();
        side.apply_hold(
            buf.get(..len).unwrap_or_default(),
            now,
            RxMeta::default(),
            tx_meta,
            draws,
            Direction::Tx,
        );
        side.free.give(buf);
        Ok(r)
    }
}

impl<D: Device> Device for FaultInjector<D> {
    type RxToken<'a>
        = FaultRxToken<'a, D>
    where
        Self: 'a;
    type TxToken<'a>
        = FaultTxToken<'a, D>
    where
        Self: 'a;

    fn receive(&mut self, now: Instant) -> Option<(FaultRxToken<'_, D>, FaultTxToken<'_, D>)> {
        self.flush_tx(now);
        for _ in 0..SCAN_LIMIT {
            if let Some(i) = self.rx.ready_index(now) {
                let held = self.rx.held.swap_remove(i);
                self.rx.on_delivered(now);
                let tx = self.inner.transmit(now);
                return Some((
                    FaultRxToken {
                        kind: Some(RxKind::Held(held.frame, held.rx_meta)),
                        side: &mut self.rx,
                    },
                    FaultTxToken {
                        inner: tx,
                        side: &mut self.tx,
                        now,
                        meta: TxMeta::default(),
                    },
                ));
            }
            let draws = match self.rx.pending {
                Some(d) => d,
                None => {
                    let d = Draws::draw(&mut self.rx.rng, &self.rx.cfg);
                    self.rx.pending = Some(d);
                    d
                }
            };
            let fast = draws.passes_in_place(&self.rx.cfg)
                && match self.rx.cfg.rate_limit {
                    None => true,
                    Some(limit @ RateLimit::Frames { .. }) => self.rx.bucket.allows(limit, now, 1),
                    Some(RateLimit::Bytes { .. }) => false,
                };
            if fast {
                let (rx, tx) = self.inner.receive(now)?;
                self.rx.pending = None;
                if let Some(limit) = self.rx.cfg.rate_limit {
                    self.rx.bucket.try_take(limit, now, 1);
                }
                self.rx.on_delivered(now);
                return Some((
                    FaultRxToken {
                        kind: Some(RxKind::Pass {
                            token: rx,
                            corrupt: draws.corrupt,
                        }),
                        side: &mut self.rx,
                    },
                    FaultTxToken {
                        inner: Some(tx),
                        side: &mut self.tx,
                        now,
                        meta: TxMeta::default(),
                    },
                ));
            }
            let (rx, _tx) = self.inner.receive(now)?;
            self.rx.pending = None;
            let meta = rx.meta();
            let side = &mut self.rx;
            rx.consume(|frame| side.ingest(frame, meta, draws, now));
        }
        None
    }

    fn transmit(&mut self, now: Instant) -> Option<FaultTxToken<'_, D>> {
        self.flush_tx(now);
        let inner = self.inner.transmit(now)?;
        Some(FaultTxToken {
            inner: Some(inner),
            side: &mut self.tx,
            now,
            meta: TxMeta::default(),
        })
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn stats(&self) -> Stats {
        self.rx.stats + self.tx.stats
    }

    fn poll_at(&self) -> Option<Instant> {
        [self.inner.poll_at(), self.rx.next_due(), self.tx.next_due()]
            .into_iter()
            .flatten()
            .min()
    }

    fn flush(&mut self, now: Instant) {
        self.flush_tx(now);
        self.inner.flush(now);
    }

    fn recycle(&mut self, buf: alloc::vec::Vec<u8>) {
        self.inner.recycle(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChecksumCapabilities, ChecksumProto, Loopback};
    use alloc::vec::Vec;

    type Inj = FaultInjector<Loopback>;

    fn injector(seed: u64) -> Inj {
        FaultInjector::new(Loopback::new(Capabilities::default(), 256), seed)
    }

    /// Puts a frame into the inner device, to be received through the
    /// injector.
    fn feed(inj: &mut Inj, now: Instant, tag: u8) {
        inj.inner_mut()
            .transmit(now)
            .unwrap()
            .consume(60, |f| {
                f.fill(0);
                f[0] = tag;
            })
            .unwrap();
    }

    fn rx_all(inj: &mut Inj, now: Instant) -> Vec<u8> {
        let mut out = Vec::new();
        inj.poll_rx(now, usize::MAX, |f, _, _| out.push(f[0]));
        out
    }

    /// Sends a frame through the injector into the inner device.
    fn send(inj: &mut Inj, now: Instant, tag: u8) {
        inj.transmit(now)
            .unwrap()
            .consume(60, |f| {
                f.fill(0);
                f[0] = tag;
            })
            .unwrap();
    }

    fn inner_all(inj: &mut Inj, now: Instant) -> Vec<u8> {
        let mut out = Vec::new();
        inj.inner_mut()
            .poll_rx(now, usize::MAX, |f, _, _| out.push(f[0]));
        out
    }

    #[test]
    fn no_faults_means_transparent_in_both_directions() {
        let mut inj = injector(1);
        for t in 0..20 {
            feed(&mut inj, Instant::ZERO, t);
        }
        assert_eq!(rx_all(&mut inj, Instant::ZERO), (0..20).collect::<Vec<_>>());
        for t in 0..20 {
            send(&mut inj, Instant::ZERO, t);
        }
        assert_eq!(
            inner_all(&mut inj, Instant::ZERO),
            (0..20).collect::<Vec<_>>()
        );
        assert_eq!(inj.fault_stats(), FaultStats::default());
        assert_eq!(inj.stats().rx_packets, 20);
        assert_eq!(inj.stats().tx_packets, 20);
    }

    #[test]
    fn certain_loss_drops_everything_and_counts_it() {
        let mut inj = injector(2)
            .with_rx(FaultConfig::new().with_loss(1.0))
            .with_tx(FaultConfig::new().with_loss(1.0));
        for t in 0..10 {
            feed(&mut inj, Instant::ZERO, t);
        }
        assert!(rx_all(&mut inj, Instant::ZERO).is_empty());
        for t in 0..10 {
            send(&mut inj, Instant::ZERO, t);
        }
        assert!(inner_all(&mut inj, Instant::ZERO).is_empty());
        let fs = inj.fault_stats();
        assert_eq!((fs.rx.dropped, fs.tx.dropped), (10, 10));
        assert_eq!((inj.stats().rx_dropped, inj.stats().tx_dropped), (10, 10));
    }

    #[test]
    fn loss_rate_follows_the_probability() {
        let mut inj = injector(3).with_tx(FaultConfig::new().with_loss(0.3));
        for i in 0..10_000u32 {
            send(&mut inj, Instant::ZERO, i as u8);
            inner_all(&mut inj, Instant::ZERO);
        }
        let lost = inj.fault_stats().tx.dropped;
        assert!((2_700..3_300).contains(&lost), "lost {lost}");
    }

    #[test]
    fn duplication_delivers_an_identical_second_copy() {
        let mut inj = injector(4)
            .with_rx(FaultConfig::new().with_duplicate(1.0))
            .with_tx(FaultConfig::new().with_duplicate(1.0));
        feed(&mut inj, Instant::ZERO, 1);
        feed(&mut inj, Instant::ZERO, 2);
        assert_eq!(rx_all(&mut inj, Instant::ZERO), [1, 1, 2, 2]);
        send(&mut inj, Instant::ZERO, 3);
        send(&mut inj, Instant::ZERO, 4);
        inj.flush(Instant::ZERO);
        // The duplicate of 3 goes out right behind it, at the next transmit.
        assert_eq!(inner_all(&mut inj, Instant::ZERO), [3, 3, 4, 4]);
        assert_eq!(inj.fault_stats().rx.duplicated, 2);
        assert_eq!(inj.fault_stats().tx.duplicated, 2);
    }

    #[test]
    fn reordered_frame_is_overtaken_by_the_next_one() {
        let mut inj = injector(5).with_rx(FaultConfig::new().with_reorder(1.0, 1));
        feed(&mut inj, Instant::ZERO, 1);
        assert!(rx_all(&mut inj, Instant::ZERO).is_empty(), "1 is held back");
        inj.rx_config_mut().reorder = 0.0;
        feed(&mut inj, Instant::ZERO, 2);
        feed(&mut inj, Instant::ZERO, 3);
        assert_eq!(rx_all(&mut inj, Instant::ZERO), [2, 1, 3]);
        assert_eq!(inj.fault_stats().rx.reordered, 1);
    }

    #[test]
    fn reordering_on_transmit_honours_the_distance() {
        let mut inj = injector(6).with_tx(FaultConfig::new().with_reorder(1.0, 2));
        send(&mut inj, Instant::ZERO, 1);
        inj.tx_config_mut().reorder = 0.0;
        for t in 2..5 {
            send(&mut inj, Instant::ZERO, t);
        }
        inj.flush(Instant::ZERO);
        assert_eq!(inner_all(&mut inj, Instant::ZERO), [2, 3, 1, 4]);
    }

    #[test]
    fn reorder_timeout_releases_a_frame_nobody_overtakes() {
        let mut cfg = FaultConfig::new().with_reorder(1.0, 1);
        cfg.reorder_timeout = Duration::from_millis(3);
        let mut inj = injector(7).with_rx(cfg);
        feed(&mut inj, Instant::ZERO, 1);
        assert!(rx_all(&mut inj, Instant::ZERO).is_empty());
        assert_eq!(inj.poll_at(), Some(Instant::from_millis(3)));
        assert_eq!(rx_all(&mut inj, Instant::from_millis(3)), [1]);
    }

    /// Corruption on transmit models the link: the frame must reach the
    /// receiver unverified (its checksums left to the sending device
    /// cannot vouch for it), so that the receiver checks and drops it.
    #[test]
    fn a_frame_corrupted_on_transmit_is_not_vouched_for_by_checksum_offload() {
        let caps = Capabilities::default().with_checksum(ChecksumCapabilities::ALL);
        for corrupt in [0.0, 1.0] {
            let mut inj = FaultInjector::new(Loopback::new(caps, 16), 9)
                .with_tx(FaultConfig::new().with_corrupt(corrupt));
            let mut tx = inj.transmit(Instant::ZERO).unwrap();
            tx.set_meta(TxMeta::new().with_checksum_offload(ChecksumSet::ALL, 14, 34));
            tx.consume(100, |f| f.fill(0)).unwrap();
            let (rx, _) = inj.receive(Instant::ZERO).unwrap();
            let verified = rx.meta().checksum_verified;
            if corrupt > 0.0 {
                assert!(verified.is_empty(), "{verified:?}");
            } else {
                assert_eq!(verified, ChecksumSet::ALL);
            }
        }
    }

    #[test]
    fn corruption_flips_exactly_one_bit_and_voids_verified_checksums() {
        let caps = Capabilities::default().with_checksum(ChecksumCapabilities::ALL);
        let mut inj = FaultInjector::new(Loopback::new(caps, 16), 8)
            .with_rx(FaultConfig::new().with_corrupt(1.0));
        for round in 0..50 {
            let mut tx = inj.inner_mut().transmit(Instant::ZERO).unwrap();
            tx.set_meta(TxMeta::new().with_checksum_offload(ChecksumSet::ALL, 14, 34));
            tx.consume(100, |f| f.fill(0)).unwrap();
            let (rx, _) = inj.receive(Instant::ZERO).unwrap();
            assert!(rx.meta().checksum_verified.is_empty());
            let ones: u32 = rx.consume(|f| f.iter().map(|b| b.count_ones()).sum());
            assert_eq!(ones, 1, "round {round}");
        }
        assert_eq!(inj.fault_stats().rx.corrupted, 50);
        // Without corruption the device's verification is passed on.
        inj.rx_config_mut().corrupt = 0.0;
        let mut tx = inj.inner_mut().transmit(Instant::ZERO).unwrap();
        tx.set_meta(TxMeta::new().with_checksum_offload(
            ChecksumSet::of(ChecksumProto::Udp),
            14,
            34,
        ));
        tx.consume(100, |f| f.fill(0)).unwrap();
        let (rx, _) = inj.receive(Instant::ZERO).unwrap();
        assert_eq!(
            rx.meta().checksum_verified,
            ChecksumSet::of(ChecksumProto::Udp)
        );
    }

    #[test]
    fn delay_holds_frames_until_due_in_both_directions() {
        let d = Duration::from_millis(20);
        let mut inj = injector(9)
            .with_rx(FaultConfig::new().with_delay(d, Duration::ZERO))
            .with_tx(FaultConfig::new().with_delay(d, Duration::ZERO));
        feed(&mut inj, Instant::from_millis(1), 1);
        assert!(rx_all(&mut inj, Instant::from_millis(1)).is_empty());
        assert_eq!(inj.poll_at(), Some(Instant::from_millis(21)));
        assert_eq!(rx_all(&mut inj, Instant::from_millis(21)), [1]);
        send(&mut inj, Instant::from_millis(30), 2);
        assert!(inner_all(&mut inj, Instant::from_millis(30)).is_empty());
        assert_eq!(inj.poll_at(), Some(Instant::from_millis(50)));
        inj.flush(Instant::from_millis(49));
        assert!(inner_all(&mut inj, Instant::from_millis(49)).is_empty());
        inj.flush(Instant::from_millis(50));
        assert_eq!(inner_all(&mut inj, Instant::from_millis(50)), [2]);
        assert_eq!(inj.fault_stats().rx.delayed, 1);
        assert_eq!(inj.fault_stats().tx.delayed, 1);
    }

    #[test]
    fn jitter_stays_within_its_bound() {
        let mut inj = injector(10).with_rx(
            FaultConfig::new().with_delay(Duration::from_millis(10), Duration::from_millis(5)),
        );
        let mut delays = Vec::new();
        for _ in 0..200 {
            feed(&mut inj, Instant::ZERO, 0);
            assert!(inj.receive(Instant::ZERO).is_none());
            let due = inj.poll_at().unwrap();
            delays.push(due.total_micros());
            assert_eq!(rx_all(&mut inj, due).len(), 1);
        }
        assert!(delays.iter().all(|d| (10_000..=15_000).contains(d)));
        assert!(delays.iter().any(|d| *d < 11_000) && delays.iter().any(|d| *d > 14_000));
    }

    #[test]
    fn frame_rate_limit_passes_a_burst_then_the_rate() {
        let limit = RateLimit::Frames {
            per_second: 10,
            burst: 2,
        };
        let mut inj = injector(11).with_rx(FaultConfig::new().with_rate_limit(limit));
        for t in 0..5 {
            feed(&mut inj, Instant::ZERO, t);
        }
        assert_eq!(rx_all(&mut inj, Instant::ZERO), [0, 1]);
        assert_eq!(inj.fault_stats().rx.rate_limited, 3);
        // One token every 100 ms.
        feed(&mut inj, Instant::from_millis(99), 5);
        assert!(rx_all(&mut inj, Instant::from_millis(99)).is_empty());
        feed(&mut inj, Instant::from_millis(100), 6);
        assert_eq!(rx_all(&mut inj, Instant::from_millis(100)), [6]);
    }

    #[test]
    fn byte_rate_limit_counts_bytes() {
        let limit = RateLimit::Bytes {
            per_second: 6_000,
            burst: 150,
        };
        let mut inj = injector(12).with_tx(FaultConfig::new().with_rate_limit(limit));
        for t in 0..4 {
            send(&mut inj, Instant::ZERO, t); // 60 bytes each
        }
        assert_eq!(inner_all(&mut inj, Instant::ZERO), [0, 1]);
        // 10 ms refill 60 bytes: one more frame.
        send(&mut inj, Instant::from_millis(10), 4);
        send(&mut inj, Instant::from_millis(10), 5);
        assert_eq!(inner_all(&mut inj, Instant::from_millis(10)), [4]);
        assert_eq!(inj.fault_stats().tx.rate_limited, 3);
    }

    #[test]
    fn full_holding_queue_drops_and_counts_overflow() {
        let mut inj = injector(13)
            .with_max_held(2)
            .with_tx(FaultConfig::new().with_delay(Duration::from_millis(1), Duration::ZERO));
        for t in 0..5 {
            send(&mut inj, Instant::ZERO, t);
        }
        assert_eq!(inj.held(), (0, 2));
        assert_eq!(inj.fault_stats().tx.overflowed, 3);
        assert_eq!(inj.stats().tx_dropped, 3);
        inj.flush(Instant::from_millis(1));
        assert_eq!(inner_all(&mut inj, Instant::from_millis(1)), [0, 1]);
    }

    #[test]
    fn receive_draws_do_not_depend_on_how_often_the_device_is_polled() {
        let cfg = FaultConfig::new()
            .with_loss(0.4)
            .with_duplicate(0.2)
            .with_corrupt(0.1);
        let run = |extra_polls: usize| {
            let mut inj = injector(14).with_rx(cfg);
            let mut out = Vec::new();
            for t in 0..200u8 {
                for _ in 0..extra_polls {
                    out.extend(rx_all(&mut inj, Instant::ZERO));
                }
                feed(&mut inj, Instant::ZERO, t);
                out.extend(rx_all(&mut inj, Instant::ZERO));
            }
            (out, inj.fault_stats())
        };
        assert_eq!(run(0), run(3));
    }

    #[test]
    fn inner_back_pressure_passes_through_transmit() {
        let mut inj = FaultInjector::new(Loopback::new(Capabilities::default(), 1), 15);
        send(&mut inj, Instant::ZERO, 1);
        assert!(inj.transmit(Instant::ZERO).is_none());
    }

    #[test]
    fn oversized_transmit_is_refused() {
        let mut inj = injector(16).with_tx(FaultConfig::new().with_loss(1.0));
        let err = inj
            .transmit(Instant::ZERO)
            .unwrap()
            .consume(1515, |_| ())
            .unwrap_err();
        assert!(matches!(
            err,
            Error::FrameTooLong {
                len: 1515,
                max: 1514
            }
        ));
        assert_eq!(inj.stats().tx_errors, 1);
    }

    #[test]
    fn chance_handles_edge_probabilities() {
        let mut rng = SeededRng::new(1);
        assert!(!chance(&mut rng, f64::NAN));
        assert!(!chance(&mut rng, -1.0));
        assert!(chance(&mut rng, 2.0));
        assert!(!(0..1000).any(|_| chance(&mut rng, 0.0)));
    }

    /// An untouched frame's shared payload goes on by reference (the
    /// receiver gets the very bytes); a duplicated one is copied, whole.
    #[test]
    fn an_untouched_shared_payload_passes_by_reference() {
        use crate::{LinkConfig, RxEvent, wire};
        let (a, mut b) = wire(LinkConfig::new());
        let mut a = FaultInjector::new(a, 9);
        let payload = bytes::Bytes::from(alloc::vec![5u8; 1000]);
        let send = |a: &mut FaultInjector<crate::Port>| {
            a.transmit(Instant::ZERO)
                .unwrap()
                .consume_shared(4, payload.clone(), |h| h.copy_from_slice(b"head"))
                .unwrap();
        };
        send(&mut a);
        let mut by_reference = 0;
        b.poll_rx_keep(Instant::ZERO, 8, |ev| {
            match ev {
                RxEvent::Shared {
                    head, payload: p, ..
                } => {
                    assert_eq!(&*head, b"head");
                    assert_eq!(p.as_ptr(), payload.as_ptr());
                    by_reference += 1;
                }
                _ => panic!("an untouched frame was copied"),
            }
            false
        });
        assert_eq!(by_reference, 1);

        let mut a = a.with_tx(FaultConfig::new().with_duplicate(1.0));
        send(&mut a);
        a.flush(Instant::ZERO);
        let mut whole = 0;
        b.poll_rx_keep(Instant::ZERO, 8, |ev| {
            match ev {
                RxEvent::Frame { frame, .. } => {
                    assert_eq!(&frame[..4], b"head");
                    assert!(frame[4..].iter().all(|x| *x == 5) && frame.len() == 1004);
                    whole += 1;
                }
                _ => panic!("a duplicated frame went by reference"),
            }
            false
        });
        assert_eq!(whole, 2, "the frame and its duplicate");
    }
}
