//! Settings of an [`Iam`](crate::Iam), reusing the credentials crate's
//! validated configuration types.

pub use crate::hashing::HashingConfig;
use iamkit_credentials::{
    Argon2Params, PasswordPolicy, SessionConfig, ThrottleConfig, TokenConfig, TotpConfig,
};

/// Everything tunable. `Default` follows SECURITY.md: OWASP argon2id
/// parameters, NIST password lengths, 48 h invitations, 24 h admin resets,
/// 10 failures before a lockout.
#[derive(Debug, Clone)]
pub struct Config {
    /// Lifetimes of invitation, reset and verification links.
    pub tokens: TokenConfig,
    /// Rules for new passwords.
    pub password_policy: PasswordPolicy,
    /// argon2id cost. Tests may lower it; production keeps the default.
    pub argon2: Argon2Params,
    /// Idle and absolute session timeouts.
    pub sessions: SessionConfig,
    /// Failed-attempt limit and lockout.
    pub throttle: ThrottleConfig,
    /// TOTP issuer (shown in authenticator apps), algorithm, digits and
    /// step. Default: issuer "iamkit", SHA1, 6 digits, 30 s — what every
    /// authenticator app supports (RFC 6238).
    pub totp: TotpConfig,
    /// The threads that run argon2 and how many hashes may wait for them
    /// (see [`HashingConfig`]).
    pub hashing: HashingConfig,
    /// How recent a proof of a factor must be for a sensitive change of
    /// one's own account (email, recovery codes): older sessions answer
    /// [`Error::ReauthenticationRequired`](crate::Error::ReauthenticationRequired)
    /// until [`Iam::reauthenticate`](crate::Iam::reauthenticate). Default
    /// 10 minutes (SECURITY.md 39).
    pub reauth_window: chrono::Duration,
    /// How many of each organization's latest authorization versions keep
    /// their change-log entry (see
    /// [`AuthzDelta`](crate::AuthzDelta)). A process whose cached index of
    /// the organization is older than that rebuilds it from the store
    /// instead of applying the changes since. Older entries are deleted as
    /// the organization changes (every 64th version, or more often when
    /// this is smaller), not by a background task. Default 1,000; 0 keeps
    /// none, so every change makes every process rebuild.
    pub authz_log_retention: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            tokens: TokenConfig::default(),
            password_policy: PasswordPolicy::default(),
            argon2: Argon2Params::default(),
            sessions: SessionConfig::default(),
            throttle: ThrottleConfig::default(),
            totp: TotpConfig::new("iamkit"),
            hashing: HashingConfig::default(),
            reauth_window: chrono::Duration::minutes(10),
            authz_log_retention: 1_000,
        }
    }
}
