use iamkit_identity::OrgId;

/// Which bounded text field of an event was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TextField {
    /// [`Context::user_agent`](crate::Context::user_agent).
    UserAgent,
    /// [`Context::request_id`](crate::Context::request_id).
    RequestId,
    /// A permission name in an action or a denial reason.
    Permission,
    /// A setting name in [`Action::SettingsChanged`](crate::Action::SettingsChanged).
    Setting,
}

/// The rule a bounded text field broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TextRule {
    /// The text is empty.
    Empty,
    /// The text is longer than `max` bytes.
    TooLong {
        /// The largest accepted length in bytes.
        max: usize,
    },
    /// The text holds a control character (it would forge lines in logs
    /// and JSON Lines exports read by naive tools).
    ControlCharacter,
    /// An identifier (permission or setting name) holds a character
    /// outside ASCII letters, digits and `. _ - :`.
    InvalidCharacter,
}

/// Everything that can go wrong in the audit domain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A bounded text field was rejected.
    #[error("invalid {field:?}: {rule:?}")]
    InvalidText {
        /// The field.
        field: TextField,
        /// The rule it broke.
        rule: TextRule,
    },
    /// A page size outside `1..=max`.
    #[error("page limit must be between 1 and {max}")]
    InvalidPageLimit {
        /// The largest accepted page size.
        max: usize,
    },
    /// A cursor that this crate did not produce.
    #[error("malformed audit cursor")]
    InvalidCursor,
    /// An event was sealed against the head of another organization's chain.
    #[error("event of organization {event} sealed against the chain of {head}")]
    OrganizationMismatch {
        /// The organization of the event.
        event: OrgId,
        /// The organization of the chain head.
        head: OrgId,
    },
    /// The organization's sequence numbers are used up (2^64 - 1 events).
    #[error("audit sequence exhausted")]
    SequenceExhausted,
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
