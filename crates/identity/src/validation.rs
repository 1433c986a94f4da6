//! Typed validation errors: every rejection names the field and the rule.

use std::fmt;

/// The rule an input broke. Carries data, never the rejected input itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// Empty (after trimming surrounding white space).
    Required,
    /// Fewer than `min` characters (Unicode code points).
    TooShort {
        /// The minimum length.
        min: usize,
    },
    /// More than `max` characters (or bytes, where the field says so).
    TooLong {
        /// The maximum length.
        max: usize,
    },
    /// Contains a control character (C0, C1 or DEL) or, in free-text names,
    /// a bidirectional formatting character.
    ControlCharacter,
    /// Contains a character outside the field's alphabet.
    InvalidCharacter,
    /// Must start and end with a letter or a digit.
    MustStartAndEndAlphanumeric,
    /// An email address needs exactly one `@` between local part and domain.
    MissingAtSign,
    /// The local part (before `@`) breaks RFC 5321 limits or dot rules.
    InvalidLocalPart,
    /// The domain is not a valid DNS name with at least two labels.
    InvalidDomain,
    /// Not a parseable absolute URL.
    InvalidUrl,
    /// The URL's scheme is not `https`.
    NotHttps,
    /// Not one of the supported values (listed in the field's docs).
    Unsupported,
    /// The referenced item does not belong to the organization.
    NotInOrganization,
    /// An opaque value (a cursor) that this library did not produce.
    Malformed,
    /// Reserved for accounts iamkit names itself (service accounts).
    Reserved,
    /// Outside the allowed numeric range.
    OutOfRange {
        /// Smallest allowed value.
        min: usize,
        /// Largest allowed value.
        max: usize,
    },
    /// The end of a range lies before its start (named by the field).
    BeforeStart {
        /// The field holding the start.
        start: &'static str,
    },
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Required => f.write_str("must not be empty"),
            Self::TooShort { min } => write!(f, "must be at least {min} characters long"),
            Self::TooLong { max } => write!(f, "must be at most {max} characters long"),
            Self::ControlCharacter => f.write_str("must not contain control characters"),
            Self::InvalidCharacter => f.write_str("contains a character that is not allowed"),
            Self::MustStartAndEndAlphanumeric => {
                f.write_str("must start and end with a letter or a digit")
            }
            Self::MissingAtSign => f.write_str("must contain one `@` between name and domain"),
            Self::InvalidLocalPart => f.write_str("has an invalid part before `@`"),
            Self::InvalidDomain => f.write_str("has an invalid domain"),
            Self::InvalidUrl => f.write_str("must be an absolute URL"),
            Self::NotHttps => f.write_str("must use https"),
            Self::Unsupported => f.write_str("is not a supported value"),
            Self::NotInOrganization => f.write_str("does not belong to this organization"),
            Self::Malformed => f.write_str("is malformed"),
            Self::Reserved => f.write_str("is reserved"),
            Self::OutOfRange { min, max } => write!(f, "must be between {min} and {max}"),
            Self::BeforeStart { start } => write!(f, "must not lie before `{start}`"),
        }
    }
}

/// A rejected input: which field, which rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[error("`{field}` {rule}")]
pub struct InvalidInput {
    /// The field, as the caller's form or API names it (`email`, `first_name`).
    pub field: &'static str,
    /// The rule it broke.
    pub rule: Rule,
}

impl InvalidInput {
    /// A rejection of `field` for `rule`.
    pub const fn new(field: &'static str, rule: Rule) -> Self {
        Self { field, rule }
    }

    /// The same rejection reported under another field name (a `PersonName`
    /// parsed for `last_name`, say).
    #[must_use]
    pub const fn for_field(self, field: &'static str) -> Self {
        Self { field, ..self }
    }
}

/// Implements `Deserialize` through `$ty::parse` (so deserialized values are
/// valid by construction) and, with `display`, `Display` through `as_str`.
macro_rules! parsed_string_impls {
    ($ty:ident) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = <String as serde::Deserialize>::deserialize(d)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
    ($ty:ident, display) => {
        parsed_string_impls!($ty);
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use parsed_string_impls;

/// Checks a handle (username, slug): ASCII letters, digits and the
/// `extra` punctuation only, `min..=max` characters, starting and ending
/// with a letter or digit. Returns it lower-cased.
pub(crate) fn parse_handle(
    field: &'static str,
    raw: &str,
    extra: &[char],
    min: usize,
    max: usize,
) -> Result<String, InvalidInput> {
    let err = |rule| InvalidInput::new(field, rule);
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(err(Rule::Required));
    }
    if !trimmed
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
    {
        return Err(err(Rule::InvalidCharacter));
    }
    // All ASCII from here, so byte length is the character count.
    if trimmed.len() < min {
        return Err(err(Rule::TooShort { min }));
    }
    if trimmed.len() > max {
        return Err(err(Rule::TooLong { max }));
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !edge_ok(trimmed.chars().next()) || !edge_ok(trimmed.chars().last()) {
        return Err(err(Rule::MustStartAndEndAlphanumeric));
    }
    Ok(trimmed.to_ascii_lowercase())
}

/// Trims `raw` and checks the rules every free-text name shares: not empty,
/// at most `max` code points, no control characters.
pub(crate) fn clean_text(
    field: &'static str,
    raw: &str,
    max: usize,
) -> Result<String, InvalidInput> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(InvalidInput::new(field, Rule::Required));
    }
    if trimmed.chars().count() > max {
        return Err(InvalidInput::new(field, Rule::TooLong { max }));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() || is_bidi_control(c))
    {
        return Err(InvalidInput::new(field, Rule::ControlCharacter));
    }
    Ok(trimmed.to_owned())
}

/// Bidirectional embeddings, overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069): invisible, they reorder the text around them, so a name
/// could render as another user's in admin consoles and audit views
/// (CVE-2021-42574, "Trojan Source"). Marks (U+200E/F) are harmless.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}
