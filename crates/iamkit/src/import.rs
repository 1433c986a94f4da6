//! Migrating users in (issue 21, item 4): accounts from Auth0, Keycloak,
//! Firebase or an app's own tables, with their password hashes, so their
//! users keep signing in with the passwords they have.

use std::fmt;

use iamkit_audit::{Action, ImportedHash, Target};
use iamkit_credentials::{FieldRule, ImportedAlgorithm, PasswordHash, TokenKind};
use iamkit_identity::{OrgId, RoleId, Rule, User, UserId, UserStatus};
use iamkit_rbac::{Grant, Grantee, Scope};

use crate::actor::Actor;
use crate::bootstrap::NewAccount;
use crate::cache::Work;
use crate::error::{Conflict, Error, Result};
use crate::iam::{Authorized, Flow, Iam, os_rng};
use crate::invitations::{Placement, assign_new, insert_managed_active, require};
use crate::outbox::MessageKind;
use crate::store::Store;
use crate::store::repositories::*;

const IMPORT: &str = "users.import";

/// The most records one [`Iam::import_users`] call takes; import more in
/// several calls (each record is its own transaction, and a rerun skips
/// what is in already).
pub const MAX_IMPORT_BATCH: usize = 1000;

/// One account to import, as the other system exports it.
#[derive(Clone, Default)]
pub struct ImportRecord {
    /// Address; what makes the import idempotent.
    pub email: String,
    /// Login handle.
    pub username: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// `en`, `es` or `pt`; `None` means `en`.
    pub language: Option<String>,
    /// Whether the other system had verified the address. Recorded in the
    /// audit event; see the crate README ("Migrating users in") for why
    /// it does not mark the address verified here.
    pub email_verified: bool,
    /// The organization role to give (escalation guard as for `invite`).
    pub org_role: Option<RoleId>,
    /// The password hash as the other system stored it: argon2id or
    /// argon2i PHC, bcrypt, passlib scrypt or PBKDF2-SHA256 (see
    /// [`PasswordHash::import`]). `None`: the account is invited instead.
    pub password_hash: Option<String>,
}

impl fmt::Debug for ImportRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The hash is offline-guessable: never printed (SECURITY.md 30).
        f.debug_struct("ImportRecord")
            .field("email", &self.email)
            .field("username", &self.username)
            .field("email_verified", &self.email_verified)
            .field("org_role", &self.org_role)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "[REDACTED]"),
            )
            .finish_non_exhaustive()
    }
}

/// Why a record was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImportRule {
    /// A profile field broke a validation rule.
    Input(Rule),
    /// The password hash is of an unknown format, malformed, or too costly
    /// ([`FieldRule::UnknownFormat`], [`FieldRule::Malformed`],
    /// [`FieldRule::TooLarge`]).
    PasswordHash(FieldRule),
    /// Another account has the username.
    Taken,
    /// The actor may not grant the role (SECURITY.md 26).
    Escalation,
    /// The role cannot be given here (unknown, a workspace role, another
    /// organization's).
    RoleNotAssignable,
}

/// A record that changed nothing, with the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRecord {
    /// Its position in the batch.
    pub index: usize,
    /// The field (`email`, `username`, `first_name`, `last_name`,
    /// `language`, `password_hash`, `org_role`).
    pub field: &'static str,
    /// The rule.
    pub rule: ImportRule,
}

/// A record that made a member of the organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportedRecord {
    /// Its position in the batch.
    pub index: usize,
    /// The member.
    pub user: UserId,
}

/// What [`Iam::import_users`] did, record by record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportReport {
    /// Records that made a member: an ACTIVE account with its hash, or an
    /// INVITED one (no hash, or an address that has an account already:
    /// invited, never attached; SECURITY.md 33, 34).
    pub imported: Vec<ImportedRecord>,
    /// Records whose address is a member of the organization already:
    /// nothing changed, nothing audited (the import is idempotent).
    pub skipped: Vec<ImportedRecord>,
    /// Records refused, with the field and the rule: nothing changed.
    pub rejected: Vec<RejectedRecord>,
}

/// A record that passed validation.
struct Parsed {
    user: iamkit_identity::NewUser,
    hash: Option<(PasswordHash, ImportedAlgorithm)>,
}

