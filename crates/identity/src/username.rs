//! Usernames: the globally unique login handle.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::validation::{InvalidInput, Rule};

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
        let err = |rule| InvalidInput::new("username", rule);
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(err(Rule::Required));
        }
        if !trimmed
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(err(Rule::InvalidCharacter));
        }
        // All ASCII from here, so byte length is the character count.
        if trimmed.len() < Self::MIN_LEN {
            return Err(err(Rule::TooShort { min: Self::MIN_LEN }));
        }
        if trimmed.len() > Self::MAX_LEN {
            return Err(err(Rule::TooLong { max: Self::MAX_LEN }));
        }
        let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        if !edge_ok(trimmed.chars().next()) || !edge_ok(trimmed.chars().last()) {
            return Err(err(Rule::MustStartAndEndAlphanumeric));
        }
        Ok(Self(trimmed.to_ascii_lowercase()))
    }

    /// The username, lower-case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Username {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
