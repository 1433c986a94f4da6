#![doc = include_str!("../README.md")]

mod clock;
mod store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use store::{Store, Transaction};

/// The audit domain: events, the hash chain, queries, export.
pub use iamkit_audit as audit;
/// The credentials domain: passwords, tokens, TOTP, sessions, API keys, throttling.
pub use iamkit_credentials as credentials;
/// The identity domain: users, organizations, workspaces, groups, teams.
pub use iamkit_identity as identity;
/// Authorization: permissions, roles, grants, the check index.
pub use iamkit_rbac as rbac;
/// The storage port: `StoreError`, pagination.
pub use iamkit_store_api as store_api;
