use crate::user::{StatusChange, UserStatus};
use crate::validation::InvalidInput;

/// Errors of the identity domain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// An input broke a validation rule.
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// The status table has no such transition.
    #[error("cannot {change} a user who is {from}")]
    IllegalTransition {
        /// The current status.
        from: UserStatus,
        /// The change that was attempted.
        change: StatusChange,
    },
}

/// Result of identity operations.
pub type Result<T, E = IdentityError> = std::result::Result<T, E>;
