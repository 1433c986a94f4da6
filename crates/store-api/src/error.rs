use std::error::Error as StdError;
use std::fmt;

/// What went wrong in a store, in terms every backend can express.
///
/// The facade decides from the kind alone (a [`ErrorKind::UniqueViolation`]
/// becomes "username taken", [`ErrorKind::Unavailable`] may be retried), so
/// adapters MUST map their backend errors to the kind that fits, never to a
/// catch-all.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The record the operation targets does not exist.
    NotFound,
    /// A uniqueness rule was violated; `constraint` names it
    /// (`users_username`, `users_email`, `organizations_slug`, ...).
    UniqueViolation {
        /// The name of the violated constraint, identical across adapters.
        constraint: String,
    },
    /// The operation conflicts with concurrent work or with the current state
    /// (a serialization failure, a broken foreign key, a stale version).
    Conflict,
    /// The backend could not be reached or gave up (pool exhausted, timeout,
    /// connection lost). Retrying later may succeed.
    Unavailable,
    /// Stored data does not decode (a row edited by hand, a damaged file):
    /// retrying cannot help, and a web layer answers 500. Distinct from
    /// [`Conflict`](Self::Conflict), which callers may retry.
    Corrupt,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => f.write_str("not found"),
            Self::UniqueViolation { constraint } => {
                write!(f, "unique constraint `{constraint}` violated")
            }
            Self::Conflict => f.write_str("conflict with concurrent or current state"),
            Self::Unavailable => f.write_str("store unavailable"),
            Self::Corrupt => f.write_str("stored data does not decode"),
        }
    }
}

/// The one error type every repository trait returns.
///
/// It carries a portable [`ErrorKind`] and, where the backend produced one,
/// the backend's own error as its [`source`](StdError::source).
#[derive(Debug)]
pub struct StoreError {
    kind: ErrorKind,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl StoreError {
    /// An error of the given kind with no backend source.
    pub fn new(kind: ErrorKind) -> Self {
        Self { kind, source: None }
    }

    /// An error of the given kind caused by a backend error.
    pub fn with_source(kind: ErrorKind, source: impl StdError + Send + Sync + 'static) -> Self {
        Self {
            kind,
            source: Some(Box::new(source)),
        }
    }

    /// [`ErrorKind::NotFound`].
    pub fn not_found() -> Self {
        Self::new(ErrorKind::NotFound)
    }

    /// [`ErrorKind::UniqueViolation`] on the named constraint.
    pub fn unique_violation(constraint: impl Into<String>) -> Self {
        Self::new(ErrorKind::UniqueViolation {
            constraint: constraint.into(),
        })
    }

    /// [`ErrorKind::Conflict`].
    pub fn conflict() -> Self {
        Self::new(ErrorKind::Conflict)
    }

    /// [`ErrorKind::Unavailable`].
    pub fn unavailable() -> Self {
        Self::new(ErrorKind::Unavailable)
    }

    /// [`ErrorKind::Corrupt`], caused by the decoding error `source`.
    pub fn corrupt(source: impl StdError + Send + Sync + 'static) -> Self {
        Self::with_source(ErrorKind::Corrupt, source)
    }

    /// The portable kind of this error.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The violated constraint, when this is a unique violation.
    pub fn violated_constraint(&self) -> Option<&str> {
        match &self.kind {
            ErrorKind::UniqueViolation { constraint } => Some(constraint),
            _ => None,
        }
    }

    /// Whether this is [`ErrorKind::NotFound`].
    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store error: {}", self.kind)
    }
}

impl StdError for StoreError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_is_kept_and_kind_is_portable() {
        let backend = std::io::Error::other("socket closed");
        let err = StoreError::with_source(ErrorKind::Unavailable, backend);
        assert_eq!(err.kind(), &ErrorKind::Unavailable);
        assert_eq!(
            err.source().map(ToString::to_string).as_deref(),
            Some("socket closed")
        );
        assert_eq!(err.to_string(), "store error: store unavailable");
    }

    #[test]
    fn constraint_is_named() {
        let err = StoreError::unique_violation("users_email");
        assert_eq!(err.violated_constraint(), Some("users_email"));
        assert!(!err.is_not_found());
        assert!(StoreError::not_found().is_not_found());
        assert_eq!(StoreError::conflict().violated_constraint(), None);
    }
}
