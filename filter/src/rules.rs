//! The typed rule model: a [`Ruleset`] of [`Table`]s of [`Chain`]s of
//! [`Rule`]s, each a list of [`Match`]es and [`Action`]s, with address
//! and port sets; and its validation into the form the filter runs.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::Ipv4Addr;

use lamina_icmp::UnreachableCode;
use lamina_ipv4::hook::HookPoint;
use lamina_ipv4::route::{Route, RoutingTable};
use lamina_ipv4::{IfaceId, Ipv4Cidr};

use crate::conntrack::CtState;

/// Most nested jumps: a chain may jump to a chain that jumps..., this
/// many levels deep (checked when the ruleset is built).
pub const MAX_JUMP_DEPTH: usize = 16;

/// Sets at most this large are searched linearly; larger ones through a
/// longest-prefix-match trie (addresses) or a bitmap (ports).
const SMALL_SET: usize = 8;

/// A set of IPv4 prefixes (a single address is a `/32`), matched by
/// longest-prefix match: sets of more than a few prefixes go through
/// `lamina_ipv4`'s compressed multibit trie, so 10,000 prefixes cost
/// about what one does.
#[derive(Clone, Default)]
pub struct AddrSet {
    prefixes: Vec<Ipv4Cidr>,
    trie: Option<RoutingTable<()>>,
}

impl AddrSet {
    /// An empty set (matching nothing).
    pub fn new() -> AddrSet {
        AddrSet::default()
    }

    /// A set of one prefix.
    pub fn single(prefix: Ipv4Cidr) -> AddrSet {
        let mut s = AddrSet::new();
        s.insert(prefix);
        s
    }

    /// Adds `prefix` (normalized: host bits cleared); adding one twice
    /// changes nothing.
    pub fn insert(&mut self, prefix: Ipv4Cidr) {
        let p = prefix.normalized();
        if self.prefixes.contains(&p) && self.prefixes.len() <= SMALL_SET {
            return;
        }
        if let Some(t) = &mut self.trie {
            if t.get(p).is_some() {
                return;
            }
            let _ = t.replace(p, Route::on_link(IfaceId(0)));
        }
        self.prefixes.push(p);
        if self.trie.is_none() && self.prefixes.len() > SMALL_SET {
            let mut t = RoutingTable::new(usize::MAX);
            for &q in &self.prefixes {
                let _ = t.replace(q, Route::on_link(IfaceId(0)));
            }
            self.trie = Some(t);
        }
    }

    /// Whether `addr` lies in one of the prefixes.
    #[inline]
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        match &self.trie {
            Some(t) => t.lookup(addr).is_some(),
            None => self.prefixes.iter().any(|p| p.contains(addr)),
        }
    }

    /// The prefixes, in insertion order.
    pub fn prefixes(&self) -> &[Ipv4Cidr] {
        &self.prefixes
    }

    /// How many prefixes.
    pub fn len(&self) -> usize {
        self.prefixes.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.prefixes.is_empty()
    }
}

impl FromIterator<Ipv4Cidr> for AddrSet {
    fn from_iter<I: IntoIterator<Item = Ipv4Cidr>>(iter: I) -> Self {
        let mut s = AddrSet::new();
        for p in iter {
            s.insert(p);
        }
        s
    }
}

impl PartialEq for AddrSet {
    fn eq(&self, other: &Self) -> bool {
        self.prefixes == other.prefixes
    }
}

impl Eq for AddrSet {}

impl fmt::Debug for AddrSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.prefixes.iter()).finish()
    }
}

/// A set of ports and port ranges; large sets are a 65,536-bit bitmap
/// (O(1) lookup).
#[derive(Clone, Default)]
pub struct PortSet {
    ranges: Vec<(u16, u16)>,
    bitmap: Option<Box<[u64]>>,
}

impl PortSet {
    /// An empty set.
    pub fn new() -> PortSet {
        PortSet::default()
    }

    /// A set of one port.
    pub fn single(port: u16) -> PortSet {
        PortSet::range(port, port)
    }

    /// A set of one inclusive range (empty when `lo > hi`).
    pub fn range(lo: u16, hi: u16) -> PortSet {
        let mut s = PortSet::new();
        s.insert_range(lo, hi);
        s
    }

