//! Free-text names: of people, and of organizations, workspaces, groups,
//! teams and departments.

use serde::Serialize;

use crate::validation::{InvalidInput, clean_text, parse_handle, parsed_string_impls};

/// A first or last name: 1–100 code points after trimming, no control
/// characters. Any script is welcome; there are no other rules (names are
/// not ASCII and do not follow patterns).
///
/// ```
/// use iamkit_identity::PersonName;
/// assert_eq!(PersonName::parse("  José ").unwrap().as_str(), "José");
/// let err = PersonName::parse("").unwrap_err().for_field("last_name");
/// assert_eq!(err.to_string(), "`last_name` must not be empty");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct PersonName(String);

impl PersonName {
    /// Longest name allowed, in code points.
    pub const MAX_LEN: usize = 100;

    /// Parses a name; the error names `name` (rename it with
    /// [`InvalidInput::for_field`]).
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        clean_text("name", raw, Self::MAX_LEN).map(Self)
    }

    /// The trimmed name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

parsed_string_impls!(PersonName, display);

/// The name of an organization, workspace, group, team or department:
/// 1–100 code points after trimming, no control characters.
///
/// Names are unique case-insensitively within their scope; [`Name::key`]
/// is the folded form that uniqueness compares.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Name(String);

impl Name {
    /// Longest name allowed, in code points.
    pub const MAX_LEN: usize = 100;

    /// Parses a name; the error names `name`.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        clean_text("name", raw, Self::MAX_LEN).map(Self)
    }

    /// The trimmed name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form compared for uniqueness.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

parsed_string_impls!(Name, display);

/// An organization's URL-safe handle, unique across all organizations:
/// 3–63 characters of `a-z 0-9 -`, no leading or trailing hyphen
/// (a DNS label, so it can become a subdomain).
///
/// ```
/// use iamkit_identity::Slug;
/// assert_eq!(Slug::parse("Acme-Corp").unwrap().as_str(), "acme-corp");
/// assert!(Slug::parse("-acme").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    /// Shortest slug allowed.
    pub const MIN_LEN: usize = 3;
    /// Longest slug allowed (a DNS label).
    pub const MAX_LEN: usize = 63;

    /// Parses and lower-cases a slug; the error names `slug`.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        parse_handle("slug", raw, &['-'], Self::MIN_LEN, Self::MAX_LEN).map(Self)
    }

    /// The slug, lower-case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

parsed_string_impls!(Slug, display);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::Rule;

    #[test]
    fn person_name_rules() {
        let rule = |s: &str| PersonName::parse(s).unwrap_err().rule;
        assert_eq!(rule(" \t "), Rule::Required);
        assert_eq!(rule(&"é".repeat(101)), Rule::TooLong { max: 100 });
        assert_eq!(rule("Ann\u{0}e"), Rule::ControlCharacter);
        assert_eq!(rule("Ann\u{85}e"), Rule::ControlCharacter);
        // A right-to-left override renders "Ann\u{202e}nimda" as "Annadmin".
        assert_eq!(rule("Ann\u{202e}nimda"), Rule::ControlCharacter);
        assert_eq!(rule("Ann\u{2066}e"), Rule::ControlCharacter);
        assert!(
            PersonName::parse("\u{5e9}\u{5dc}\u{5d5}\u{5dd}").is_ok(),
            "right-to-left scripts are fine"
        );
        // 100 code points of a 2-byte character are fine: length is in code points.
        assert!(PersonName::parse(&"é".repeat(100)).is_ok());
        assert!(PersonName::parse("李 小龍").is_ok());
    }

    #[test]
    fn resource_names_compare_case_insensitively_by_key() {
        let a = Name::parse("Platform Team").unwrap();
        let b = Name::parse("platform team").unwrap();
        assert_ne!(a, b, "display keeps its case");
        assert_eq!(a.key(), b.key());
    }

    #[test]
    fn slug_rules() {
        let rule = |s: &str| Slug::parse(s).unwrap_err().rule;
        assert_eq!(rule("ab"), Rule::TooShort { min: 3 });
        assert_eq!(rule("a_b_c"), Rule::InvalidCharacter);
        assert_eq!(rule("abc-"), Rule::MustStartAndEndAlphanumeric);
        assert_eq!(rule(&"a".repeat(64)), Rule::TooLong { max: 63 });
        assert_eq!(Slug::parse("ab").unwrap_err().field, "slug");
    }
}
