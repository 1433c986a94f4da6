//! The per-organization hash chain: sealing new events and verifying
//! stored ones.
//!
//! `hash(n) = SHA-256(hash(n - 1) ‖ canonical(event n))`, `hash(0)` = 32
//! zero bytes. The hash covers the sequence number and organization, so an
//! event cannot be moved to another position or chain unnoticed. SHA-256
//! alone does not stop someone with write access from rewriting the whole
//! tail consistently; publishing or storing the head elsewhere (the
//! `anchor` of [`verify`]) is what catches that.

use std::borrow::Borrow;
use std::fmt;

use chrono::{DateTime, SubsecRound, Utc};
use iamkit_identity::OrgId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::encoding::encode_canonical;
use crate::error::{Error, Result};
use crate::event::{AuditEvent, NewEvent};

/// A SHA-256 chain hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventHash(pub [u8; 32]);

impl EventHash {
    /// The `previous hash` of an organization's first event.
    pub const GENESIS: Self = Self([0; 32]);

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses 64 hex digits.
    pub fn from_hex(hex: &str) -> Option<Self> {
        let bytes = hex.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (byte, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let text = std::str::from_utf8(pair).ok()?;
            *byte = u8::from_str_radix(text, 16).ok()?;
        }
        Some(Self(out))
    }
}

impl fmt::Display for EventHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for EventHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventHash({self})")
    }
}

impl Serialize for EventHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EventHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::from_hex(&text).ok_or_else(|| serde::de::Error::custom("expected 64 hex digits"))
    }
}

/// The chain of what belongs to no organization: a failed sign-in with a
/// name no account has, and a change to an account that is a member of no
/// organization (before its first invitation is accepted, or after it left
/// its last one). It is an ordinary chain under the nil id, which no
/// generated id (a UUIDv7) ever is: verify, query and export it like an
/// organization's. Its events never change anyone's authorization.
pub const SYSTEM_CHAIN: OrgId = OrgId::from_uuid(iamkit_identity::__private::Uuid::nil());

/// The newest position of an organization's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChainHead {
    /// The organization.
    pub org: OrgId,
    /// The sequence number of its newest event; 0 while it has none.
    pub seq: u64,
    /// The hash of its newest event; [`EventHash::GENESIS`] while it has
    /// none.
    pub hash: EventHash,
}

impl ChainHead {
    /// The head of an organization without events.
    pub fn genesis(org: OrgId) -> Self {
        Self {
            org,
            seq: 0,
            hash: EventHash::GENESIS,
        }
    }
}

/// The chain hash of `event` after `prev`, encoding into `buf` (cleared
/// first) so loops reuse one allocation.
pub fn chain_hash(prev: &EventHash, event: &AuditEvent, buf: &mut Vec<u8>) -> EventHash {
    buf.clear();
    encode_canonical(event, buf);
    let mut hasher = Sha256::new();
    hasher.update(prev.0);
    hasher.update(&buf[..]);
    EventHash(hasher.finalize().into())
}

/// Appends `event` to the chain whose newest position is `head`: assigns
/// `seq = head.seq + 1` and the chain hash.
///
/// Pure: an adapter reads the head, calls this and writes the event and the
/// new head in the same transaction, holding whatever lock makes the read
/// and the write atomic.
pub fn seal(head: &ChainHead, event: NewEvent) -> Result<AuditEvent> {
    if head.org != event.org {
        return Err(Error::OrganizationMismatch {
            event: event.org,
            head: head.org,
        });
    }
    let seq = head.seq.checked_add(1).ok_or(Error::SequenceExhausted)?;
    let mut sealed = AuditEvent {
        id: event.id,
        org: event.org,
        seq,
        // Microseconds: the precision SQL timestamps keep, so the hashed
        // value survives any adapter's round trip.
        at: canonical_time(event.at),
        actor: event.actor,
        action: event.action,
        target: event.target,
        outcome: event.outcome,
        context: event.context,
        hash: EventHash::GENESIS,
    };
    sealed.hash = chain_hash(&head.hash, &sealed, &mut Vec::with_capacity(256));
    Ok(sealed)
}

/// `at` as the canonical encoding sees it: whole microseconds, and a leap
/// second written as the following second. Distinct `DateTime`s with the
/// same encoding would let a stored time change without changing the hash.
fn canonical_time(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or_else(|| at.trunc_subsecs(6))
}

/// How a chain is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakKind {
    /// The event at this position was altered (its content no longer
    /// matches its hash).
    Modified,
    /// The event of this sequence number is gone.
    Missing,
    /// The event of this sequence number is present, but later in the
    /// stream: events were moved.
    Reordered,
    /// A foreign event sits at this position (a forged or duplicated event,
    /// an event of another organization, or one beyond the anchored head).
    Inserted,
}

/// The first place where a chain departs from a genuine one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChainBreak {
    /// The sequence number the chain expected where it departs.
    pub seq: u64,
    /// What happened there.
    pub kind: BreakKind,
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "audit chain broken at sequence {}: {:?}",
            self.seq, self.kind
        )
    }
}

impl std::error::Error for ChainBreak {}

/// A chain that verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Verified {
    /// The head reached by the walk.
    pub head: ChainHead,
}

