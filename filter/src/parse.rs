//! A text syntax close to `nft`'s, parsed into the typed [`Ruleset`],
//! and printed back by [`Ruleset`]'s `Display`.
//!
//! # Grammar
//!
//! Tokens are words (letters, digits, `_ . / - :`), `{ } ( ) ; , & | "…"`,
//! `==` and `!=`. A newline ends a rule as `;` does; `#` starts a comment
//! to the end of the line.
//!
//! ```text
//! ruleset   = { table }
//! table     = "table" [ "ip" ] NAME "{" { chain } "}"
//! chain     = "chain" NAME "{" [ "type" ("filter" | "nat") "hook" HOOK
//!                                "priority" PRIO ";" ] [ "policy" VERDICT ";" ]
//!                               { rule ( ";" | newline ) } "}"
//! HOOK      = "prerouting" | "input" | "forward" | "output" | "postrouting"
//! PRIO      = INTEGER | "dstnat" (-100) | "filter" (0) | "srcnat" (100)
//! rule      = { match } { statement }
//! match     = "iif" N | "oif" N                        (interface index)
//!           | "ip" ("saddr" | "daddr") [ "!=" ] ADDRS
//!           | ("ip" "protocol" | "meta" "l4proto") [ "!=" ] PROTOS
//!           | ("ip" | "meta") "length" [ "!=" ] N [ "-" N ]
//!           | ("tcp" | "udp" | "th") ("sport" | "dport") [ "!=" ] PORTS
//!           | "tcp" "flags" [ "!=" ] FLAGS            (those flags set)
//!           | "tcp" "flags" "&" FLAGS ("==" | "!=") FLAGS
//!           | "icmp" "type" [ "!=" ] TYPES | "icmp" "code" [ "!=" ] N
//!           | ("meta" "mark" | "mark") [ "&" N ] [ "==" | "!=" ] N
//!           | "ct" "state" [ "!=" ] STATE { "," STATE } | "ct" "state" "{" … "}"
//! statement = "accept" | "drop" | "return" | "continue" | "counter"
//!           | "jump" NAME | "goto" NAME | "queue" [ "num" N ]
//!           | "reject" [ "with" ( "tcp" "reset" | "icmp" [ "type" ] CODE ) ]
//!           | "log" [ "prefix" STRING ] | ("meta" "mark" | "mark") "set" N
//!           | "snat" [ "ip" ] [ "to" ] ADDR [ ":" PORT [ "-" PORT ] ]
//!           | "masquerade" [ "to" ":" PORT [ "-" PORT ] ]
//!           | "dnat" [ "ip" ] [ "to" ] ADDR [ ":" PORT ]
//! ADDRS     = CIDR | "{" CIDR { "," CIDR } "}"         (CIDR: a.b.c.d[/len])
//! PORTS     = P | "{" P { "," P } "}"                   (P: N or N-M)
//! PROTOS    = tcp | udp | icmp | N, or a set of them
//! TYPES     = echo-reply | destination-unreachable | source-quench | redirect
//!           | echo-request | time-exceeded | parameter-problem
//!           | timestamp-request | timestamp-reply | N, or a set of them
//! FLAGS     = FLAG { ("|" | ",") FLAG }, optionally in "( )"
//!             (fin syn rst psh ack urg ecn cwr)
//! CODE      = net-unreachable | host-unreachable | prot-unreachable
//!           | port-unreachable | net-prohibited | host-prohibited
//!           | admin-prohibited | N
//! ```
//!
//! `tcp`/`udp` port matches imply the protocol; `counter` is accepted and
//! changes nothing (every rule counts). A verdict ends a rule.
//!
//! ```
//! use lamina_filter::Ruleset;
//!
//! let text = "table ip filter { chain input { type filter hook input priority 0; policy drop; \
//!             ct state established,related accept; \
//!             ip saddr 192.0.2.0/24 tcp dport { 22, 80 } ct state new accept } }";
//! let rules: Ruleset = text.parse().unwrap();
//! assert_eq!(rules.to_string().parse::<Ruleset>().unwrap(), rules);
//!
//! let err = "table ip t { chain c { tcp dport 99999 accept } }".parse::<Ruleset>().unwrap_err();
//! assert_eq!(err.offset, 33);
//! ```

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::Ipv4Addr;
use core::str::FromStr;

use lamina_icmp::UnreachableCode;
use lamina_ipv4::hook::HookPoint;
use lamina_ipv4::{IfaceId, Ipv4Cidr};

