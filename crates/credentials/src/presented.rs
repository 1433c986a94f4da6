//! The textual form of every bearer secret iamkit hands out:
//! `iamk_<kind>_<id>_<secret>` (DESIGN.md, Secrets).
//!
//! `<kind>` is three letters, `<id>` the 32 lowercase hex digits of a UUID and
//! `<secret>` 64 lowercase hex digits (256 bits, SECURITY.md 1). Every part has
//! a fixed length, so parsing is by position and needs no separator search;
//! hex keeps the token URL-safe without the `_`/`-` of base64url.

use std::fmt;

use rand::CryptoRng;
use subtle::ConstantTimeEq;
use uuid::Uuid;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{Error, Result};
use crate::secret::{SecretDigest, SecretString};

const PREFIX: &str = "iamk_";
const KIND_LEN: usize = 3;
const ID_LEN: usize = 32;
const SECRET_BYTES: usize = 32;
const SECRET_LEN: usize = SECRET_BYTES * 2;
/// Length in bytes of every presented secret.
pub const PRESENTED_LEN: usize = PREFIX.len() + KIND_LEN + 1 + ID_LEN + 1 + SECRET_LEN;

/// What a presented secret is for. The kind is part of the text, so a token
/// of one kind never parses as another (SECURITY.md 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecretKind {
    /// An invitation link (`iamk_inv_...`).
    Invite,
    /// A password reset link, admin- or self-initiated (`iamk_rst_...`).
    PasswordReset,
    /// An email verification link (`iamk_vfy_...`).
    EmailVerification,
    /// A sign-in session (`iamk_ses_...`).
    Session,
    /// An API key (`iamk_key_...`).
    ApiKey,
}

impl SecretKind {
    /// Every kind.
    pub const ALL: [Self; 5] = [
        Self::Invite,
        Self::PasswordReset,
        Self::EmailVerification,
        Self::Session,
        Self::ApiKey,
    ];

    /// The three-letter tag in the text form.
    pub const fn tag(self) -> &'static str {
        match self {
            Self::Invite => "inv",
            Self::PasswordReset => "rst",
            Self::EmailVerification => "vfy",
            Self::Session => "ses",
            Self::ApiKey => "key",
        }
    }

    fn from_tag(tag: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.tag() == tag)
    }
}

/// A bearer secret as handed to (or presented by) its holder: kind, lookup id
/// and 256 random bits. `Debug` shows kind and id, never the secret.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PresentedSecret {
    #[zeroize(skip)]
    kind: SecretKind,
    #[zeroize(skip)]
    id: Uuid,
    secret: [u8; SECRET_BYTES],
}

impl PresentedSecret {
    /// A fresh secret of `kind` for the record `id`, 256 bits from `rng`.
    pub fn generate(kind: SecretKind, id: Uuid, rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        let mut secret = [0u8; SECRET_BYTES];
        rng.fill_bytes(&mut secret);
        Self { kind, id, secret }
    }

    /// Parses the text form. Anything not exactly of the form gives
    /// [`Error::InvalidCredentials`], like every other rejected secret.
    pub fn parse(text: &str) -> Result<Self> {
        Self::try_parse(text).ok_or(Error::InvalidCredentials)
    }

    /// Parses the text form and requires `kind`: a token of another kind is
    /// refused with the same error as garbage (SECURITY.md 3).
    pub fn parse_as(text: &str, kind: SecretKind) -> Result<Self> {
        Self::parse(text)
            .ok()
            .filter(|p| p.kind == kind)
            .ok_or(Error::InvalidCredentials)
    }

    fn try_parse(text: &str) -> Option<Self> {
        if text.len() != PRESENTED_LEN || !text.starts_with(PREFIX) {
            return None;
        }
        let kind_start = PREFIX.len();
        let id_start = kind_start + KIND_LEN + 1;
        let secret_start = id_start + ID_LEN + 1;
        let kind = SecretKind::from_tag(text.get(kind_start..kind_start + KIND_LEN)?)?;
        if text.get(id_start - 1..id_start)? != "_"
            || text.get(secret_start - 1..secret_start)? != "_"
        {
            return None;
        }
        let mut id = [0u8; 16];
        decode_hex(text.get(id_start..id_start + ID_LEN)?, &mut id)?;
        let mut secret = [0u8; SECRET_BYTES];
        decode_hex(text.get(secret_start..)?, &mut secret)?;
        Some(Self {
            kind,
            id: Uuid::from_bytes(id),
            secret,
        })
    }

    /// The text form, to hand to the holder once.
    pub fn to_text(&self) -> SecretString {
        let mut out = String::with_capacity(PRESENTED_LEN);
        out.push_str(PREFIX);
        out.push_str(self.kind.tag());
        out.push('_');
        encode_hex(self.id.as_bytes(), &mut out);
        out.push('_');
        encode_hex(&self.secret, &mut out);
        SecretString::new(out)
    }

    /// What it is for.
    pub const fn kind(&self) -> SecretKind {
        self.kind
    }