    /// Adds the inclusive range `lo..=hi` (nothing when `lo > hi`).
    pub fn insert_range(&mut self, lo: u16, hi: u16) {
        if lo > hi {
            return;
        }
        self.ranges.push((lo, hi));
        if let Some(b) = &mut self.bitmap {
            set_bits(b, lo, hi);
        } else if self.ranges.len() > SMALL_SET {
            let mut b = alloc::vec![0u64; 1024].into_boxed_slice();
            for &(l, h) in &self.ranges {
                set_bits(&mut b, l, h);
            }
            self.bitmap = Some(b);
        }
    }

    /// Adds one port.
    pub fn insert(&mut self, port: u16) {
        self.insert_range(port, port);
    }

    /// Whether `port` is in the set.
    #[inline]
    pub fn contains(&self, port: u16) -> bool {
        match &self.bitmap {
            Some(b) => b
                .get(usize::from(port >> 6))
                .is_some_and(|w| w >> (port & 63) & 1 == 1),
            None => self.ranges.iter().any(|&(l, h)| l <= port && port <= h),
        }
    }

    /// The ranges, in insertion order.
    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.ranges
    }
}

fn set_bits(b: &mut [u64], lo: u16, hi: u16) {
    for p in lo..=hi {
        if let Some(w) = b.get_mut(usize::from(p >> 6)) {
            *w |= 1 << (p & 63);
        }
    }
}

impl PartialEq for PortSet {
    fn eq(&self, other: &Self) -> bool {
        self.ranges == other.ranges
    }
}

impl Eq for PortSet {}

impl fmt::Debug for PortSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.ranges.iter()).finish()
    }
}

/// A set of conntrack states (`ct state new,established`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StateSet(pub u8);

impl StateSet {
    /// The set holding `states`.
    pub fn of(states: &[CtState]) -> StateSet {
        StateSet(states.iter().fold(0, |a, s| a | s.bit()))
    }

    /// Whether `s` is in the set.
    pub fn contains(self, s: CtState) -> bool {
        self.0 & s.bit() != 0
    }
}

/// A condition on a datagram; a rule matches when all its matches do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// Received on this interface (`iif N`).
    Iif(IfaceId),
    /// Leaving through this interface (`oif N`).
    Oif(IfaceId),
    /// Source address in the set (`ip saddr`).
    Saddr(AddrSet),
    /// Destination address in the set (`ip daddr`).
    Daddr(AddrSet),
    /// IP protocol one of these (`ip protocol`, `meta l4proto`).
    Protocol(Vec<u8>),
    /// TCP or UDP source port in the set (`th sport`; `tcp sport` adds
    /// the protocol).
    Sport(PortSet),
    /// TCP or UDP destination port in the set.
    Dport(PortSet),
    /// ICMP type one of these (`icmp type`).
    IcmpType(Vec<u8>),
    /// ICMP code (`icmp code`).
    IcmpCode(u8),
    /// TCP flags: `flags & mask == value` (`tcp flags & (syn|ack) == syn`).
    TcpFlags {
        /// Flags looked at.
        mask: u16,
        /// Their required values.
        value: u16,
    },
    /// Total length of the datagram within `min..=max` (`ip length`).
    Length {
        /// Shortest.
        min: u16,
        /// Longest.
        max: u16,
    },
    /// Packet mark: `mark & mask == value` (`meta mark`).
    Mark {
        /// Bits looked at.
        mask: u32,
        /// Their required values.
        value: u32,
    },
    /// Conntrack state in the set (`ct state`).
    CtState(StateSet),
    /// The negation of a match (`!=`).
    Not(Box<Match>),
}

/// How a `reject` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectWith {
    /// An ICMP Destination Unreachable of this code (RFC 792).
    Icmp(UnreachableCode),
    /// A TCP reset (RFC 9293 §3.10.7.1); for a datagram other than TCP,
    /// Port Unreachable.
    TcpReset,
}