use crate::conntrack::CtState;
use crate::rules::{
    Action, AddrSet, BaseChain, Chain, ChainType, Match, Policy, PortSet, RejectWith, Rule,
    Ruleset, StateSet, Table,
};

/// A syntax error: where and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset}: {message}")]
pub struct ParseError {
    /// Byte offset of the offending token in the text.
    pub offset: usize,
    /// What was wrong.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Str(String),
    Punct(&'static str),
    /// `;` or a newline.
    End,
    Eof,
}

fn tokenize(s: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let start = i;
        match c {
            b'\n' | b';' => {
                out.push((Tok::End, start));
                i += 1;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b'#' => {
                while b.get(i).is_some_and(|&c| c != b'\n') {
                    i += 1;
                }
            }
            b'"' => {
                i += 1;
                while b.get(i).is_some_and(|&c| c != b'"' && c != b'\n') {
                    i += 1;
                }
                if b.get(i) != Some(&b'"') {
                    return Err(err(start, "unterminated string"));
                }
                out.push((Tok::Str(s.get(start + 1..i).unwrap_or("").into()), start));
                i += 1;
            }
            b'{' | b'}' | b'(' | b')' | b',' | b'&' | b'|' => {
                let p = match c {
                    b'{' => "{",
                    b'}' => "}",
                    b'(' => "(",
                    b')' => ")",
                    b',' => ",",
                    b'&' => "&",
                    _ => "|",
                };
                out.push((Tok::Punct(p), start));
                i += 1;
            }
            b'=' | b'!' => {
                if b.get(i + 1) != Some(&b'=') {
                    return Err(err(start, "expected `==` or `!=`"));
                }
                out.push((Tok::Punct(if c == b'=' { "==" } else { "!=" }), start));
                i += 2;
            }
            c if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'/' | b'-' | b':') => {
                while b.get(i).is_some_and(|&c| {
                    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'/' | b'-' | b':')
                }) {
                    i += 1;
                }
                out.push((Tok::Word(s.get(start..i).unwrap_or("").into()), start));
            }
            _ => return Err(err(start, "unexpected character")),
        }
    }
    out.push((Tok::Eof, s.len()));
    Ok(out)
}

