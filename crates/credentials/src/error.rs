use chrono::{DateTime, Utc};

use crate::passwords::PasswordRule;

/// Everything that can go wrong in the credentials domain.
///
/// Variants carry the field and the rule as data and never a secret.
/// Failed secret checks all collapse into [`Error::InvalidCredentials`] so a
/// caller cannot learn *why* a secret was refused (SECURITY.md 29).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A new password breaks a rule of the [`PasswordPolicy`](crate::PasswordPolicy).
    #[error("password rejected: {rule}")]
    InvalidPassword {
        /// The rule that failed.
        rule: PasswordRule,
    },
    /// A field of some input or configuration breaks a rule.
    #[error("invalid `{field}`: {rule}")]
    InvalidField {
        /// The field's name.
        field: &'static str,
        /// The rule it breaks.
        rule: FieldRule,
    },
    /// A presented secret (token, code, key, password) was not accepted.
    /// Deliberately says nothing more.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The account is throttled after too many failures.
    #[error("account locked until {until}")]
    Locked {
        /// When the lock ends.
        until: DateTime<Utc>,
    },
    /// A stored password hash is not a PHC string this crate can read.
    #[error("stored password hash is malformed")]
    MalformedPasswordHash,
    /// Sealing or opening a secret failed (no key of the ring sealed it,
    /// wrong context, tampered data).
    #[error("sealed secret could not be sealed or opened")]
    Sealing,
    /// A sealing key ring got two keys with one id.
    #[error("sealing key id {id} given twice")]
    DuplicateSealingKey {
        /// The id given twice.
        id: crate::SealingKeyId,
    },
    /// The hashing backend failed (e.g. out of memory for the configured cost).
    #[error("password hashing failed")]
    Hashing,
    /// The otpauth URI does not fit in a QR code.
    #[error("otpauth URI too long for a QR code")]
    QrTooLong,
}

/// The rule a field broke, for [`Error::InvalidField`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldRule {
    /// Must not be empty.
    #[error("must not be empty")]
    Empty,
    /// Too long; the maximum is given in code points (or units of the field).
    #[error("longer than {max}")]
    TooLong {
        /// The maximum allowed.
        max: u64,
    },
    /// Below the allowed minimum.
    #[error("below the minimum {min}")]
    TooSmall {
        /// The minimum allowed.
        min: u64,
    },
    /// Above the allowed maximum.
    #[error("above the maximum {max}")]
    TooLarge {
        /// The maximum allowed.
        max: u64,
    },
    /// Contains a control character.
    #[error("contains a control character")]
    ControlCharacter,
    /// Contains a character the field forbids (e.g. `:` in an otpauth label).
    #[error("contains a forbidden character")]
    ForbiddenCharacter,
    /// A point in time that must lie in the future does not.
    #[error("must lie in the future")]
    NotInFuture,
    /// Not a format this crate reads (e.g. an imported password hash of an
    /// unsupported algorithm).
    #[error("not a supported format")]
    UnknownFormat,
    /// A supported format, but not well formed.
    #[error("malformed")]
    Malformed,
    /// Must not exceed another setting (e.g. idle timeout vs absolute timeout).
    #[error("must not exceed `{other}`")]
    ExceedsOther {
        /// The other setting's name.
        other: &'static str,
    },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