fn parse(record: &ImportRecord) -> std::result::Result<Parsed, (&'static str, ImportRule)> {
    let account = NewAccount {
        username: record.username.clone(),
        email: record.email.clone(),
        first_name: record.first_name.clone(),
        last_name: record.last_name.clone(),
        language: record.language.clone(),
    };
    let status = if record.password_hash.is_some() {
        UserStatus::Active
    } else {
        UserStatus::Invited
    };
    let user = account.parse(status).map_err(|e| match e {
        Error::InvalidInput(i) => (i.field, ImportRule::Input(i.rule)),
        _ => ("email", ImportRule::Input(Rule::Malformed)),
    })?;
    let hash = match &record.password_hash {
        None => None,
        Some(text) => Some(PasswordHash::import(text).map_err(|e| match e {
            iamkit_credentials::Error::InvalidField { field, rule } => {
                (field, ImportRule::PasswordHash(rule))
            }
            _ => (
                "password_hash",
                ImportRule::PasswordHash(FieldRule::Malformed),
            ),
        })?),
    };
    Ok(Parsed { user, hash })
}

fn audited_algorithm(algorithm: ImportedAlgorithm) -> ImportedHash {
    match algorithm {
        ImportedAlgorithm::Argon2id => ImportedHash::Argon2id,
        ImportedAlgorithm::Argon2i => ImportedHash::Argon2i,
        ImportedAlgorithm::Bcrypt => ImportedHash::Bcrypt,
        ImportedAlgorithm::Scrypt => ImportedHash::Scrypt,
        _ => ImportedHash::Pbkdf2Sha256,
    }
}

/// How one record ended.
enum Outcome {
    Imported(UserId),
    Skipped(UserId),
}

