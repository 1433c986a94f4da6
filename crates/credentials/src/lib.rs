#![doc = include_str!("../README.md")]

mod api_keys;
mod error;
mod passwords;
mod presented;
mod recovery;
mod secret;
mod sessions;
mod throttle;
mod tokens;
mod totp;

pub use api_keys::{ApiKey, ApiKeyRepository, MAX_API_KEY_NAME, NewApiKey};
pub use error::{Error, FieldRule, Result};
pub use passwords::{
    Argon2Params, NewPassword, Password, PasswordCheck, PasswordContext, PasswordHash,
    PasswordHasher, PasswordPolicy, PasswordRule,
};
pub use presented::{PRESENTED_LEN, PresentedSecret, SecretKind};
pub use recovery::{
    RECOVERY_CODE_BITS, RECOVERY_CODE_COUNT, RecoveryCode, RecoveryCodeRecord,
    RecoveryCodeRepository, RecoveryCodeSet, generate_recovery_codes,
};
pub use secret::{SecretBytes, SecretDigest, SecretString};
pub use sessions::{ClientMetadata, Session, SessionConfig, SessionRepository, SessionState};
pub use throttle::{MAX_FAILURE_LIMIT, ThrottleConfig, ThrottleRepository, ThrottleState};
pub use tokens::{IssuedToken, TokenConfig, TokenKind, TokenRecord, TokenRepository, issue_token};
pub use totp::{
    SealedSecret, SecretSealer, TotpAlgorithm, TotpConfig, TotpEnrollment, TotpRepository,
    TotpSecret, TotpSetup, XChaChaSealer, totp_code,
};

iamkit_identity::define_id!(
    /// Identifies a single-use token (invite, reset, verification).
    TokenId
);