/// What a rule does when it matches. [`Log`](Action::Log) and
/// [`SetMark`](Action::SetMark) carry on to the next action; every other
/// action is a verdict and must come last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Stop this hook's chain; the datagram goes on to the next table.
    Accept,
    /// Discard, silently.
    Drop,
    /// Discard and answer (queued for `PacketHook::next_injected`).
    Reject(RejectWith),
    /// Hand to user queue `n` (`Verdict::Queue`).
    Queue(u16),
    /// Run the named chain, then carry on after this rule.
    Jump(String),
    /// Run the named chain instead of the rest of this one.
    Goto(String),
    /// Back to the calling chain (or the policy, in a base chain).
    Return,
    /// Call the log callback (rate limited) with this prefix.
    Log(String),
    /// Set the packet mark.
    SetMark(u32),
    /// Source NAT to `addr`, with a source port in `ports` (kept when
    /// free). Only in `nat` chains at PostRouting or Input.
    Snat {
        /// New source address.
        addr: Ipv4Addr,
        /// Port range, or `None` to keep the port or pick any.
        ports: Option<(u16, u16)>,
    },
    /// Source NAT to the output interface's address
    /// (`Filter::set_interface_address`). Only at PostRouting.
    Masquerade {
        /// Port range, or `None` to keep the port or pick any.
        ports: Option<(u16, u16)>,
    },
    /// Destination NAT (port forwarding). Only in `nat` chains at
    /// PreRouting or Output.
    Dnat {
        /// New destination address.
        addr: Ipv4Addr,
        /// New destination port, or `None` to keep it.
        port: Option<u16>,
    },
}

impl Action {
    /// Whether the action ends the rule (a verdict).
    pub fn is_verdict(&self) -> bool {
        !matches!(self, Action::Log(_) | Action::SetMark(_))
    }

    fn is_nat(&self) -> bool {
        matches!(
            self,
            Action::Snat { .. } | Action::Masquerade { .. } | Action::Dnat { .. }
        )
    }
}

/// Matches and actions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rule {
    /// All must hold.
    pub matches: Vec<Match>,
    /// Run in order when they do; a verdict, if any, comes last. A rule
    /// without one only counts (and logs or marks).
    pub actions: Vec<Action>,
}

impl Rule {
    /// A rule of these matches and actions.
    pub fn new(matches: Vec<Match>, actions: Vec<Action>) -> Rule {
        Rule { matches, actions }
    }
}

/// What a base chain does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChainType {
    /// Filtering.
    Filter,
    /// NAT: run for a flow's first datagram only; its NAT actions bind
    /// the flow.
    Nat,
}

/// A chain's verdict when no rule gave one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    /// Let it through.
    Accept,
    /// Discard it.
    Drop,
}

/// What makes a chain a base chain: attached to a hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BaseChain {
    /// Filter or NAT.
    pub chain_type: ChainType,
    /// Where it is attached.
    pub hook: HookPoint,
    /// Order among the chains at the same hook, lowest first (netfilter's
    /// priorities: DNAT −100, filter 0, SNAT 100).
    pub priority: i32,
    /// When no rule decides.
    pub policy: Policy,
}

/// A chain: base (attached to a hook) or user (reached by jump/goto).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// Its name, unique in its table.
    pub name: String,
    /// `Some` for a base chain.
    pub base: Option<BaseChain>,
    /// The rules, in order.
    pub rules: Vec<Rule>,
}

impl Chain {
    /// A base chain.
    pub fn base(name: &str, base: BaseChain) -> Chain {
        Chain {
            name: name.into(),
            base: Some(base),
            rules: Vec::new(),
        }
    }

    /// A user chain.
    pub fn user(name: &str) -> Chain {
        Chain {
            name: name.into(),
            base: None,
            rules: Vec::new(),
        }
    }

    /// Appends a rule (builder style).
    pub fn rule(mut self, rule: Rule) -> Chain {
        self.rules.push(rule);
        self
    }
}

/// A table: a namespace of chains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Its name.
    pub name: String,
    /// Its chains.
    pub chains: Vec<Chain>,
}

impl Table {
    /// An empty table.
    pub fn new(name: &str) -> Table {
        Table {
            name: name.into(),
            chains: Vec::new(),
        }
    }

    /// Adds a chain (builder style).
    pub fn chain(mut self, chain: Chain) -> Table {
        self.chains.push(chain);
        self
    }
}

/// Every table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ruleset {
    /// The tables.
    pub tables: Vec<Table>,
}

impl Ruleset {
    /// An empty ruleset (accepting everything).
    pub fn new() -> Ruleset {
        Ruleset::default()
    }

    /// Adds a table (builder style).
    pub fn table(mut self, table: Table) -> Ruleset {
        self.tables.push(table);
        self
    }
}

