//! Property tests of the identity validators: total on arbitrary Unicode,
//! normalization idempotent, equality case-insensitive where promised.

use iamkit_identity::{
    AvatarUrl, DirectoryQuery, Email, EmailDomain, Language, Name, PersonName, Slug, Username,
};
use proptest::prelude::*;

/// Inputs that exercise edges: arbitrary Unicode, plus strings close to
/// valid (ASCII letters, digits, separators, `@`, dots, white space).
fn input() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ a-zA-Z0-9._@+-]{0,80}",
        "[a-zA-Z0-9._%+-]{1,20}@[a-zA-Z0-9-]{1,12}\\.[a-zA-Z]{2,6}",
        "\\PC{0,120}",
    ]
}

proptest! {
    /// Every validator answers `Ok` or a typed error naming its field, for
    /// any input, and never panics.
    #[test]
    fn validators_are_total(raw in input()) {
        let fields = [
            Email::parse(&raw).err().map(|e| e.field),
            Username::parse(&raw).err().map(|e| e.field),
            PersonName::parse(&raw).err().map(|e| e.field),
            Name::parse(&raw).err().map(|e| e.field),
            Slug::parse(&raw).err().map(|e| e.field),
            AvatarUrl::parse(&raw).err().map(|e| e.field),
            Language::parse(&raw).err().map(|e| e.field),
            EmailDomain::parse(&raw).err().map(|e| e.field),
            DirectoryQuery::new().with_text(&raw).err().map(|e| e.field),
        ];
        let expected = [
            "email", "username", "name", "name", "slug", "avatar_url", "language", "domain", "text",
        ];
        for (got, want) in fields.iter().zip(expected) {
            if let Some(field) = got {
                prop_assert_eq!(*field, want);
            }
        }
    }

    /// Parsing a value's own output gives the same value (normalization is
    /// idempotent).
    #[test]
    fn normalization_is_idempotent(raw in input()) {
        if let Ok(v) = Email::parse(&raw) {
            let again = Email::parse(v.as_str()).unwrap();
            prop_assert_eq!(again.as_str(), v.as_str());
        }
        if let Ok(v) = Username::parse(&raw) {
            prop_assert_eq!(Username::parse(v.as_str()).unwrap(), v);
        }
        if let Ok(v) = PersonName::parse(&raw) {
            prop_assert_eq!(PersonName::parse(v.as_str()).unwrap(), v);
        }
        if let Ok(v) = Name::parse(&raw) {
            prop_assert_eq!(Name::parse(v.as_str()).unwrap(), v);
        }
        if let Ok(v) = Slug::parse(&raw) {
            prop_assert_eq!(Slug::parse(v.as_str()).unwrap(), v);
        }
        if let Ok(v) = AvatarUrl::parse(&raw) {
            prop_assert_eq!(AvatarUrl::parse(v.as_str()).unwrap(), v);
        }
    }

    /// Changing the case of a valid username or email gives an equal value.
    #[test]
    fn username_and_email_equality_ignores_case(
        local in "[a-zA-Z][a-zA-Z0-9._-]{1,20}[a-zA-Z0-9]",
        domain in "[a-zA-Z][a-zA-Z0-9-]{0,10}[a-zA-Z0-9]\\.[a-zA-Z]{2,6}",
        flips in proptest::collection::vec(any::<bool>(), 64),
    ) {
        let flip = |s: &str| -> String {
            s.chars().zip(flips.iter().cycle()).map(|(c, &f)| {
                if f { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() }
            }).collect()
        };
        prop_assume!(!local.contains(".."));
        let u1 = Username::parse(&local).unwrap();
        let u2 = Username::parse(&flip(&local)).unwrap();
        prop_assert_eq!(u1, u2);
        let e1 = Email::parse(&format!("{local}@{domain}")).unwrap();
        let e2 = Email::parse(&flip(&format!("{local}@{domain}"))).unwrap();
        prop_assert_eq!(e1.normalized(), e2.normalized());
        prop_assert_eq!(e1, e2);
    }
}
