//! Usernames: the globally unique login handle.

use serde::Serialize;

use crate::validation::{InvalidInput, parse_handle, parsed_string_impls};

/// A validated username: 3–64 characters of `a-z 0-9 . _ -`, starting and
/// ending with a letter or digit, unique across all organizations.
///
/// Usernames are case-insensitive: parsing lower-cases ASCII letters, so
/// `Alice` and `alice` are the same username.
///
/// ```
/// use iamkit_identity::Username;
/// assert_eq!(Username::parse(" Alice.Smith ").unwrap().as_str(), "alice.smith");
/// assert!(Username::parse("al").is_err());
/// assert!(Username::parse("_alice").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    /// Shortest username allowed.
    pub const MIN_LEN: usize = 3;
    /// Longest username allowed.
    pub const MAX_LEN: usize = 64;

    /// Parses and lower-cases a username; the error names `username`.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        parse_handle(
            "username",
            raw,
            &['.', '_', '-'],
            Self::MIN_LEN,
            Self::MAX_LEN,
        )
        .map(Self)
    }

    /// The username, lower-case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

parsed_string_impls!(Username, display);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::Rule;

    #[test]
    fn rules_are_named() {
        let rule = |s: &str| Username::parse(s).unwrap_err().rule;
        assert_eq!(rule(""), Rule::Required);
        assert_eq!(rule("ab"), Rule::TooShort { min: 3 });
        assert_eq!(rule(&"a".repeat(65)), Rule::TooLong { max: 64 });
        assert_eq!(rule("al ice"), Rule::InvalidCharacter);
        assert_eq!(rule("älice"), Rule::InvalidCharacter);
        assert_eq!(rule("alice-"), Rule::MustStartAndEndAlphanumeric);
        assert_eq!(rule(".alice"), Rule::MustStartAndEndAlphanumeric);
        assert_eq!(Username::parse("ab").unwrap_err().field, "username");
        assert!(Username::parse(&"a".repeat(64)).is_ok());
        assert!(Username::parse("a_b.c-d9").is_ok());
    }
}