/// Why a ruleset cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Two chains of a table share a name.
    #[error("table {table}: chain {chain} defined twice")]
    DuplicateChain {
        /// Table.
        table: String,
        /// Chain.
        chain: String,
    },
    /// A jump or goto names no chain of the table.
    #[error("table {table}: no chain named {chain}")]
    UnknownChain {
        /// Table.
        table: String,
        /// The missing chain.
        chain: String,
    },
    /// A jump or goto names a base chain.
    #[error("table {table}: cannot jump to base chain {chain}")]
    JumpToBaseChain {
        /// Table.
        table: String,
        /// Chain.
        chain: String,
    },
    /// Jumps form a loop through this chain.
    #[error("table {table}: jump loop through chain {chain}")]
    Loop {
        /// Table.
        table: String,
        /// Chain.
        chain: String,
    },
    /// Jumps nest deeper than [`MAX_JUMP_DEPTH`].
    #[error("table {table}: jumps from chain {chain} nest deeper than {MAX_JUMP_DEPTH}")]
    TooDeep {
        /// Table.
        table: String,
        /// Chain.
        chain: String,
    },
    /// A verdict is followed by more actions.
    #[error("table {table}, chain {chain}: rule {rule} has actions after its verdict")]
    VerdictNotLast {
        /// Table.
        table: String,
        /// Chain.
        chain: String,
        /// Rule index.
        rule: usize,
    },
    /// A NAT action outside a NAT chain, or at a hook where it has no
    /// meaning (SNAT before routing, DNAT after it).
    #[error("table {table}, chain {chain}: rule {rule}: NAT action not allowed here")]
    MisplacedNat {
        /// Table.
        table: String,
        /// Chain.
        chain: String,
        /// Rule index.
        rule: usize,
    },
}

/// A rule ready to run, with its counters.
#[derive(Debug, Clone)]
pub(crate) struct CRule {
    pub rule: Rule,
    /// The chain a final jump/goto names (index in the table).
    pub target: u32,
    pub packets: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct CChain {
    pub base: Option<BaseChain>,
    pub rules: Vec<CRule>,
}

/// A validated ruleset.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    pub names: Vec<(String, Vec<String>)>,
    pub tables: Vec<Vec<CChain>>,
    /// Per hook (index of `HookPoint::ALL`): `(priority, table, chain)`,
    /// sorted.
    pub hooks: [Vec<(i32, u32, u32)>; 5],
}

pub(crate) fn hook_index(h: HookPoint) -> usize {
    match h {
        HookPoint::PreRouting => 0,
        HookPoint::Input => 1,
        HookPoint::Forward => 2,
        HookPoint::Output => 3,
        HookPoint::PostRouting => 4,
    }
}

fn nat_allowed(a: &Action, base: &BaseChain) -> bool {
    if base.chain_type != ChainType::Nat {
        return false;
    }
    match a {
        Action::Snat { .. } => matches!(base.hook, HookPoint::PostRouting | HookPoint::Input),
        Action::Masquerade { .. } => base.hook == HookPoint::PostRouting,
        Action::Dnat { .. } => matches!(base.hook, HookPoint::PreRouting | HookPoint::Output),
        _ => true,
    }
}