fn err(offset: usize, message: &str) -> ParseError {
    ParseError {
        offset,
        message: message.into(),
    }
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        self.toks.get(self.pos).map_or(&Tok::Eof, |t| &t.0)
    }

    fn offset(&self) -> usize {
        self.toks.get(self.pos).map_or(0, |t| t.1)
    }

    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn fail<T>(&self, message: &str) -> Result<T, ParseError> {
        Err(err(self.offset(), message))
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Tok::Word(x) if x == w)
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if self.is_word(w) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn is_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Tok::Punct(x) if *x == p)
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if self.is_punct(p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_word(&mut self, w: &str) -> Result<(), ParseError> {
        if self.eat_word(w) {
            Ok(())
        } else {
            self.fail(&format!("expected `{w}`"))
        }
    }

    fn expect_punct(&mut self, p: &str) -> Result<(), ParseError> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            self.fail(&format!("expected `{p}`"))
        }
    }

    fn word(&mut self, what: &str) -> Result<(String, usize), ParseError> {
        let off = self.offset();
        match self.next() {
            Tok::Word(w) => Ok((w, off)),
            _ => Err(err(off, &format!("expected {what}"))),
        }
    }

    fn skip_ends(&mut self) {
        while matches!(self.peek(), Tok::End) {
            self.pos += 1;
        }
    }

    fn number<T: TryFrom<u64>>(&mut self, what: &str) -> Result<T, ParseError> {
        let (w, off) = self.word(what)?;
        parse_num(&w)
            .and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| err(off, &format!("expected {what}")))
    }

    fn ruleset(&mut self) -> Result<Ruleset, ParseError> {
        let mut rs = Ruleset::new();
        loop {
            self.skip_ends();
            if matches!(self.peek(), Tok::Eof) {
                return Ok(rs);
            }
            rs.tables.push(self.table()?);
        }
    }

    fn table(&mut self) -> Result<Table, ParseError> {
        self.expect_word("table")?;
        self.eat_word("ip");
        let (name, _) = self.word("a table name")?;
        self.expect_punct("{")?;
        let mut t = Table::new(&name);
        loop {
            self.skip_ends();
            if self.eat_punct("}") {
                return Ok(t);
            }
            if matches!(self.peek(), Tok::Eof) {
                return self.fail("expected `}`");
            }
            t.chains.push(self.chain()?);
        }
    }

    fn chain(&mut self) -> Result<Chain, ParseError> {
        self.expect_word("chain")?;
        let (name, _) = self.word("a chain name")?;
        self.expect_punct("{")?;
        let mut c = Chain::user(&name);
        self.chain_body(&mut c)?;
        Ok(c)
    }

    /// The inside of `chain NAME { ... }`, through the closing brace.
    fn chain_body(&mut self, c: &mut Chain) -> Result<(), ParseError> {
        loop {
            self.skip_ends();
            if self.eat_punct("}") {
                return Ok(());
            }
            if matches!(self.peek(), Tok::Eof) {
                return self.fail("expected `}`");
            }
            if self.is_word("type") {
                if c.base.is_some() || !c.rules.is_empty() {
                    return self.fail("`type` must come first, once");
                }
                self.pos += 1;
                let (ty, off) = self.word("`filter` or `nat`")?;
                let chain_type = match ty.as_str() {
                    "filter" => ChainType::Filter,
                    "nat" => ChainType::Nat,
                    _ => return Err(err(off, "expected `filter` or `nat`")),
                };
                self.expect_word("hook")?;
                let (h, off) = self.word("a hook")?;
                let hook = match h.as_str() {
                    "prerouting" => HookPoint::PreRouting,
                    "input" => HookPoint::Input,
                    "forward" => HookPoint::Forward,
                    "output" => HookPoint::Output,
                    "postrouting" => HookPoint::PostRouting,
                    _ => {
                        return Err(err(
                            off,
                            "expected a hook (prerouting, input, forward, output, postrouting)",
                        ));
                    }
                };
                self.expect_word("priority")?;
                let (p, off) = self.word("a priority")?;
                let priority = match p.as_str() {
                    "dstnat" => -100,
                    "filter" => 0,
                    "srcnat" => 100,
                    _ => p
                        .parse::<i32>()
                        .map_err(|_| err(off, "expected a priority"))?,
                };
                c.base = Some(BaseChain {
                    chain_type,
                    hook,
                    priority,
                    policy: Policy::Accept,
                });
                continue;
            }
            if self.is_word("policy") {
                let Some(base) = c.base.as_mut() else {
                    return self.fail("a policy needs a base chain (`type … hook …` first)");
                };
                self.pos += 1;
                let (p, off) = self.word("`accept` or `drop`")?;
                base.policy = match p.as_str() {
                    "accept" => Policy::Accept,
                    "drop" => Policy::Drop,
                    _ => return Err(err(off, "expected `accept` or `drop`")),
                };
                continue;
            }
            c.rules.push(self.rule()?);
        }
    }

    fn rule(&mut self) -> Result<Rule, ParseError> {
        let mut r = Rule::default();
        let start = self.pos;
        loop {
            match self.peek() {
                Tok::End => {
                    self.pos += 1;
                    break;
                }
                Tok::Punct("}") | Tok::Eof => break,
                _ => {}
            }
            if r.actions.last().is_some_and(Action::is_verdict) {
                return self.fail("nothing may follow a verdict; end the rule with `;`");
            }
            let (w, off) = self.word("a match or a statement")?;
            self.item(&w, off, &mut r)?;
        }
        if self.pos == start {
            return self.fail("empty rule");
        }
        Ok(r)
    }

    fn negated(&mut self) -> bool {
        if self.eat_punct("!=") {
            true
        } else {
            self.eat_punct("==");
            false
        }
    }

    fn push(r: &mut Rule, m: Match, neg: bool) {
        r.matches
            .push(if neg { Match::Not(Box::new(m)) } else { m });
    }

    fn item(&mut self, w: &str, off: usize, r: &mut Rule) -> Result<(), ParseError> {
        match w {
            "iif" | "oif" => {
                let neg = self.negated();
                let n: u16 = self.number("an interface index")?;
                let m = if w == "iif" {
                    Match::Iif(IfaceId(n))
                } else {
                    Match::Oif(IfaceId(n))
                };
                Self::push(r, m, neg);
            }
            "ip" => {
                let (f, off) = self.word("`saddr`, `daddr`, `protocol` or `length`")?;
                match f.as_str() {
                    "saddr" | "daddr" => {
                        let neg = self.negated();
                        let set = self.addrs()?;
                        let m = if f == "saddr" {
                            Match::Saddr(set)
                        } else {
                            Match::Daddr(set)
                        };
                        Self::push(r, m, neg);
                    }
                    "protocol" => {
                        let neg = self.negated();
                        let p = self.list(Self::proto)?;
                        Self::push(r, Match::Protocol(p), neg);
                    }
                    "length" => self.length(r)?,
                    _ => {
                        return Err(err(
                            off,
                            "expected `saddr`, `daddr`, `protocol` or `length`",
                        ));
                    }
                }
            }
            "meta" => {
                let (f, off) = self.word("`l4proto`, `length`, `mark`, `iif` or `oif`")?;
                match f.as_str() {
                    "l4proto" => {
                        let neg = self.negated();
                        let p = self.list(Self::proto)?;
                        Self::push(r, Match::Protocol(p), neg);
                    }
                    "length" => self.length(r)?,
                    "mark" => self.mark(r)?,
                    "iif" | "oif" => self.item(&f, off, r)?,
                    _ => {
                        return Err(err(
                            off,
                            "expected `l4proto`, `length`, `mark`, `iif` or `oif`",
                        ));
                    }
                }
            }
            "mark" => self.mark(r)?,
            "tcp" | "udp" | "th" => {
                let (f, off) = self.word("`sport`, `dport` or `flags`")?;
                let proto = match w {
                    "tcp" => Some(6),
                    "udp" => Some(17),
                    _ => None,
                };
                match f.as_str() {
                    "sport" | "dport" => {
                        if let Some(p) = proto {
                            r.matches.push(Match::Protocol(alloc::vec![p]));
                        }
                        let neg = self.negated();
                        let set = self.ports()?;
                        let m = if f == "sport" {
                            Match::Sport(set)
                        } else {
                            Match::Dport(set)
                        };
                        Self::push(r, m, neg);
                    }
                    "flags" if w == "tcp" => {
                        if self.eat_punct("&") {
                            let mask = self.flags()?;
                            let neg = if self.eat_punct("!=") {
                                true
                            } else {
                                self.expect_punct("==")?;
                                false
                            };
                            let value = self.flags()?;
                            if value & !mask != 0 {
                                return self.fail("compared flags must lie within the mask");
                            }
                            Self::push(r, Match::TcpFlags { mask, value }, neg);
                        } else {
                            let neg = self.negated();
                            let f = self.flags()?;
                            Self::push(r, Match::TcpFlags { mask: f, value: f }, neg);
                        }
                    }
                    _ => return Err(err(off, "expected `sport`, `dport` or `flags`")),
                }
            }
            "icmp" => {
                let (f, off) = self.word("`type` or `code`")?;
                match f.as_str() {
                    "type" => {
                        let neg = self.negated();
                        let t = self.list(Self::icmp_type)?;
                        Self::push(r, Match::IcmpType(t), neg);
                    }
                    "code" => {
                        let neg = self.negated();
                        let c: u8 = self.number("an ICMP code")?;
                        Self::push(r, Match::IcmpCode(c), neg);
                    }
                    _ => return Err(err(off, "expected `type` or `code`")),
                }
            }
            "ct" => {
                self.expect_word("state")?;
                let neg = self.negated();
                let states = self.list(Self::state)?;
                Self::push(r, Match::CtState(StateSet::of(&states)), neg);
            }
            "accept" => r.actions.push(Action::Accept),
            "drop" => r.actions.push(Action::Drop),
            "return" => r.actions.push(Action::Return),
            "continue" | "counter" => {}
            "jump" | "goto" => {
                let (name, _) = self.word("a chain name")?;
                r.actions.push(if w == "jump" {
                    Action::Jump(name)
                } else {
                    Action::Goto(name)
                });
            }
            "queue" => {
                let n = if self.eat_word("num") {
                    self.number("a queue number")?
                } else {
                    0
                };
                r.actions.push(Action::Queue(n));
            }
            "reject" => {
                let with = if self.eat_word("with") {
                    let (k, off) = self.word("`tcp` or `icmp`")?;
                    match k.as_str() {
                        "tcp" => {
                            self.expect_word("reset")?;
                            RejectWith::TcpReset
                        }
                        "icmp" => {
                            self.eat_word("type");
                            let (c, off) = self.word("an unreachable code")?;
                            RejectWith::Icmp(
                                unreach_code(&c)
                                    .ok_or_else(|| err(off, "expected an unreachable code"))?,
                            )
                        }
                        _ => return Err(err(off, "expected `tcp` or `icmp`")),
                    }
                } else {
                    RejectWith::Icmp(UnreachableCode::PortUnreachable)
                };
                r.actions.push(Action::Reject(with));
            }
            "log" => {
                let prefix = if self.eat_word("prefix") {
                    let off = self.offset();
                    match self.next() {
                        Tok::Str(s) | Tok::Word(s) => s,
                        _ => return Err(err(off, "expected a prefix string")),
                    }
                } else {
                    String::new()
                };
                r.actions.push(Action::Log(prefix));
            }
            "snat" | "dnat" => {
                self.eat_word("ip");
                self.eat_word("to");
                let (target, off) = self.word("an address")?;
                let (a, ports) = match target.split_once(':') {
                    Some((a, p)) => (a, Some(p)),
                    None => (target.as_str(), None),
                };
                let addr: Ipv4Addr = a.parse().map_err(|_| err(off, "expected an address"))?;
                let ports = match ports {
                    Some(p) => Some(
                        parse_range(p).ok_or_else(|| err(off, "expected a port or port range"))?,
                    ),
                    None => None,
                };
                if w == "snat" {
                    r.actions.push(Action::Snat { addr, ports });
                } else {
                    let port = match ports {
                        Some((lo, hi)) if lo == hi => Some(lo),
                        Some(_) => return Err(err(off, "dnat takes one port")),
                        None => None,
                    };
                    r.actions.push(Action::Dnat { addr, port });
                }
            }
            "masquerade" => {
                let ports = if self.eat_word("to") {
                    let (p, off) = self.word("`:port-port`")?;
                    let p = p.strip_prefix(':').unwrap_or(&p);
                    Some(parse_range(p).ok_or_else(|| err(off, "expected a port range"))?)
                } else {
                    None
                };
                r.actions.push(Action::Masquerade { ports });
            }
            _ => return Err(err(off, "unknown match or statement")),
        }
        Ok(())
    }

    fn length(&mut self, r: &mut Rule) -> Result<(), ParseError> {
        let neg = self.negated();
        let (w, off) = self.word("a length or range")?;
        let (min, max) = parse_range(&w).ok_or_else(|| err(off, "expected a length or range"))?;
        Self::push(r, Match::Length { min, max }, neg);
        Ok(())
    }

    fn mark(&mut self, r: &mut Rule) -> Result<(), ParseError> {
        if self.eat_word("set") {
            let m: u32 = self.number("a mark")?;
            r.actions.push(Action::SetMark(m));
            return Ok(());
        }
        let mask = if self.eat_punct("&") {
            self.number("a mask")?
        } else {
            u32::MAX
        };
        let neg = self.negated();
        let value: u32 = self.number("a mark")?;
        Self::push(
            r,
            Match::Mark {
                mask,
                value: value & mask,
            },
            neg,
        );
        Ok(())
    }

    /// One item, or `{ item, ... }`; also `a,b,c` without braces.
    fn list<T>(
        &mut self,
        item: fn(&mut Self) -> Result<T, ParseError>,
    ) -> Result<Vec<T>, ParseError> {
        let mut v = Vec::new();
        if self.eat_punct("{") {
            loop {
                v.push(item(self)?);
                if self.eat_punct("}") {
                    return Ok(v);
                }
                self.expect_punct(",")?;
            }
        }
        v.push(item(self)?);
        while self.eat_punct(",") {
            v.push(item(self)?);
        }
        Ok(v)
    }

    fn addrs(&mut self) -> Result<AddrSet, ParseError> {
        Ok(self
            .list(|p| {
                let (w, off) = p.word("an address or prefix")?;
                parse_cidr(&w).ok_or_else(|| err(off, "expected an address or prefix"))
            })?
            .into_iter()
            .collect())
    }

    fn ports(&mut self) -> Result<PortSet, ParseError> {
        let ranges = self.list(|p| {
            let (w, off) = p.word("a port or range")?;
            parse_range(&w).ok_or_else(|| err(off, "expected a port (0-65535) or range"))
        })?;
        let mut s = PortSet::new();
        for (lo, hi) in ranges {
            s.insert_range(lo, hi);
        }
        Ok(s)
    }

    fn proto(&mut self) -> Result<u8, ParseError> {
        let (w, off) = self.word("a protocol")?;
        match w.as_str() {
            "tcp" => Ok(6),
            "udp" => Ok(17),
            "icmp" => Ok(1),
            _ => parse_num(&w)
                .and_then(|n| u8::try_from(n).ok())
                .ok_or_else(|| err(off, "expected a protocol")),
        }
    }

    fn icmp_type(&mut self) -> Result<u8, ParseError> {
        let (w, off) = self.word("an ICMP type")?;
        ICMP_TYPES
            .iter()
            .find(|(n, _)| *n == w)
            .map(|(_, v)| *v)
            .or_else(|| parse_num(&w).and_then(|n| u8::try_from(n).ok()))
            .ok_or_else(|| err(off, "expected an ICMP type"))
    }

    fn state(&mut self) -> Result<CtState, ParseError> {
        let (w, off) = self.word("a conntrack state")?;
        match w.as_str() {
            "new" => Ok(CtState::New),
            "established" => Ok(CtState::Established),
            "related" => Ok(CtState::Related),
            "invalid" => Ok(CtState::Invalid),
            _ => Err(err(off, "expected new, established, related or invalid")),
        }
    }

    fn flags(&mut self) -> Result<u16, ParseError> {
        let paren = self.eat_punct("(");
        let mut f = 0u16;
        loop {
            let (w, off) = self.word("a TCP flag")?;
            f |= TCP_FLAGS
                .iter()
                .find(|(n, _)| *n == w)
                .map(|(_, v)| *v)
                .or_else(|| {
                    parse_num(&w)
                        .and_then(|n| u16::try_from(n).ok())
                        .filter(|&n| n <= 0xfff)
                })
                .ok_or_else(|| err(off, "expected a TCP flag (fin syn rst psh ack urg ecn cwr)"))?;
            if !(self.eat_punct("|") || (!paren && self.eat_punct(","))) {
                break;
            }
        }
        if paren {
            self.expect_punct(")")?;
        }
        Ok(f)
    }
}

