#![doc = include_str!("../README.md")]

mod action;
mod chain;
mod encoding;
mod error;
mod event;
mod export;
mod names;
mod query;
mod repository;
mod text;

pub use action::{
    Action, ActionKind, ImportedHash, MembershipChange, ProfileField, ResetInitiator,
    SignInFailure, SignInMethod,
};
pub use chain::{
    BreakKind, ChainBreak, ChainHead, ChainVerifier, EventHash, SYSTEM_CHAIN, Verified, chain_hash,
    seal, verify,
};
pub use encoding::{ENCODING_VERSION, canonical_bytes, encode_canonical};
pub use error::{Error, Result, TextField, TextRule};
pub use event::{Actor, AuditEvent, Context, DenialReason, EventId, NewEvent, Outcome, Target};
pub use export::{read_jsonl, write_jsonl};
pub use names::{EventView, NameResolver, actor_label, deleted_label, label_of};
pub use query::{EventFilter, EventQuery, PageLimit, cursor_before};
pub use repository::{AuditRepository, SCAN_BATCH, export_org_jsonl, verify_org};
pub use text::{PermissionName, RequestId, SettingName, UserAgent};