impl Compiled {
    /// Validates `rs` (see [`BuildError`]) and lays it out for the filter.
    pub fn build(rs: Ruleset) -> Result<Compiled, BuildError> {
        let mut out = Compiled {
            names: Vec::new(),
            tables: Vec::new(),
            hooks: Default::default(),
        };
        for (ti, table) in rs.tables.into_iter().enumerate() {
            let tname = table.name.clone();
            let names: Vec<String> = table.chains.iter().map(|c| c.name.clone()).collect();
            for (i, n) in names.iter().enumerate() {
                if names.iter().skip(i + 1).any(|m| m == n) {
                    return Err(BuildError::DuplicateChain {
                        table: tname,
                        chain: n.clone(),
                    });
                }
            }
            let mut chains = Vec::new();
            for ch in table.chains {
                let mut rules = Vec::new();
                for (ri, rule) in ch.rules.into_iter().enumerate() {
                    let n = rule.actions.len();
                    if rule
                        .actions
                        .iter()
                        .enumerate()
                        .any(|(i, a)| a.is_verdict() && i + 1 != n)
                    {
                        return Err(BuildError::VerdictNotLast {
                            table: tname,
                            chain: ch.name,
                            rule: ri,
                        });
                    }
                    let mut target = u32::MAX;
                    if let Some(Action::Jump(t) | Action::Goto(t)) = rule.actions.last() {
                        let Some(pos) = names.iter().position(|n| n == t) else {
                            return Err(BuildError::UnknownChain {
                                table: tname,
                                chain: t.clone(),
                            });
                        };
                        target = pos as u32;
                    }
                    rules.push(CRule {
                        rule,
                        target,
                        packets: 0,
                        bytes: 0,
                    });
                }
                chains.push(CChain {
                    base: ch.base,
                    rules,
                });
            }
            // Now every chain is known: jumps to base chains, loops, depth.
            for (ci, c) in chains.iter().enumerate() {
                for r in &c.rules {
                    if r.target != u32::MAX
                        && chains
                            .get(r.target as usize)
                            .is_some_and(|t| t.base.is_some())
                    {
                        return Err(BuildError::JumpToBaseChain {
                            table: tname,
                            chain: names.get(r.target as usize).cloned().unwrap_or_default(),
                        });
                    }
                }
                let mut path = Vec::new();
                depth(&chains, ci, &mut path).map_err(|looped| {
                    let chain = names.get(ci).cloned().unwrap_or_default();
                    if looped {
                        BuildError::Loop {
                            table: tname.clone(),
                            chain,
                        }
                    } else {
                        BuildError::TooDeep {
                            table: tname.clone(),
                            chain,
                        }
                    }
                })?;
            }
            // NAT actions: only where every base chain reaching them allows.
            for c in chains.iter() {
                let Some(base) = &c.base else { continue };
                let mut seen = Vec::new();
                check_nat(&chains, c, base, &mut seen).map_err(|(chain, rule)| {
                    BuildError::MisplacedNat {
                        table: tname.clone(),
                        chain: names.get(chain).cloned().unwrap_or_default(),
                        rule,
                    }
                })?;
            }
            for (ci, c) in chains.iter().enumerate() {
                if let Some(b) = &c.base {
                    if c.rules
                        .iter()
                        .any(|r| r.rule.actions.iter().any(Action::is_nat))
                        && b.chain_type != ChainType::Nat
                    {
                        let rule = c
                            .rules
                            .iter()
                            .position(|r| r.rule.actions.iter().any(Action::is_nat))
                            .unwrap_or(0);
                        return Err(BuildError::MisplacedNat {
                            table: tname,
                            chain: names.get(ci).cloned().unwrap_or_default(),
                            rule,
                        });
                    }
                    if let Some(list) = out.hooks.get_mut(hook_index(b.hook)) {
                        list.push((b.priority, ti as u32, ci as u32));
                    }
                }
            }
            out.names.push((tname, names));
            out.tables.push(chains);
        }
        for list in &mut out.hooks {
            list.sort();
        }
        Ok(out)
    }
}

/// The jump depth below chain `ci`; `Err(true)` on a loop, `Err(false)`
/// when deeper than [`MAX_JUMP_DEPTH`].
fn depth(chains: &[CChain], ci: usize, path: &mut Vec<usize>) -> Result<usize, bool> {
    if path.contains(&ci) {
        return Err(true);
    }
    if path.len() > MAX_JUMP_DEPTH {
        return Err(false);
    }
    path.push(ci);
    let mut d = 0;
    if let Some(c) = chains.get(ci) {
        for r in &c.rules {
            if r.target != u32::MAX {
                d = d.max(1 + depth(chains, r.target as usize, path)?);
            }
        }
    }
    path.pop();
    if d > MAX_JUMP_DEPTH {
        return Err(false);
    }
    Ok(d)
}

fn check_nat(
    chains: &[CChain],
    c: &CChain,
    base: &BaseChain,
    seen: &mut Vec<u32>,
) -> Result<(), (usize, usize)> {
    for (ri, r) in c.rules.iter().enumerate() {
        if r.rule
            .actions
            .iter()
            .any(|a| a.is_nat() && !nat_allowed(a, base))
        {
            let me = chains.iter().position(|x| core::ptr::eq(x, c)).unwrap_or(0);
            return Err((me, ri));
        }
        if r.target != u32::MAX && !seen.contains(&r.target) {
            seen.push(r.target);
            if let Some(t) = chains.get(r.target as usize) {
                check_nat(chains, t, base, seen)?;
            }
        }
    }
    Ok(())
}
