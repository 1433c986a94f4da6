//! Email addresses and email domains.

use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Serialize, Serializer};

use crate::validation::{InvalidInput, Rule, parsed_string_impls};

// RFC 5321 4.5.3.1: local part ≤ 64 octets, domain ≤ 255 octets, and a path
// of ≤ 256 octets including the angle brackets leaves 254 for the address.
const MAX_LOCAL: usize = 64;
const MAX_DOMAIN: usize = 255;
const MAX_ADDRESS: usize = 254;
const MAX_LABEL: usize = 63;

/// A validated email address.
///
/// Parsing trims white space and lower-cases the domain; the local part keeps
/// its case for display. Two addresses are equal when they match
/// case-insensitively (what users expect, and what most mail systems do),
/// so `Alice@Example.com` and `alice@example.com` are one account.
///
/// ```
/// use iamkit_identity::Email;
/// let a = Email::parse("  Alice@Example.COM ").unwrap();
/// assert_eq!(a.as_str(), "Alice@example.com");
/// assert_eq!(a, Email::parse("alice@example.com").unwrap());
/// assert_eq!(a.domain(), "example.com");
/// ```
#[derive(Clone)]
pub struct Email {
    address: String,
    key: String,
}

impl Email {
    /// Parses and normalizes an address; the error names `email` and the rule.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let err = |rule| InvalidInput::new("email", rule);
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(err(Rule::Required));
        }
        if trimmed.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(err(Rule::InvalidCharacter));
        }
        let (local, domain) = trimmed.rsplit_once('@').ok_or(err(Rule::MissingAtSign))?;
        if local.is_empty() || local.contains('@') {
            return Err(err(Rule::MissingAtSign));
        }
        if local.len() > MAX_LOCAL
            || local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
            || local.chars().any(|c| "\"(),:;<>[\\]".contains(c))
        {
            return Err(err(Rule::InvalidLocalPart));
        }
        let domain = parse_domain(domain).map_err(|_| err(Rule::InvalidDomain))?;
        let address = format!("{local}@{domain}");
        if address.len() > MAX_ADDRESS {
            return Err(err(Rule::TooLong { max: MAX_ADDRESS }));
        }
        let key = address.to_lowercase();
        Ok(Self { address, key })
    }

    /// The address as entered, with the domain lower-cased.
    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// The case-folded form used for equality and uniqueness.
    pub fn normalized(&self) -> &str {
        &self.key
    }

    /// The part before `@`.
    pub fn local_part(&self) -> &str {
        self.address
            .rsplit_once('@')
            .map_or(self.address.as_str(), |(local, _)| local)
    }

    /// The domain, lower-case.
    pub fn domain(&self) -> &str {
        self.address
            .rsplit_once('@')
            .map_or("", |(_, domain)| domain)
    }
}

fn parse_domain(raw: &str) -> Result<String, ()> {
    let domain = raw.to_ascii_lowercase();
    if domain.is_empty() || domain.len() > MAX_DOMAIN {
        return Err(());
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err(());
    }
    for label in &labels {
        let valid = !label.is_empty()
            && label.len() <= MAX_LABEL
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid {
            return Err(());
        }
    }
    // The top-level domain is never all digits (that would be an IP address).
    if labels
        .last()
        .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(());
    }
    Ok(domain)
}

impl PartialEq for Email {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Email {}
impl Hash for Email {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}
impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({:?})", self.address)
    }
}
impl Serialize for Email {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.address)
    }
}
parsed_string_impls!(Email, display);

/// A validated, lower-case DNS domain, as used for organization auto-join
/// ("anyone with a verified `@acme.com` address may join").
///
/// ```
/// use iamkit_identity::{Email, EmailDomain};
/// let acme = EmailDomain::parse("ACME.com").unwrap();
/// assert!(acme.contains(&Email::parse("bob@acme.com").unwrap()));
/// assert!(!acme.contains(&Email::parse("bob@notacme.com").unwrap()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct EmailDomain(String);

impl EmailDomain {
    /// Parses a domain; the error names `domain`.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        parse_domain(raw.trim())
            .map(Self)
            .map_err(|()| InvalidInput::new("domain", Rule::InvalidDomain))
    }

    /// The domain, lower-case.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `email` is an address at exactly this domain.
    pub fn contains(&self, email: &Email) -> bool {
        email.domain() == self.0
    }
}

parsed_string_impls!(EmailDomain);

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(raw: &str) -> Rule {
        Email::parse(raw).unwrap_err().rule
    }

    #[test]
    fn accepts_ordinary_addresses() {
        for ok in [
            "a@b.co",
            "first.last+tag@sub.example.org",
            "o'brien@example.ie",
            "ünï@example.com",
        ] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn each_rejection_names_field_and_rule() {
        let e = Email::parse("no-at-sign").unwrap_err();
        assert_eq!(e.field, "email");
        assert_eq!(e.rule, Rule::MissingAtSign);
        assert_eq!(rule(""), Rule::Required);
        assert_eq!(rule("   "), Rule::Required);
        assert_eq!(rule("a b@example.com"), Rule::InvalidCharacter);
        assert_eq!(rule("@example.com"), Rule::MissingAtSign);
        assert_eq!(rule(".a@example.com"), Rule::InvalidLocalPart);
        assert_eq!(rule("a..b@example.com"), Rule::InvalidLocalPart);
        assert_eq!(
            rule(&format!("{}@example.com", "a".repeat(65))),
            Rule::InvalidLocalPart
        );
        assert_eq!(rule("a@localhost"), Rule::InvalidDomain);
        assert_eq!(rule("a@-x.com"), Rule::InvalidDomain);
        assert_eq!(rule("a@x..com"), Rule::InvalidDomain);
        assert_eq!(rule("a@1.2.3.4"), Rule::InvalidDomain);
        assert_eq!(rule("a@exa_mple.com"), Rule::InvalidDomain);
        let long_domain = format!("{}.com", vec!["a".repeat(60); 4].join("."));
        assert_eq!(
            rule(&format!("{}@{long_domain}", "b".repeat(10))),
            Rule::TooLong { max: 254 }
        );
    }

    #[test]
    fn serde_round_trips_and_rejects_invalid() {
        let e = Email::parse("Bob@Example.com").unwrap();
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, "\"Bob@example.com\"");
        assert_eq!(serde_json::from_str::<Email>(&json).unwrap(), e);
        assert!(serde_json::from_str::<Email>("\"nope\"").is_err());
    }
}