const ICMP_TYPES: [(&str, u8); 9] = [
    ("echo-reply", 0),
    ("destination-unreachable", 3),
    ("source-quench", 4),
    ("redirect", 5),
    ("echo-request", 8),
    ("time-exceeded", 11),
    ("parameter-problem", 12),
    ("timestamp-request", 13),
    ("timestamp-reply", 14),
];

const TCP_FLAGS: [(&str, u16); 8] = [
    ("fin", 0x01),
    ("syn", 0x02),
    ("rst", 0x04),
    ("psh", 0x08),
    ("ack", 0x10),
    ("urg", 0x20),
    ("ecn", 0x40),
    ("cwr", 0x80),
];

const UNREACH: [(&str, u8); 7] = [
    ("net-unreachable", 0),
    ("host-unreachable", 1),
    ("prot-unreachable", 2),
    ("port-unreachable", 3),
    ("net-prohibited", 9),
    ("host-prohibited", 10),
    ("admin-prohibited", 13),
];

fn unreach_code(w: &str) -> Option<UnreachableCode> {
    UNREACH
        .iter()
        .find(|(n, _)| *n == w)
        .map(|(_, v)| *v)
        .or_else(|| parse_num(w).and_then(|n| u8::try_from(n).ok()))
        .map(UnreachableCode::from)
}

