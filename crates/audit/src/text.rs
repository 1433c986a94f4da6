//! Bounded, printable text carried by events. Lengths are capped because an
//! audit log is append-only: whatever an app writes stays forever, so one
//! request must not be able to store megabytes.

use crate::error::{Error, Result, TextField, TextRule};

macro_rules! bounded_text {
    ($(#[$meta:meta])* $name:ident, $field:expr, $max:expr) => {
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
                check_text(&text, $field, $max)?;
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

fn check_text(text: &str, field: TextField, max: usize) -> Result<()> {
    let rule = if text.is_empty() {
        TextRule::Empty
    } else if text.len() > max {
        TextRule::TooLong { max }
    } else if text.chars().any(char::is_control) {
        TextRule::ControlCharacter
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
bounded_text!(
    /// A permission name such as `users.invite` (at most 128 bytes).
    PermissionName,
    TextField::Permission,
    128
);
bounded_text!(
    /// The name of an organization setting such as `two_factor_required`
    /// (at most 64 bytes).
    SettingName,
    TextField::Setting,
    64
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
    fn deserializing_checks_the_same_rules() {
        let bad: std::result::Result<PermissionName, _> = serde_json::from_str("\"a\\u0000b\"");
        assert!(bad.is_err());
        let good: PermissionName = serde_json::from_str("\"users.invite\"").unwrap();
        assert_eq!(good.as_str(), "users.invite");
    }
}
