//! Settings of an [`Iam`](crate::Iam), reusing the credentials crate's
//! validated configuration types.

use iamkit_credentials::{
    Argon2Params, PasswordPolicy, SessionConfig, ThrottleConfig, TokenConfig,
};

/// Everything tunable. `Default` follows SECURITY.md: OWASP argon2id
/// parameters, NIST password lengths, 48 h invitations, 24 h admin resets,
/// 10 failures before a lockout.
#[derive(Debug, Clone, Default)]
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
}
