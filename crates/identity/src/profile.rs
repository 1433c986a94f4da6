//! A user's profile: names, avatar, language, time zone and theme.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::names::PersonName;
use crate::validation::{InvalidInput, Rule, parsed_string_impls};

/// The languages iamkit's notifications are written in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// English (the default).
    #[default]
    En,
    /// Spanish.
    Es,
    /// Portuguese.
    Pt,
}

impl Language {
    /// Every supported language.
    pub const ALL: [Self; 3] = [Self::En, Self::Es, Self::Pt];

    /// The ISO 639-1 code.
    pub const fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Es => "es",
            Self::Pt => "pt",
        }
    }

    /// Parses an ISO 639-1 code (`en`, `es`, `pt`, any case); the error
    /// names `language`.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "en" => Ok(Self::En),
            "es" => Ok(Self::Es),
            "pt" => Ok(Self::Pt),
            "" => Err(InvalidInput::new("language", Rule::Required)),
            _ => Err(InvalidInput::new("language", Rule::Unsupported)),
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Language {
    type Err = InvalidInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// An IANA time zone name (`Europe/Lisbon`, `America/Sao_Paulo`, `UTC`),
/// checked against the tz database iamkit is built with and kept in its
/// canonical spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct TimeZone(String);

impl TimeZone {
    /// Parses an IANA name (case-insensitively: `europe/lisbon` is
    /// `Europe/Lisbon`); the error names `time_zone`.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(InvalidInput::new("time_zone", Rule::Required));
        }
        trimmed
            .parse::<chrono_tz::Tz>()
            .ok()
            .or_else(|| {
                chrono_tz::TZ_VARIANTS
                    .iter()
                    .find(|tz| tz.name().eq_ignore_ascii_case(trimmed))
                    .copied()
            })
            .map(|tz| Self(tz.name().to_owned()))
            .ok_or(InvalidInput::new("time_zone", Rule::Unsupported))
    }

    /// The canonical IANA name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// UTC, where neither the user nor the organization chose a zone.
    pub fn utc() -> Self {
        Self("UTC".to_owned())
    }
}

parsed_string_impls!(TimeZone, display);

/// The colour scheme a user's screens use.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    /// Light.
    Light,
    /// Dark.
    Dark,
    /// Follow the device's setting (the default).
    #[default]
    System,
}

impl Theme {
    /// Every theme.
    pub const ALL: [Self; 3] = [Self::Light, Self::Dark, Self::System];

    /// Its name in forms and JSON.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Light => "light",
            Self::Dark => "dark",
            Self::System => "system",
        }
    }

    /// Parses `light`, `dark` or `system` (any case); the error names
    /// `theme`.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "light" => Ok(Self::Light),
            "dark" => Ok(Self::Dark),
            "system" => Ok(Self::System),
            "" => Err(InvalidInput::new("theme", Rule::Required)),
            _ => Err(InvalidInput::new("theme", Rule::Unsupported)),
        }
    }
}

impl fmt::Display for Theme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An avatar image address: an absolute `https` URL of at most 2048 bytes.
/// Plain `http` is refused so a profile page served over TLS never loads
/// mixed content.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct AvatarUrl(String);

impl AvatarUrl {
    /// Longest URL accepted, in bytes.
    pub const MAX_LEN: usize = 2048;

    /// Parses a URL; the error names `avatar_url`.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let err = |rule| InvalidInput::new("avatar_url", rule);
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(err(Rule::Required));
        }
        if trimmed.len() > Self::MAX_LEN {
            return Err(err(Rule::TooLong { max: Self::MAX_LEN }));
        }
        let url = url::Url::parse(trimmed).map_err(|_| err(Rule::InvalidUrl))?;
        if url.scheme() != "https" {
            return Err(err(Rule::NotHttps));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(err(Rule::InvalidUrl));
        }
        Ok(Self(url.into()))
    }

    /// The normalized URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

parsed_string_impls!(AvatarUrl);

/// What a user shows of themself. Applies across every organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// Given name.
    pub first_name: PersonName,
    /// Family name.
    pub last_name: PersonName,
    /// How the user prefers to be shown, when not "first last".
    pub display_name: Option<PersonName>,
    /// Picture shown beside the name.
    pub avatar_url: Option<AvatarUrl>,
    /// Language of the notifications sent to this user.
    pub language: Language,
    /// The user's time zone; `None` follows their organization's (see
    /// [`OrgSettings::time_zone`](crate::OrgSettings::time_zone)).
    #[serde(default)]
    pub time_zone: Option<TimeZone>,
    /// The colour scheme of the user's screens.
    #[serde(default)]
    pub theme: Theme,
}

impl Profile {
    /// Parses a profile from form input; each error names its field
    /// (`first_name`, `last_name`, `display_name`, `avatar_url`, `language`).
    /// Empty optional fields mean "not set"; an empty language means `en`.
    pub fn parse(
        first_name: &str,
        last_name: &str,
        display_name: Option<&str>,
        avatar_url: Option<&str>,
        language: Option<&str>,
    ) -> Result<Self, InvalidInput> {
        Ok(Self {
            first_name: PersonName::parse(first_name).map_err(|e| e.for_field("first_name"))?,
            last_name: PersonName::parse(last_name).map_err(|e| e.for_field("last_name"))?,
            display_name: optional(display_name)
                .map(PersonName::parse)
                .transpose()
                .map_err(|e| e.for_field("display_name"))?,
            avatar_url: optional(avatar_url).map(AvatarUrl::parse).transpose()?,
            language: optional(language)
                .map(Language::parse)
                .transpose()?
                .unwrap_or_default(),
            time_zone: None,
            theme: Theme::default(),
        })
    }