fn parse_num(w: &str) -> Option<u64> {
    match w.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => w.parse().ok(),
    }
}

fn parse_range(w: &str) -> Option<(u16, u16)> {
    let (lo, hi) = w.split_once('-').unwrap_or((w, w));
    let lo = u16::try_from(parse_num(lo)?).ok()?;
    let hi = u16::try_from(parse_num(hi)?).ok()?;
    (lo <= hi).then_some((lo, hi))
}

fn parse_cidr(w: &str) -> Option<Ipv4Cidr> {
    match w.split_once('/') {
        Some((a, l)) => Ipv4Cidr::new(a.parse().ok()?, l.parse().ok()?).ok(),
        None => Ipv4Cidr::new(w.parse().ok()?, 32).ok(),
    }
}

impl Parser {
    /// `add table|chain|rule ...`, applied to `rs`.
    fn command(&mut self, rs: &mut Ruleset) -> Result<(), ParseError> {
        self.skip_ends();
        self.expect_word("add")?;
        let (what, off) = self.word("`table`, `chain` or `rule`")?;
        self.eat_word("ip");
        let (table, table_off) = self.word("a table name")?;
        let find_table = |rs: &mut Ruleset| rs.tables.iter().position(|t| t.name == table);
        match what.as_str() {
            "table" => {
                if find_table(rs).is_none() {
                    rs.tables.push(Table::new(&table));
                }
            }
            "chain" | "rule" => {
                let ti = find_table(rs).ok_or_else(|| err(table_off, "no such table"))?;
                let (chain, chain_off) = self.word("a chain name")?;
                let t = rs
                    .tables
                    .get_mut(ti)
                    .ok_or_else(|| err(table_off, "no such table"))?;
                if what == "chain" {
                    if t.chains.iter().any(|c| c.name == chain) {
                        return Err(err(chain_off, "chain exists"));
                    }
                    let mut c = Chain::user(&chain);
                    if self.eat_punct("{") {
                        self.chain_body(&mut c)?;
                    }
                    t.chains.push(c);
                } else {
                    let rule = self.rule()?;
                    let c = t
                        .chains
                        .iter_mut()
                        .find(|c| c.name == chain)
                        .ok_or_else(|| err(chain_off, "no such chain"))?;
                    c.rules.push(rule);
                }
            }
            _ => return Err(err(off, "expected `table`, `chain` or `rule`")),
        }
        self.skip_ends();
        if matches!(self.peek(), Tok::Eof) {
            Ok(())
        } else {
            self.fail("expected the end of the command")
        }
    }
}