impl<S: Store> Iam<S> {
    /// Imports accounts from another system into `org`, record by record,
    /// each in a transaction of its own (a failure midway leaves the
    /// records before it imported; run the batch again: they are skipped).
    ///
    /// - A record is validated first (names, email, username, the hash's
    ///   format and cost); a rejected one changes nothing and is reported
    ///   with the field and the rule.
    /// - An address already a member of `org` is skipped: nothing changes.
    /// - An address with an account elsewhere is invited exactly as by
    ///   [`invite`](Self::invite), never attached or changed (SECURITY.md
    ///   33), and reported alike (SECURITY.md 34); its hash is discarded.
    /// - Otherwise a new account managed by `org`: with a hash, ACTIVE
    ///   with an ACTIVE membership, its role, the hash (verified at the
    ///   first sign-in, then replaced by argon2id) and one
    ///   [`Action::UserImported`] event; the address is unverified and a
    ///   verification link is queued, as for
    ///   [`create_user`](Self::create_user). Without a hash, invited.
    ///
    /// Requires `users.import`, and `roles.assign` when a record carries a
    /// role (the escalation guard rejects a role the actor may not grant).
    pub async fn import_users(
        &self,
        actor: &Actor,
        org: OrgId,
        records: &[ImportRecord],
    ) -> Result<ImportReport> {
        if records.len() > MAX_IMPORT_BATCH {
            return Err(Error::InvalidField {
                field: "records",
                rule: FieldRule::TooLong {
                    max: MAX_IMPORT_BATCH as u64,
                },
            });
        }
        // Authorized before anything is said about any record.
        let with_role = records.iter().any(|r| r.org_role.is_some());
        let tx = self.begin().await?;
        self.authorize_import(tx, actor, org, with_role).await?;
        let mut report = ImportReport::default();
        for (index, record) in records.iter().enumerate() {
            let parsed = match parse(record) {
                Ok(parsed) => parsed,
                Err((field, rule)) => {
                    report.rejected.push(RejectedRecord { index, field, rule });
                    continue;
                }
            };
            let mut tx = self.begin().await?;
            let outcome: Flow<Outcome> = async {
                let mut authz = self
                    .authorize(
                        &mut tx,
                        actor,
                        IMPORT,
                        Scope::Organization(org),
                        Target::Org(org),
                    )
                    .await?;
                self.import_one(&mut tx, actor, &mut authz, org, record, parsed)
                    .await
            }
            .await;
            let rejected = |field, rule| RejectedRecord { index, field, rule };
            match self.finish(tx, actor, outcome).await {
                Ok(Outcome::Imported(user)) => {
                    report.imported.push(ImportedRecord { index, user });
                }
                Ok(Outcome::Skipped(user)) => {
                    report.skipped.push(ImportedRecord { index, user });
                }
                Err(Error::Escalation { .. } | Error::LastOwner) => {
                    report
                        .rejected
                        .push(rejected("org_role", ImportRule::Escalation));
                }
                Err(Error::RoleNotAssignable) => {
                    report
                        .rejected
                        .push(rejected("org_role", ImportRule::RoleNotAssignable));
                }
                Err(Error::Conflict(Conflict::UsernameTaken)) => {
                    report
                        .rejected
                        .push(rejected("username", ImportRule::Taken));
                }
                // A service account's address (or a race with another
                // import of it).
                Err(Error::Conflict(Conflict::EmailTaken)) => {
                    report.rejected.push(rejected("email", ImportRule::Taken));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }

    /// `users.import`, and `roles.assign` when roles are given; a refusal
    /// is audited as every denial is.
    async fn authorize_import(
        &self,
        mut tx: Work<S>,
        actor: &Actor,
        org: OrgId,
        with_role: bool,
    ) -> Result<()> {
        let outcome: Flow<()> = async {
            let authz = self
                .authorize(
                    &mut tx,
                    actor,
                    IMPORT,
                    Scope::Organization(org),
                    Target::Org(org),
                )
                .await?;
            if with_role {
                require(&authz, org, Target::Org(org), "roles.assign")?;
            }
            Ok(())
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// One validated record, in `tx` (see [`Iam::import_users`]).
    async fn import_one(
        &self,
        tx: &mut Work<S>,
        actor: &Actor,
        authz: &mut Authorized,
        org: OrgId,
        record: &ImportRecord,
        parsed: Parsed,
    ) -> Flow<Outcome> {
        let now = self.now();
        let existing = tx.find_user_by_email(&parsed.user.email).await?;
        if let Some(user) = &existing
            && tx.get_membership(org, user.id).await?.is_some()
        {
            return Ok(Outcome::Skipped(user.id));
        }
        let (hash, algorithm) = match (existing, parsed.hash) {
            (None, Some(hash)) => hash,
            // No hash, or an address with an account elsewhere: an
            // invitation, never an attachment (SECURITY.md 33).
            (existing, _) => {
                if let (Some(role), Some(user)) = (record.org_role, &existing) {
                    check_role(authz, org, user.id, role)?;
                }
                let placement = Placement {
                    org_role: record.org_role,
                    ..Placement::default()
                };
                let input = iamkit_identity::NewUser {
                    status: UserStatus::Invited,
                    ..parsed.user
                };
                let id = self
                    .invite_in(tx, actor, authz, org, input, existing, &placement)
                    .await?;
                return Ok(Outcome::Imported(id));
            }
        };
        let mut user = User::new(parsed.user, now, &mut os_rng());
        if let Some(role) = record.org_role {
            check_role(authz, org, user.id, role)?;
        }
        insert_managed_active(tx, org, &mut user, &hash, now).await?;
        if let Some(role) = record.org_role {
            let grant = Grant {
                grantee: Grantee::User(user.id),
                scope: Scope::Organization(org),
                role,
            };
            assign_new(tx, authz, grant).await?;
        }
        let action = Action::UserImported {
            verified: record.email_verified,
            role: record.org_role,
            password: Some(audited_algorithm(algorithm)),
        };
        self.audit(tx, org, actor, action, Target::User(user.id))
            .await?;
        self.send_link(
            tx,
            Some(org),
            &user,
            TokenKind::EmailVerification,
            MessageKind::EmailVerification,
        )
        .await?;
        Ok(Outcome::Imported(user.id))
    }
}

/// The escalation guard for giving `user` `role`, checked before anything
/// is written, as a plain refusal of the record: a refused role is
/// reported, not audited as a denial once per record.
fn check_role(authz: &mut Authorized, org: OrgId, user: UserId, role: RoleId) -> Result<()> {
    authz
        .ensure_can_set(Grantee::User(user), Scope::Organization(org), Some(role))
        .map_err(Error::from_rbac)
}