    /// The zone to show the user's times in: their own, else `org_default`
    /// (their organization's), else UTC.
    pub fn effective_time_zone(&self, org_default: Option<&TimeZone>) -> TimeZone {
        self.time_zone
            .as_ref()
            .or(org_default)
            .cloned()
            .unwrap_or_else(TimeZone::utc)
    }

    /// "First Last".
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }

    /// The display name when set, else the full name.
    pub fn shown_name(&self) -> String {
        self.display_name
            .as_ref()
            .map_or_else(|| self.full_name(), ToString::to_string)
    }
}

/// `None` for an absent or blank optional field.
fn optional(value: Option<&str>) -> Option<&str> {
    value.filter(|s| !s.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_parses_codes_and_defaults_to_english() {
        assert_eq!(Language::parse("ES").unwrap(), Language::Es);
        assert_eq!(Language::default(), Language::En);
        let e = Language::parse("fr").unwrap_err();
        assert_eq!((e.field, e.rule), ("language", Rule::Unsupported));
        for l in Language::ALL {
            assert_eq!(Language::parse(l.code()).unwrap(), l);
        }
    }

    #[test]
    fn time_zones_are_iana_names_in_canonical_spelling() {
        assert_eq!(
            TimeZone::parse(" europe/lisbon ").unwrap().as_str(),
            "Europe/Lisbon"
        );
        assert_eq!(TimeZone::parse("UTC").unwrap(), TimeZone::utc());
        let rule = |s: &str| TimeZone::parse(s).unwrap_err();
        assert_eq!(
            (rule("Mars/Olympus").field, rule("Mars/Olympus").rule),
            ("time_zone", Rule::Unsupported)
        );
        assert_eq!(rule("").rule, Rule::Required);
        let stored: TimeZone = serde_json::from_str("\"America/Sao_Paulo\"").unwrap();
        assert_eq!(stored.as_str(), "America/Sao_Paulo");
        assert!(serde_json::from_str::<TimeZone>("\"Nowhere/Land\"").is_err());
    }

    #[test]
    fn themes_parse_and_default_to_the_system_one() {
        assert_eq!(Theme::default(), Theme::System);
        for theme in Theme::ALL {
            assert_eq!(Theme::parse(theme.name()).unwrap(), theme);
        }
        let e = Theme::parse("neon").unwrap_err();
        assert_eq!((e.field, e.rule), ("theme", Rule::Unsupported));
    }

    #[test]
    fn the_effective_zone_is_the_users_else_the_organizations_else_utc() {
        let mut p = Profile::parse("Ann", "Lee", None, None, None).unwrap();
        let lisbon = TimeZone::parse("Europe/Lisbon").unwrap();
        assert_eq!(p.effective_time_zone(None), TimeZone::utc());
        assert_eq!(p.effective_time_zone(Some(&lisbon)), lisbon);
        let tokyo = TimeZone::parse("Asia/Tokyo").unwrap();
        p.time_zone = Some(tokyo.clone());
        assert_eq!(p.effective_time_zone(Some(&lisbon)), tokyo);
        // Profiles stored before these fields read with the defaults.
        let old = r#"{"first_name":"Ann","last_name":"Lee","display_name":null,"avatar_url":null,"language":"en"}"#;
        let read: Profile = serde_json::from_str(old).unwrap();
        assert_eq!((read.time_zone, read.theme), (None, Theme::System));
    }

    #[test]
    fn avatar_must_be_https() {
        assert!(AvatarUrl::parse("https://cdn.example.com/a.png").is_ok());
        let rule = |s: &str| AvatarUrl::parse(s).unwrap_err().rule;
        assert_eq!(rule("http://cdn.example.com/a.png"), Rule::NotHttps);
        assert_eq!(rule("javascript:alert(1)"), Rule::NotHttps);
        assert_eq!(rule("not a url"), Rule::InvalidUrl);
        assert_eq!(
            rule(&format!("https://e.com/{}", "a".repeat(2048))),
            Rule::TooLong { max: 2048 }
        );
    }

    #[test]
    fn profile_errors_name_their_field() {
        let e = Profile::parse("Ann", " ", None, None, None).unwrap_err();
        assert_eq!((e.field, e.rule), ("last_name", Rule::Required));
        let e = Profile::parse("Ann", "Lee", Some("\u{7}"), None, None).unwrap_err();
        assert_eq!(e.field, "display_name");
        let p = Profile::parse("Ann", "Lee", Some(""), Some(" "), Some("pt")).unwrap();
        assert_eq!(p.display_name, None);
        assert_eq!(p.avatar_url, None);
        assert_eq!(p.language, Language::Pt);
        assert_eq!(p.shown_name(), "Ann Lee");
    }
}
