#![doc = include_str!("../README.md")]

mod access_model;
mod access_requests;
mod actor;
mod api_keys;
mod attempts;
mod audit_trail;
mod authentication;
mod authorization;
mod auto_join;
mod bootstrap;
mod cache;
mod change_log;
mod clock;
mod config;
mod custom_roles;
mod deactivation;
mod deletion;
mod departments;
mod directory;
mod email_verification;
mod error;
mod groups;
mod hashing;
mod iam;
mod import;
mod invitations;
mod organizations;
mod outbox;
mod password_reset;
mod passwords;
mod profiles;
mod roles;
mod sealing;
mod self_service;
mod service_accounts;
mod sessions;
mod setup_link;
mod store;
mod trace;
mod two_factor;
mod workspaces;

pub use access_model::{AccessModel, AccessModelRepository};
pub use access_requests::{AccessRequest, AccessRequestRepository, RequestStatus, RequestedChange};
pub use actor::Actor;
pub use api_keys::CreatedApiKey;
pub use audit_trail::AuditVerification;
pub use authentication::{ApiKeyContext, AuthenticationRepository, SessionContext};
pub use authorization::{AuthzDelta, AuthzVersionRepository};
pub use bootstrap::{Bootstrapped, FirstOwner, NewAccount};
pub use change_log::IndexStats;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Config, HashingConfig};
pub use custom_roles::RoleSpec;
pub use deletion::{LinkedData, LinkedRecord};
pub use departments::DEPARTMENT_MEMBERS_SHOWN;
pub use directory::{ActivityLine, RECENT_ACTIVITY, UserDetail};
pub use email_verification::PendingEmailRepository;
pub use error::{Conflict, Error, Result};
pub use iam::{Iam, IamBuilder};
pub use import::{
    ImportRecord, ImportReport, ImportRule, ImportedRecord, MAX_IMPORT_BATCH, RejectedRecord,
};
pub use invitations::{Invited, Placement};
pub use outbox::{
    MessageId, MessageKind, Notification, OutboxRecord, OutboxRepository, default_text,
};
pub use password_reset::MAX_PENDING_RESETS;
pub use passwords::PasswordRepository;
pub use profiles::ProfileUpdate;
pub use sealing::{ResealProgress, SealedValue};
pub use self_service::SessionSummary;
pub use service_accounts::{
    SERVICE_ACCOUNT_DOMAIN, SERVICE_ACCOUNT_PREFIX, ServiceAccount, ServiceAccountRepository,
};
pub use sessions::{STAMP_LIFETIME, SignedIn, TOUCH_GRANULARITY};
pub use setup_link::BootstrappedWithLink;
pub use store::{Store, Transaction};
pub use two_factor::SignInCompleted;

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