/// Checks an organization's events, given in stream order (ascending
/// sequence numbers, as `scan_events` returns them).
///
/// `anchor` is a head recorded independently of the events (the store's
/// head row, or one published earlier): with it, a truncated tail reads as
/// [`BreakKind::Missing`] and an appended forgery as
/// [`BreakKind::Inserted`]; without it, only breaks inside the stream are
/// found.
///
/// Returns the first break. Its `seq` is the sequence number expected at
/// the first position where the stream differs from a genuine chain.
pub fn verify<I>(org: OrgId, events: I, anchor: Option<&ChainHead>) -> Result<Verified, ChainBreak>
where
    I: IntoIterator,
    I::Item: Borrow<AuditEvent>,
{
    let mut verifier = ChainVerifier::new(org, anchor.copied());
    for event in events {
        verifier.push(event.borrow());
    }
    verifier.finish()
}

/// [`verify`] fed one event at a time, for chains read page by page.
///
/// Memory stays constant while the chain is intact; after the first
/// anomaly the verifier keeps the rest of the stream to tell which kind of
/// break it is.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    org: OrgId,
    anchor: Option<ChainHead>,
    /// The sequence number expected next.
    next: u64,
    /// The hash of the last accepted event.
    prev: EventHash,
    buf: Vec<u8>,
    suspect: Option<Suspect>,
}

#[derive(Debug, Clone)]
struct Suspect {
    event: AuditEvent,
    rest: Vec<AuditEvent>,
}

impl ChainVerifier {
    /// A verifier for `org`'s chain from its first event.
    pub fn new(org: OrgId, anchor: Option<ChainHead>) -> Self {
        Self {
            org,
            anchor,
            next: 1,
            prev: EventHash::GENESIS,
            buf: Vec::with_capacity(256),
            suspect: None,
        }
    }

    /// Feeds the next event of the stream.
    pub fn push(&mut self, event: &AuditEvent) {
        if let Some(suspect) = &mut self.suspect {
            suspect.rest.push(event.clone());
            return;
        }
        let beyond_anchor = self.anchor.is_some_and(|a| self.next > a.seq);
        let prev = self.prev;
        if !beyond_anchor && self.fits(event, self.next, &prev) {
            self.prev = event.hash;
            self.next = self.next.saturating_add(1);
        } else {
            self.suspect = Some(Suspect {
                event: event.clone(),
                rest: Vec::new(),
            });
        }
    }

    /// The verdict once the stream has ended.
    pub fn finish(mut self) -> Result<Verified, ChainBreak> {
        if let Some(suspect) = self.suspect.take() {
            return Err(self.diagnose(&suspect));
        }
        let last = self.next.saturating_sub(1);
        if let Some(anchor) = self.anchor {
            if last < anchor.seq {
                return Err(self.broken(self.next, BreakKind::Missing));
            }
            if anchor.hash != self.prev {
                // The whole tail was rewritten consistently; only the
                // anchor shows it.
                return Err(self.broken(last, BreakKind::Modified));
            }
        }
        Ok(Verified {
            head: ChainHead {
                org: self.org,
                seq: last,
                hash: self.prev,
            },
        })
    }

    fn broken(&self, seq: u64, kind: BreakKind) -> ChainBreak {
        ChainBreak { seq, kind }
    }

    fn fits(&mut self, event: &AuditEvent, seq: u64, prev: &EventHash) -> bool {
        event.org == self.org
            && event.seq == seq
            // The encoding does not see below a microsecond: a time that
            // `seal` would not have produced is not the sealed one.
            && canonical_time(event.at) == event.at
            && chain_hash(prev, event, &mut self.buf) == event.hash
    }

    /// Classifies the break at the first event that did not fit.
    fn diagnose(&mut self, suspect: &Suspect) -> ChainBreak {
        let s = self.next;
        let a = &suspect.event;
        let rest = &suspect.rest;
        let prev = self.prev;
        if a.org != self.org {
            return self.broken(s, BreakKind::Inserted);
        }
        if a.seq < s {
            // A sequence number already seen: one of the two copies is
            // foreign. When it repeats the last accepted one, the genuine
            // copy is whichever the following event (or the anchor) chains
            // from: if that is `a`, the accepted one was the forgery.
            if a.seq >= 1 && a.seq.saturating_add(1) == s {
                let a_is_genuine = match rest.first() {
                    Some(next) => self.fits(next, s, &a.hash),
                    None => self
                        .anchor
                        .is_some_and(|h| h.seq == a.seq && h.hash == a.hash),
                };
                if a_is_genuine {
                    return self.broken(a.seq, BreakKind::Inserted);
                }
            }
            return self.broken(s, BreakKind::Inserted);
        }
        if self.anchor.is_some_and(|h| s > h.seq) {
            return self.broken(s, BreakKind::Inserted);
        }
        if a.seq == s {
            // Right number, wrong hash: altered, unless the genuine event
            // follows right behind it.
            let genuine_follows = rest.first().is_some_and(|next| self.fits(next, s, &prev));
            let kind = if genuine_follows {
                BreakKind::Inserted
            } else {
                BreakKind::Modified
            };
            return self.broken(s, kind);
        }
        // A gap: `s` was skipped.
        if rest.iter().any(|e| e.seq == a.seq) {
            return self.broken(s, BreakKind::Inserted);
        }
        if !rest.iter().any(|e| e.seq == s) {
            return self.broken(s, BreakKind::Missing);
        }
        // `s` comes later. If `a` chains from its own predecessor it is a
        // genuine event out of place; otherwise it is a forgery.
        let pred_seq = a.seq.saturating_sub(1);
        let genuine = rest
            .iter()
            .find(|e| e.seq == pred_seq)
            .map(|pred| pred.hash)
            .is_some_and(|pred_hash| self.fits(a, a.seq, &pred_hash));
        let kind = if genuine {
            BreakKind::Reordered
        } else {
            BreakKind::Inserted
        };
        self.broken(s, kind)
    }
}