impl Ruleset {
    /// Applies one `nft`-style command line to the ruleset:
    ///
    /// ```text
    /// add table [ip] TABLE
    /// add chain [ip] TABLE CHAIN [ "{" chain body "}" ]
    /// add rule  [ip] TABLE CHAIN rule
    /// ```
    ///
    /// On error the ruleset is unchanged.
    ///
    /// ```
    /// use lamina_filter::Ruleset;
    ///
    /// let mut rs = Ruleset::new();
    /// rs.apply_command("add table ip filter").unwrap();
    /// rs.apply_command("add chain ip filter input { type filter hook input priority 0; policy drop; }").unwrap();
    /// rs.apply_command("add rule ip filter input tcp dport 22 accept").unwrap();
    /// assert_eq!(rs.tables[0].chains[0].rules.len(), 1);
    /// assert_eq!(rs.apply_command("add rule ip filter nope accept").unwrap_err().offset, 19);
    /// ```
    pub fn apply_command(&mut self, line: &str) -> Result<(), ParseError> {
        let toks = tokenize(line)?;
        let mut copy = self.clone();
        Parser { toks, pos: 0 }.command(&mut copy)?;
        *self = copy;
        Ok(())
    }
}

impl FromStr for Ruleset {
    type Err = ParseError;

    /// Parses the [grammar](self) of this module.
    fn from_str(s: &str) -> Result<Ruleset, ParseError> {
        let toks = tokenize(s)?;
        Parser { toks, pos: 0 }.ruleset()
    }
}