    /// The lookup id of the record it belongs to.
    pub const fn id(&self) -> Uuid {
        self.id
    }

    /// SHA-256 of the secret part: what the store keeps.
    pub fn digest(&self) -> SecretDigest {
        SecretDigest::of(&self.secret)
    }
}

/// Constant time on the secret part (SECURITY.md 7).
impl PartialEq for PresentedSecret {
    fn eq(&self, other: &Self) -> bool {
        let secret_eq: bool = self.secret.ct_eq(&other.secret).into();
        secret_eq && self.kind == other.kind && self.id == other.id
    }
}

impl Eq for PresentedSecret {}

impl fmt::Debug for PresentedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresentedSecret")
            .field("kind", &self.kind)
            .field("id", &self.id)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn encode_hex(bytes: &[u8], out: &mut String) {
    for b in bytes {
        for nibble in [b >> 4, b & 0x0f] {
            if let Some(c) = HEX.get(usize::from(nibble)) {
                out.push(char::from(*c));
            }
        }
    }
}

/// Lowercase only, so every value has exactly one text form.
fn decode_hex(text: &str, out: &mut [u8]) -> Option<()> {
    if text.len() != out.len() * 2 {
        return None;
    }
    for (pair, slot) in text.as_bytes().chunks_exact(2).zip(out.iter_mut()) {
        let [hi, lo] = pair else { return None };
        *slot = (nibble(*hi)? << 4) | nibble(*lo)?;
    }
    Some(())
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn kind() -> impl Strategy<Value = SecretKind> {
        proptest::sample::select(SecretKind::ALL.to_vec())
    }

    #[test]
    fn text_form_has_prefix_kind_and_fixed_length() {
        let mut rng = StdRng::seed_from_u64(1);
        let p = PresentedSecret::generate(SecretKind::ApiKey, Uuid::from_u128(7), &mut rng);
        let text = p.to_text();
        assert!(
            text.expose()
                .starts_with("iamk_key_00000000000000000000000000000007_")
        );
        assert_eq!(text.expose().len(), PRESENTED_LEN);
        let dbg = format!("{p:?}");
        assert!(dbg.contains("[REDACTED]"));
        assert!(
            !dbg.contains(&text.expose()[42..]),
            "secret part leaked: {dbg}"
        );
    }

    #[test]
    fn uppercase_and_wrong_separators_are_rejected() {
        let mut rng = StdRng::seed_from_u64(2);
        let p =
            PresentedSecret::generate(SecretKind::Session, Uuid::from_u128(u128::MAX), &mut rng);
        let text = p.to_text().expose().to_owned();
        assert!(PresentedSecret::parse(&text).is_ok());
        assert!(PresentedSecret::parse(&text.to_uppercase()).is_err());
        assert!(PresentedSecret::parse(&text.replacen('_', "-", 2)).is_err());
        assert!(PresentedSecret::parse(&text[..text.len() - 1]).is_err());
        assert!(PresentedSecret::parse(&format!("{text}0")).is_err());
    }

    proptest! {
        #[test]
        fn parse_of_format_round_trips(kind in kind(), id in any::<u128>(), seed in any::<u64>()) {
            let mut rng = StdRng::seed_from_u64(seed);
            let p = PresentedSecret::generate(kind, Uuid::from_u128(id), &mut rng);
            let back = PresentedSecret::parse(p.to_text().expose()).unwrap();
            prop_assert_eq!(&back, &p);
            prop_assert_eq!(back.digest(), p.digest());
            prop_assert!(PresentedSecret::parse_as(p.to_text().expose(), kind).is_ok());
        }

        #[test]
        fn other_kinds_are_refused(kind in kind(), other in kind(), seed in any::<u64>()) {
            prop_assume!(kind != other);
            let mut rng = StdRng::seed_from_u64(seed);
            let p = PresentedSecret::generate(kind, Uuid::from_u128(1), &mut rng);
            prop_assert_eq!(
                PresentedSecret::parse_as(p.to_text().expose(), other),
                Err(Error::InvalidCredentials)
            );
            // Relabelling the prefix does not make it valid as the other kind's
            // record either: the kind is checked again against the stored record.
            let relabelled = p.to_text().expose().replacen(kind.tag(), other.tag(), 1);
            let q = PresentedSecret::parse_as(&relabelled, other).unwrap();
            prop_assert_eq!(q.kind(), other);
        }

        #[test]
        fn parse_never_panics(text in ".{0,120}") {
            let _ = PresentedSecret::parse(&text);
        }

        #[test]
        fn parse_near_valid_strings_never_panics(
            text in "iamk_(inv|rst|vfy|ses|key|xyz)_[0-9a-fA-F_é]{30,34}_[0-9a-fA-F_é]{60,66}"
        ) {
            if let Ok(p) = PresentedSecret::parse(&text) {
                let again = p.to_text();
                prop_assert_eq!(again.expose(), text.as_str());
            }
        }
    }
}
