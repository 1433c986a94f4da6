//! Bounded, printable text carried by events. Lengths are capped because an
//! audit log is append-only: whatever an app writes stays forever, so one
//! request must not be able to store megabytes.

use crate::error::{Error, Result, TextField, TextRule};

macro_rules! bounded_text {
    ($(#[$meta:meta])* $name:ident, $field:expr, $max:expr) => {
        bounded_text!($(#[$meta])* $name, $field, $max, |_: char| true);
    };
    ($(#[$meta:meta])* $name:ident, $field:expr, $max:expr, $allowed:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The largest accepted length in bytes.
            pub const MAX_LEN: usize = $max;

            /// Validates `text`: non-empty, at most [`Self::MAX_LEN`] bytes,
            /// no control characters.
            pub fn new(text: impl Into<String>) -> Result<Self> {
                let text = text.into();
                check_text(&text, $field, $max, $allowed)?;
                Ok(Self(text))
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(text: String) -> Result<Self> {
                Self::new(text)
            }
        }

        impl From<$name> for String {
            fn from(text: $name) -> Self {
                text.0
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

fn check_text(
    text: &str,
    field: TextField,
    max: usize,
    allowed: impl Fn(char) -> bool,
) -> Result<()> {
    let rule = if text.is_empty() {
        TextRule::Empty
    } else if text.len() > max {
        TextRule::TooLong { max }
    } else if text.chars().any(char::is_control) {
        TextRule::ControlCharacter
    } else if !text.chars().all(allowed) {
        TextRule::InvalidCharacter
    } else {
        return Ok(());
    };
    Err(Error::InvalidText { field, rule })
}

bounded_text!(
    /// The `User-Agent` the app saw on the request (at most 512 bytes).
    UserAgent,
    TextField::UserAgent,
    512
);
bounded_text!(
    /// The app's correlation id of the request (at most 128 bytes).
    RequestId,
    TextField::RequestId,
    128
);
/// The alphabet of identifiers (`users.invite`, `two_factor_required`):
/// no `@` or space, so an email, a person's name or a passphrase cannot be
/// smuggled into the chain, which holds ids only and is never rewritten
/// (issue 5, SECURITY.md 30, 31).
fn identifier_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':')
}

bounded_text!(
    /// A permission name such as `users.invite` (at most 128 bytes of
    /// ASCII letters, digits and `. _ - :`).
    PermissionName,
    TextField::Permission,
    128,
    identifier_char
);
bounded_text!(
    /// The name of an organization setting such as `two_factor_required`
    /// (at most 64 bytes of ASCII letters, digits and `. _ - :`).
    SettingName,
    TextField::Setting,
    64,
    identifier_char
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_bounded_and_printable() {
        assert_eq!(UserAgent::new("curl/8.0").unwrap().as_str(), "curl/8.0");
        assert_eq!(
            RequestId::new(""),
            Err(Error::InvalidText {
                field: TextField::RequestId,
                rule: TextRule::Empty
            })
        );
        assert_eq!(
            RequestId::new("x".repeat(129)),
            Err(Error::InvalidText {
                field: TextField::RequestId,
                rule: TextRule::TooLong { max: 128 }
            })
        );
        assert!(RequestId::new("x".repeat(128)).is_ok());
        assert_eq!(
            UserAgent::new("evil\n{\"forged\":1}"),
            Err(Error::InvalidText {
                field: TextField::UserAgent,
                rule: TextRule::ControlCharacter
            })
        );
    }

    #[test]
    fn identifiers_cannot_carry_emails_names_or_secrets() {
        for bad in ["alice@example.com", "Ada Lovelace", "pw=hunter2!"] {
            assert_eq!(
                PermissionName::new(bad),
                Err(Error::InvalidText {
                    field: TextField::Permission,
                    rule: TextRule::InvalidCharacter
                }),
                "{bad}"
            );
            assert_eq!(
                SettingName::new(bad),
                Err(Error::InvalidText {
                    field: TextField::Setting,
                    rule: TextRule::InvalidCharacter
                }),
                "{bad}"
            );
        }
        assert!(PermissionName::new("workflows.run").is_ok());
        assert!(PermissionName::new("app:billing.read-all").is_ok());
        assert!(SettingName::new("two_factor_required").is_ok());
        let smuggled: std::result::Result<PermissionName, _> =
            serde_json::from_str("\"bob@example.com\"");
        assert!(smuggled.is_err());
        // Free-text context fields keep accepting what clients send.
        assert!(UserAgent::new("Mozilla/5.0 (X11; Linux x86_64)").is_ok());
    }

    #[test]
    fn deserializing_checks_the_same_rules() {
        let bad: std::result::Result<PermissionName, _> = serde_json::from_str("\"a\\u0000b\"");
        assert!(bad.is_err());
        let good: PermissionName = serde_json::from_str("\"users.invite\"").unwrap();
        assert_eq!(good.as_str(), "users.invite");
    }
}