/// Parses `text` (see the [grammar](self)).
pub fn parse_ruleset(text: &str) -> Result<Ruleset, ParseError> {
    text.parse()
}

// ---- Printing ------------------------------------------------------------

fn set_fmt<T>(
    f: &mut fmt::Formatter<'_>,
    items: &[T],
    one: impl Fn(&mut fmt::Formatter<'_>, &T) -> fmt::Result,
) -> fmt::Result {
    if let [x] = items {
        return one(f, x);
    }
    f.write_str("{ ")?;
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        one(f, x)?;
    }
    f.write_str(" }")
}

fn range_fmt(f: &mut fmt::Formatter<'_>, &(lo, hi): &(u16, u16)) -> fmt::Result {
    if lo == hi {
        write!(f, "{lo}")
    } else {
        write!(f, "{lo}-{hi}")
    }
}

fn flags_fmt(f: &mut fmt::Formatter<'_>, v: u16) -> fmt::Result {
    if v & !0xff != 0 || v == 0 {
        return write!(f, "{v:#x}");
    }
    let names: Vec<&str> = TCP_FLAGS
        .iter()
        .filter(|(_, b)| v & b != 0)
        .map(|(n, _)| *n)
        .collect();
    write!(f, "({})", names.join("|"))
}

impl fmt::Display for Match {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_match(self, f, false)
    }
}

fn fmt_match(m: &Match, f: &mut fmt::Formatter<'_>, neg: bool) -> fmt::Result {
    let op = if neg { "!= " } else { "" };
    match m {
        Match::Iif(i) => write!(f, "iif {op}{}", i.0),
        Match::Oif(i) => write!(f, "oif {op}{}", i.0),
        Match::Saddr(s) | Match::Daddr(s) => {
            let k = if matches!(m, Match::Saddr(_)) {
                "saddr"
            } else {
                "daddr"
            };
            write!(f, "ip {k} {op}")?;
            set_fmt(f, s.prefixes(), |f, c| write!(f, "{c}"))
        }
        Match::Protocol(p) => {
            write!(f, "meta l4proto {op}")?;
            set_fmt(f, p, |f, p| write!(f, "{p}"))
        }
        Match::Sport(s) | Match::Dport(s) => {
            let k = if matches!(m, Match::Sport(_)) {
                "sport"
            } else {
                "dport"
            };
            write!(f, "th {k} {op}")?;
            set_fmt(f, s.ranges(), range_fmt)
        }
        Match::IcmpType(t) => {
            write!(f, "icmp type {op}")?;
            set_fmt(f, t, |f, t| write!(f, "{t}"))
        }
        Match::IcmpCode(c) => write!(f, "icmp code {op}{c}"),
        Match::TcpFlags { mask, value } => {
            f.write_str("tcp flags & ")?;
            flags_fmt(f, *mask)?;
            f.write_str(if neg { " != " } else { " == " })?;
            flags_fmt(f, *value)
        }
        Match::Length { min, max } => {
            write!(f, "meta length {op}")?;
            range_fmt(f, &(*min, *max))
        }
        Match::Mark { mask, value } => write!(
            f,
            "meta mark & {mask:#x} {}{value:#x}",
            if neg { "!= " } else { "== " }
        ),
        Match::CtState(s) => {
            write!(f, "ct state {op}")?;
            let names: Vec<&str> = [
                (CtState::New, "new"),
                (CtState::Established, "established"),
                (CtState::Related, "related"),
                (CtState::Invalid, "invalid"),
            ]
            .iter()
            .filter(|(st, _)| s.contains(*st))
            .map(|(_, n)| *n)
            .collect();
            f.write_str(&names.join(","))
        }
        Match::Not(inner) => fmt_match(inner, f, !neg),
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Accept => f.write_str("accept"),
            Action::Drop => f.write_str("drop"),
            Action::Return => f.write_str("return"),
            Action::Jump(c) => write!(f, "jump {c}"),
            Action::Goto(c) => write!(f, "goto {c}"),
            Action::Queue(n) => write!(f, "queue num {n}"),
            Action::Reject(RejectWith::TcpReset) => f.write_str("reject with tcp reset"),
            Action::Reject(RejectWith::Icmp(c)) => write!(f, "reject with icmp type {}", c.value()),
            Action::Log(p) => write!(f, "log prefix \"{p}\""),
            Action::SetMark(m) => write!(f, "meta mark set {m:#x}"),
            Action::Snat { addr, ports } => {
                write!(f, "snat to {addr}")?;
                if let Some(r) = ports {
                    f.write_str(":")?;
                    range_fmt(f, r)?;
                }
                Ok(())
            }
            Action::Masquerade { ports } => {
                f.write_str("masquerade")?;
                if let Some(r) = ports {
                    f.write_str(" to :")?;
                    range_fmt(f, r)?;
                }
                Ok(())
            }
            Action::Dnat { addr, port } => {
                write!(f, "dnat to {addr}")?;
                if let Some(p) = port {
                    write!(f, ":{p}")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for m in &self.matches {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            write!(f, "{m}")?;
        }
        for a in &self.actions {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            write!(f, "{a}")?;
        }
        if first {
            f.write_str("counter")?;
        }
        Ok(())
    }
}

impl fmt::Display for Ruleset {
    /// Prints the ruleset in the [grammar](self) of this module; parsing
    /// the text gives back an equal ruleset.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for t in &self.tables {
            writeln!(f, "table ip {} {{", t.name)?;
            for c in &t.chains {
                writeln!(f, "    chain {} {{", c.name)?;
                if let Some(b) = &c.base {
                    let ty = match b.chain_type {
                        ChainType::Filter => "filter",
                        ChainType::Nat => "nat",
                    };
                    let hook = match b.hook {
                        HookPoint::PreRouting => "prerouting",
                        HookPoint::Input => "input",
                        HookPoint::Forward => "forward",
                        HookPoint::Output => "output",
                        HookPoint::PostRouting => "postrouting",
                    };
                    let policy = match b.policy {
                        Policy::Accept => "accept",
                        Policy::Drop => "drop",
                    };
                    writeln!(
                        f,
                        "        type {ty} hook {hook} priority {}; policy {policy};",
                        b.priority
                    )?;
                }
                for r in &c.rules {
                    writeln!(f, "        {r}")?;
                }
                writeln!(f, "    }}")?;
            }
            writeln!(f, "}}")?;
        }
        Ok(())
    }
}

impl Ruleset {
    /// Parses `text` (see [`parse`](crate::parse)).
    pub fn parse_text(text: &str) -> Result<Ruleset, ParseError> {
        text.parse()
    }
}
