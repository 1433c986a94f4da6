//! Password policy and argon2id hashing.

use std::fmt;

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use rand::CryptoRng;
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use crate::error::{Error, FieldRule, Result};
use crate::foreign_hash::{ForeignHash, ImportedAlgorithm};
use crate::secret::SecretString;

/// A password as typed by a user, not yet checked against any policy (what a
/// login form carries). Redacted in `Debug`, wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(SecretString);

impl Password {
    /// Wraps the typed text.
    pub fn new(text: impl Into<String>) -> Self {
        Self(SecretString::new(text.into()))
    }

    /// The typed text.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The bytes that get hashed: the text in Unicode NFKC, so the same
    /// password typed on keyboards that compose accents differently verifies
    /// (NIST SP 800-63B 3.1.1.2).
    fn hash_input(&self) -> Zeroizing<String> {
        Zeroizing::new(self.expose().nfkc().collect())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([REDACTED])")
    }
}

/// A password that passed a [`PasswordPolicy`]: the only input
/// [`PasswordHasher::hash`] accepts, so nothing unchecked gets stored.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(Password);

impl NewPassword {
    /// The checked password.
    pub fn as_password(&self) -> &Password {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword([REDACTED])")
    }
}

/// Which policy rule a new password broke. Never contains the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordRule {
    /// Fewer code points than the minimum.
    #[error("shorter than {min} characters")]
    TooShort {
        /// The minimum in Unicode code points.
        min: usize,
    },
    /// More code points than the maximum.
    #[error("longer than {max} characters")]
    TooLong {
        /// The maximum in Unicode code points.
        max: usize,
    },
    /// Contains a control character (not printable).
    #[error("contains a control character")]
    ControlCharacter,
    /// Too common / guessable: found in the shipped password and word lists.
    #[error("too common or easy to guess")]
    Common,
    /// Equal to or contains the email's local part.
    #[error("contains the email address")]
    ContainsEmail,
    /// Equal to or contains the username.
    #[error("contains the username")]
    ContainsUsername,
}

/// Who the password is for: the context-specific words NIST 800-63B
/// 3.1.1.2 says to reject.
#[derive(Debug, Clone, Copy, Default)]
pub struct PasswordContext<'a> {
    /// Whether the organization enforces a second factor (lowers the minimum).
    pub second_factor_enforced: bool,
    /// The account's email.
    pub email: Option<&'a str>,
    /// The account's username.
    pub username: Option<&'a str>,
}

/// Rules for new passwords (SECURITY.md 9, NIST SP 800-63B rev. 4 3.1.1.2).
///
/// No composition rules: NIST 800-63B forbids requiring character classes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    min_single_factor: usize,
    min_with_second_factor: usize,
    max: usize,
    reject_common: bool,
}

/// NIST 800-63B allows verifiers to require at most 64 as the maximum.
const MIN_ALLOWED_MAX: usize = 64;
/// Guesses below 10^6 (zxcvbn score 0–1): found in or derived from its
/// shipped lists of common passwords, names and words.
const COMMON_GUESSES_LOG10: f64 = 6.0;
/// Words shorter than this are too generic to forbid inside a password.
const MIN_CONTEXT_WORD: usize = 3;

impl Default for PasswordPolicy {
    /// Minimum 15 as sole factor, 8 with an enforced second factor, maximum
    /// 128, common passwords rejected.
    fn default() -> Self {
        Self {
            min_single_factor: 15,
            min_with_second_factor: 8,
            max: 128,
            reject_common: true,
        }
    }
}

impl PasswordPolicy {
    /// A policy with the given minimums and maximum (code points).
    ///
    /// Each minimum must be at least 1, the second-factor minimum must not
    /// exceed the single-factor one, and the maximum must be at least 64
    /// (NIST 800-63B) and at least the single-factor minimum.
    pub fn new(
        min_single_factor: usize,
        min_with_second_factor: usize,
        max: usize,
    ) -> Result<Self> {
        let field = |field, rule| Err(Error::InvalidField { field, rule });
        if min_with_second_factor == 0 {
            return field("min_with_second_factor", FieldRule::TooSmall { min: 1 });
        }
        if min_with_second_factor > min_single_factor {
            return field(
                "min_with_second_factor",
                FieldRule::ExceedsOther {
                    other: "min_single_factor",
                },
            );
        }
        if max < MIN_ALLOWED_MAX {
            return field(
                "max",
                FieldRule::TooSmall {
                    min: MIN_ALLOWED_MAX as u64,
                },
            );
        }
        if min_single_factor > max {
            return field(
                "min_single_factor",
                FieldRule::ExceedsOther { other: "max" },
            );
        }
        Ok(Self {
            min_single_factor,
            min_with_second_factor,
            max,
            reject_common: true,
        })
    }

    /// Turns the common-password check off (for tests that need weak
    /// passwords quickly; never in production).
    #[must_use]
    pub fn without_common_check(mut self) -> Self {
        self.reject_common = false;
        self
    }

    /// The minimum length that applies in `ctx`.
    pub fn min_length(&self, ctx: &PasswordContext<'_>) -> usize {
        if ctx.second_factor_enforced {
            self.min_with_second_factor
        } else {
            self.min_single_factor
        }
    }

    /// The maximum length.
    pub fn max_length(&self) -> usize {
        self.max
    }

    /// Checks `password` for `ctx`; on success it may be hashed.
    pub fn check(&self, password: Password, ctx: &PasswordContext<'_>) -> Result<NewPassword> {
        let reject = |rule| Err(Error::InvalidPassword { rule });
        // Judge exactly what gets hashed (NFKC): otherwise 8 decomposed
        // accents count as 16 code points but verify as 8, and a
        // full-width username slips past the context check.
        let normalized = password.hash_input();
        let text = normalized.as_str();
        // NIST 800-63B: length in Unicode code points.
        let len = text.chars().count();
        let min = self.min_length(ctx);
        if len < min {
            return reject(PasswordRule::TooShort { min });
        }
        // The maximum counts what the user typed: NFKC can expand a code
        // point up to 18-fold (U+FDFA), and "at least 64 allowed" is a
        // promise about what the user types (SECURITY.md 9).
        if password.expose().chars().count() > self.max {
            return reject(PasswordRule::TooLong { max: self.max });
        }
        // All printable characters and spaces are allowed (SECURITY.md 9);
        // control characters are not printable and break copy/paste.
        if text.chars().any(char::is_control) {
            return reject(PasswordRule::ControlCharacter);
        }
        let lower = text.to_lowercase();
        let local_part = ctx.email.and_then(|e| e.split('@').next());
        if contains_word(&lower, local_part) {
            return reject(PasswordRule::ContainsEmail);
        }
        if contains_word(&lower, ctx.username) {
            return reject(PasswordRule::ContainsUsername);
        }
        if self.reject_common {
            let inputs: Vec<&str> = ctx.email.into_iter().chain(ctx.username).collect();
            if zxcvbn::zxcvbn(text, &inputs).guesses_log10() < COMMON_GUESSES_LOG10 {
                return reject(PasswordRule::Common);
            }
        }
        Ok(NewPassword(password))
    }
}

fn contains_word(lower_password: &str, word: Option<&str>) -> bool {
    word.map(|w| w.nfkc().collect::<String>().to_lowercase())
        .is_some_and(|w| w.chars().count() >= MIN_CONTEXT_WORD && lower_password.contains(&w))
}

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Parallelism.
    pub p_cost: u32,
}

impl Default for Argon2Params {
    /// OWASP Password Storage Cheat Sheet: m = 19456 KiB, t = 2, p = 1.
    fn default() -> Self {
        Self {
            m_cost_kib: 19_456,
            t_cost: 2,
            p_cost: 1,
        }
    }
}

/// Prefix of a stored hash imported from another system: the marker, then
/// the foreign hash exactly as given (`$iamkit-import$$2b$12$...`). iamkit
/// itself writes only bare argon2id PHC strings, so the marker is what
/// tells a sign-in that the NFKC fallback applies and that the hash is to
/// be replaced (see [`PasswordHash::import`]).
pub const IMPORTED_HASH_MARKER: &str = "$iamkit-import$";

/// A stored password hash: an argon2 PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), or a hash imported
/// from another system ([`IMPORTED_HASH_MARKER`] and the foreign hash).
/// Redacted in `Debug`: it is offline-guessable material.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(SecretString);

impl PasswordHash {
    /// Wraps a hash read back from storage, checking that it parses: an
    /// argon2 PHC string, or an imported hash iamkit can verify.
    pub fn from_phc(phc: impl Into<String>) -> Result<Self> {
        let phc = SecretString::new(phc.into());
        match phc.expose().strip_prefix(IMPORTED_HASH_MARKER) {
            Some(foreign) => {
                ForeignHash::parse(foreign).map_err(|_| Error::MalformedPasswordHash)?;
            }
            None => {
                argon2::PasswordHash::new(phc.expose())
                    .map_err(|_| Error::MalformedPasswordHash)?;
            }
        }
        Ok(Self(phc))
    }

    /// Takes a hash made by another system, for an imported account:
    /// argon2id or argon2i PHC, bcrypt (`$2a$`, `$2b$`, `$2y$`), passlib
    /// scrypt (`$scrypt$ln=..,r=..,p=..$salt$checksum`) or passlib
    /// PBKDF2-SHA256 (`$pbkdf2-sha256$rounds$salt$checksum`). The cost is
    /// bounded (the `MAX_IMPORTED_*` constants): an import cannot plant a
    /// hash whose every check takes minutes. Refused with
    /// [`Error::InvalidField`] naming `password_hash` and the rule
    /// ([`FieldRule::UnknownFormat`], [`FieldRule::Malformed`],
    /// [`FieldRule::TooLarge`]).
    pub fn import(foreign: &str) -> Result<(Self, ImportedAlgorithm)> {
        let algorithm = ForeignHash::parse(foreign)?.algorithm();
        let stored = format!("{IMPORTED_HASH_MARKER}{foreign}");
        Ok((Self(SecretString::new(stored)), algorithm))
    }

    /// The algorithm of an imported hash; `None` for iamkit's own.
    pub fn imported_algorithm(&self) -> Option<ImportedAlgorithm> {
        self.foreign()
            .and_then(|f| ForeignHash::parse(f).ok())
            .map(|f| f.algorithm())
    }

    /// Whether the hash was imported (and not yet replaced by a sign-in).
    pub fn is_imported(&self) -> bool {
        self.foreign().is_some()
    }

    fn foreign(&self) -> Option<&str> {
        self.0.expose().strip_prefix(IMPORTED_HASH_MARKER)
    }

    /// The stored form (PHC, or the marker and the imported hash).
    pub fn as_phc(&self) -> &str {
        self.0.expose()
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash([REDACTED])")
    }
}

/// Outcome of a password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    /// The password matches; when `needs_rehash`, store a fresh hash made
    /// with the current parameters (SECURITY.md 8).
    Valid {
        /// The stored hash uses outdated parameters.
        needs_rehash: bool,
    },
    /// It does not match (or the user is unknown).
    Invalid,
}

/// Hashes and verifies passwords with argon2id.
#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    params: Argon2Params,
    dummy: PasswordHash,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

const SALT_LEN: usize = 16;

impl PasswordHasher {
    /// A hasher with `params`. Computes, once, the dummy hash used for
    /// unknown users, so it costs one hash.
    pub fn new(params: Argon2Params) -> Result<Self> {
        let p =
            Params::new(params.m_cost_kib, params.t_cost, params.p_cost, None).map_err(|e| {
                let (field, rule) = match e {
                    argon2::Error::TimeTooSmall => ("t_cost", FieldRule::TooSmall { min: 1 }),
                    argon2::Error::ThreadsTooFew => ("p_cost", FieldRule::TooSmall { min: 1 }),
                    argon2::Error::ThreadsTooMany => (
                        "p_cost",
                        FieldRule::TooLarge {
                            max: u64::from(Params::MAX_P_COST),
                        },
                    ),
                    // argon2 needs at least 8 KiB per lane (RFC 9106 3.1).
                    _ => (
                        "m_cost_kib",
                        FieldRule::TooSmall {
                            min: 8 * u64::from(params.p_cost.max(1)),
                        },
                    ),
                };
                Error::InvalidField { field, rule }
            })?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
        // A fixed salt is fine: this hash never protects a real password.
        let dummy = argon2
            .hash_password_with_salt(b"iamkit dummy password", b"iamkit-dummy-salt")
            .map_err(|_| Error::Hashing)?;
        let dummy = PasswordHash(SecretString::new(dummy.to_string()));
        Ok(Self {
            argon2,
            params,
            dummy,
        })
    }

    /// The parameters new hashes get.
    pub fn params(&self) -> Argon2Params {
        self.params
    }

    /// Hashes a checked password with a fresh 128-bit salt from `rng`.
    pub fn hash(
        &self,
        password: &NewPassword,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<PasswordHash> {
        let mut salt = [0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        let hash = self
            .argon2
            .hash_password_with_salt(password.0.hash_input().as_bytes(), &salt)
            .map_err(|_| Error::Hashing)?;
        Ok(PasswordHash(SecretString::new(hash.to_string())))
    }

    /// Checks `password` against `stored`. With `stored = None` (unknown
    /// user) it verifies against a dummy hash of the same cost and answers
    /// [`PasswordCheck::Invalid`] (SECURITY.md 10, OWASP Authentication
    /// Cheat Sheet: no timing difference for unknown accounts).
    pub fn verify(&self, password: &Password, stored: Option<&PasswordHash>) -> PasswordCheck {
        let Some(stored) = stored else {
            let _ = self.verify_phc(password, self.dummy.as_phc());
            return PasswordCheck::Invalid;
        };
        if let Some(foreign) = stored.foreign() {
            return if self.verify_imported(password, foreign) {
                PasswordCheck::Valid { needs_rehash: true }
            } else {
                PasswordCheck::Invalid
            };
        }
        if self.verify_phc(password, stored.as_phc()) {
            PasswordCheck::Valid {
                needs_rehash: self.needs_rehash(stored),
            }
        } else {
            PasswordCheck::Invalid
        }
    }

    /// An imported hash: first the NFKC form iamkit hashes, then, when it
    /// differs, once the password exactly as typed. The system that made
    /// the hash may not have normalized (a ligature, full-width letters, a
    /// combining accent or a no-break space are then hashed as typed);
    /// only imported hashes get this second try, and the first sign-in
    /// replaces them with iamkit's own.
    fn verify_imported(&self, password: &Password, foreign: &str) -> bool {
        let Ok(parsed) = ForeignHash::parse(foreign) else {
            // Corrupt record: spend the same work, then refuse.
            let _ = self.verify_phc(password, self.dummy.as_phc());
            return false;
        };
        let normalized = password.hash_input();
        if parsed.verify(normalized.as_bytes()) {
            return true;
        }
        normalized.as_str() != password.expose() && parsed.verify(password.expose().as_bytes())
    }

    /// Hashes, with this hasher's parameters, a password that has just
    /// verified against an imported hash, to replace it. The password
    /// policy does not apply: the account already signs in with this
    /// password, and the import's purpose is that it keeps doing so; what
    /// changes is only that its hash becomes argon2id.
    pub fn rehash_imported(
        &self,
        password: &Password,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<PasswordHash> {
        self.hash(&NewPassword(password.clone()), rng)
    }

    fn verify_phc(&self, password: &Password, phc: &str) -> bool {
        match argon2::PasswordHash::new(phc) {
            Ok(parsed) => self
                .argon2
                .verify_password(password.hash_input().as_bytes(), &parsed)
                .is_ok(),
            Err(_) => {
                // Corrupt record: spend the same work, then refuse.
                let _ = self.verify_phc(password, self.dummy.as_phc());
                false
            }
        }
    }

    /// Whether `stored` was made with another algorithm, version or
    /// parameters than this hasher's (then re-hash on the next login).
    pub fn needs_rehash(&self, stored: &PasswordHash) -> bool {
        if stored.is_imported() {
            return true;
        }
        let Ok(parsed) = argon2::PasswordHash::new(stored.as_phc()) else {
            return true;
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return true;
        };
        parsed.algorithm.as_str() != "argon2id"
            || parsed.version != Some(0x13)
            || params.m_cost() != self.params.m_cost_kib
            || params.t_cost() != self.params.t_cost
            || params.p_cost() != self.params.p_cost
            // Our hashes are 32 bytes; a shorter tag (imported, or made by
            // other code) is an outdated parameter too.
            || parsed.hash.as_ref().map(|h| h.len()) != Some(Params::DEFAULT_OUTPUT_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    const CHEAP: Argon2Params = Argon2Params {
        m_cost_kib: 64,
        t_cost: 1,
        p_cost: 1,
    };

    fn pw(s: &str) -> Password {
        Password::new(s)
    }

    fn rule(r: Result<NewPassword>) -> PasswordRule {
        match r {
            Err(Error::InvalidPassword { rule }) => rule,
            other => panic!("expected a rule violation, got {other:?}"),
        }
    }

    #[test]
    fn length_counts_code_points_and_depends_on_second_factor() {
        let p = PasswordPolicy::default();
        let single = PasswordContext::default();
        let mfa = PasswordContext {
            second_factor_enforced: true,
            ..PasswordContext::default()
        };
        // 14 code points but 28 bytes: too short as sole factor.
        let fourteen = "ééééééééééééé1".to_owned();
        assert_eq!(fourteen.chars().count(), 14);
        assert_eq!(
            rule(p.check(pw(&fourteen), &single)),
            PasswordRule::TooShort { min: 15 }
        );
        assert!(p.check(pw("glacier ferry violin"), &single).is_ok());
        assert!(p.check(pw("Kx9!mQ2#"), &mfa).is_ok());
        assert_eq!(
            rule(p.check(pw("Kx9!mQ2"), &mfa)),
            PasswordRule::TooShort { min: 8 }
        );
    }

    #[test]
    fn length_is_counted_on_the_normalized_form_that_gets_hashed() {
        let p = PasswordPolicy::default();
        let ctx = PasswordContext::default();
        // 14 characters, 6 of them typed as letter + combining accent: 20
        // code points as typed, 14 after NFKC, and the 14-letter composed
        // spelling verifies against its hash. It must count as 14.
        let decomposed = "ve\u{301}lo ro\u{302}de\u{301} e\u{301}te\u{301}a\u{300}";
        assert_eq!(decomposed.chars().count(), 20);
        assert_eq!(decomposed.nfkc().count(), 14);
        assert_eq!(
            rule(p.check(pw(decomposed), &ctx)),
            PasswordRule::TooShort { min: 15 }
        );
    }

    #[test]
    fn nfkc_expansion_does_not_make_a_typed_password_too_long() {
        let p = PasswordPolicy::default();
        // 29 code points typed; U+FDFA alone is 18 after NFKC, 165 in all.
        let typed = format!("{} glacier ferry violin", "\u{fdfa}".repeat(8));
        assert_eq!(typed.chars().count(), 29);
        assert!(typed.nfkc().count() > 128);
        assert!(p.check(pw(&typed), &PasswordContext::default()).is_ok());
    }

    #[test]
    fn context_words_are_found_in_the_normalized_form() {
        let p = PasswordPolicy::default();
        let ctx = PasswordContext {
            second_factor_enforced: false,
            email: None,
            username: Some("myourcenar"),
        };
        // Full-width letters are NFKC-equal to ASCII: this password is
        // hashed (and verifies) as "MYOURCENAR glacier ferry violin".
        assert_eq!(
            rule(p.check(pw("ＭＹＯＵＲＣＥＮＡＲ glacier ferry violin"), &ctx)),
            PasswordRule::ContainsUsername
        );
    }

    #[test]
    fn at_least_64_allowed_and_maximum_enforced() {
        let p = PasswordPolicy::default();
        let ctx = PasswordContext::default();
        let long: String = "correct horse battery staple "
            .repeat(5)
            .chars()
            .take(128)
            .collect();
        assert!(p.check(pw(&long), &ctx).is_ok());
        let too_long = format!("{long}x");
        assert_eq!(
            rule(p.check(pw(&too_long), &ctx)),
            PasswordRule::TooLong { max: 128 }
        );
        assert_eq!(
            PasswordPolicy::new(15, 8, 63),
            Err(Error::InvalidField {
                field: "max",
                rule: FieldRule::TooSmall { min: 64 }
            })
        );
        assert!(PasswordPolicy::new(12, 8, 64).is_ok());
    }

    #[test]
    fn no_composition_rules_spaces_and_unicode_allowed() {
        let p = PasswordPolicy::default();
        let ctx = PasswordContext::default();
        assert!(p.check(pw("vingt-trois éléphants roses"), &ctx).is_ok());
        assert!(
            p.check(pw("日本語のパスワードはとても長いです"), &ctx)
                .is_ok()
        );
        assert_eq!(
            rule(p.check(pw("tab\tseparated words here"), &ctx)),
            PasswordRule::ControlCharacter
        );
    }

    #[test]
    fn common_passwords_are_rejected() {
        let p = PasswordPolicy::default();
        let ctx = PasswordContext::default();
        for common in [
            "passwordpassword",
            "123456789012345",
            "qwertyuiopasdfgh",
            "aaaaaaaaaaaaaaaa",
        ] {
            assert_eq!(
                rule(p.check(pw(common), &ctx)),
                PasswordRule::Common,
                "{common}"
            );
        }
        assert!(
            p.clone()
                .without_common_check()
                .check(pw("passwordpassword"), &ctx)
                .is_ok()
        );
    }

    #[test]
    fn email_local_part_and_username_are_rejected() {
        let p = PasswordPolicy::default();
        let ctx = PasswordContext {
            second_factor_enforced: false,
            email: Some("Marguerite.Yourcenar@example.com"),
            username: Some("myourcenar"),
        };
        assert_eq!(
            rule(p.check(pw("my marguerite.yourcenar 2024!"), &ctx)),
            PasswordRule::ContainsEmail
        );
        assert_eq!(
            rule(p.check(pw("xx-MYOURCENAR-violin-17"), &ctx)),
            PasswordRule::ContainsUsername
        );
    }

    #[test]
    fn error_never_echoes_the_password() {
        let p = PasswordPolicy::default();
        let err = p
            .check(pw("short-secret"), &PasswordContext::default())
            .unwrap_err();
        assert!(!err.to_string().contains("short-secret"));
        assert!(!format!("{err:?}").contains("short-secret"));
    }

    #[test]
    fn debug_of_password_types_is_redacted() {
        let p = pw("glacier ferry violin");
        let new = PasswordPolicy::default()
            .check(p.clone(), &PasswordContext::default())
            .unwrap();
        let h = PasswordHasher::new(CHEAP).unwrap();
        let hash = h.hash(&new, &mut StdRng::seed_from_u64(1)).unwrap();
        for out in [
            format!("{p:?}"),
            format!("{new:?}"),
            format!("{hash:?}"),
            format!("{h:?}"),
        ] {
            assert!(!out.contains("glacier"), "{out}");
            assert!(!out.contains("argon2id$"), "{out}");
        }
        assert!(format!("{hash:?}").contains("[REDACTED]"));
    }

    #[test]
    fn owasp_defaults_and_phc_format() {
        assert_eq!(
            Argon2Params::default(),
            Argon2Params {
                m_cost_kib: 19_456,
                t_cost: 2,
                p_cost: 1
            }
        );
        let h = PasswordHasher::new(Argon2Params::default()).unwrap();
        let new = PasswordPolicy::default()
            .check(pw("glacier ferry violin"), &PasswordContext::default())
            .unwrap();
        let hash = h.hash(&new, &mut StdRng::seed_from_u64(3)).unwrap();
        assert!(
            hash.as_phc().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            hash.as_phc()
        );
        assert_eq!(
            h.verify(new.as_password(), Some(&hash)),
            PasswordCheck::Valid {
                needs_rehash: false
            }
        );
    }

    #[test]
    fn verify_and_rehash_on_parameter_change() {
        let old = PasswordHasher::new(CHEAP).unwrap();
        let new_params = Argon2Params { t_cost: 2, ..CHEAP };
        let current = PasswordHasher::new(new_params).unwrap();
        let new = PasswordPolicy::default()
            .check(pw("glacier ferry violin"), &PasswordContext::default())
            .unwrap();
        let mut rng = StdRng::seed_from_u64(9);
        let hash = old.hash(&new, &mut rng).unwrap();
        assert_eq!(
            old.verify(new.as_password(), Some(&hash)),
            PasswordCheck::Valid {
                needs_rehash: false
            }
        );
        assert_eq!(
            current.verify(new.as_password(), Some(&hash)),
            PasswordCheck::Valid { needs_rehash: true }
        );
        assert_eq!(
            current.verify(&pw("glacier ferry violins"), Some(&hash)),
            PasswordCheck::Invalid
        );
        let rehashed = current.hash(&new, &mut rng).unwrap();
        assert!(!current.needs_rehash(&rehashed));
        // Same password, fresh salt: different PHC strings.
        assert_ne!(old.hash(&new, &mut rng).unwrap(), hash);
    }

    #[test]
    fn a_shorter_hash_output_needs_rehash() {
        let h = PasswordHasher::new(CHEAP).unwrap();
        let short = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(CHEAP.m_cost_kib, CHEAP.t_cost, CHEAP.p_cost, Some(16)).unwrap(),
        )
        .hash_password_with_salt(b"glacier ferry violin", b"0123456789abcdef")
        .unwrap()
        .to_string();
        let stored = PasswordHash::from_phc(short).unwrap();
        assert_eq!(
            h.verify(&pw("glacier ferry violin"), Some(&stored)),
            PasswordCheck::Valid { needs_rehash: true }
        );
    }

    #[test]
    fn composed_and_decomposed_accents_verify_alike() {
        let h = PasswordHasher::new(CHEAP).unwrap();
        let composed = "caf\u{e9} cr\u{e8}me br\u{fb}l\u{e9}e";
        let decomposed = "cafe\u{301} cre\u{300}me bru\u{302}le\u{301}e";
        assert_ne!(composed, decomposed);
        let new = PasswordPolicy::default()
            .check(pw(composed), &PasswordContext::default())
            .unwrap();
        let hash = h.hash(&new, &mut StdRng::seed_from_u64(4)).unwrap();
        assert_eq!(
            h.verify(&pw(decomposed), Some(&hash)),
            PasswordCheck::Valid {
                needs_rehash: false
            }
        );
    }

    #[test]
    fn unknown_user_is_invalid_and_uses_the_configured_cost() {
        let h = PasswordHasher::new(CHEAP).unwrap();
        assert_eq!(
            h.verify(&pw("anything at all"), None),
            PasswordCheck::Invalid
        );
        // The dummy hash has the hasher's own parameters, so its cost equals
        // a real verification (SECURITY.md 10).
        assert!(!h.needs_rehash(&h.dummy));
    }

    #[test]
    fn stored_hash_must_be_phc() {
        assert_eq!(
            PasswordHash::from_phc("plaintext"),
            Err(Error::MalformedPasswordHash)
        );
        let h = PasswordHasher::new(CHEAP).unwrap();
        let new = PasswordPolicy::default()
            .check(pw("glacier ferry violin"), &PasswordContext::default())
            .unwrap();
        let hash = h.hash(&new, &mut StdRng::seed_from_u64(1)).unwrap();
        let back = PasswordHash::from_phc(hash.as_phc().to_owned()).unwrap();
        assert_eq!(
            h.verify(new.as_password(), Some(&back)),
            PasswordCheck::Valid {
                needs_rehash: false
            }
        );
    }

    #[test]
    fn invalid_params_name_the_field() {
        let err = PasswordHasher::new(Argon2Params { t_cost: 0, ..CHEAP }).unwrap_err();
        assert_eq!(
            err,
            Error::InvalidField {
                field: "t_cost",
                rule: FieldRule::TooSmall { min: 1 }
            }
        );
        let err = PasswordHasher::new(Argon2Params {
            m_cost_kib: 4,
            p_cost: 1,
            ..CHEAP
        })
        .unwrap_err();
        assert_eq!(
            err,
            Error::InvalidField {
                field: "m_cost_kib",
                rule: FieldRule::TooSmall { min: 8 }
            }
        );
        let err = PasswordHasher::new(Argon2Params { p_cost: 0, ..CHEAP }).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidField {
                    field: "p_cost",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn an_imported_hash_verifies_then_asks_to_be_replaced() {
        let hasher = PasswordHasher::new(CHEAP).unwrap();
        let bcrypt = "$2b$04$0OF4cToNk6iJ5nQEhu2wDO174HczlonJSZec3m1fA7/fIY0//o6A6";
        let (stored, algorithm) = PasswordHash::import(bcrypt).unwrap();
        assert_eq!(algorithm, ImportedAlgorithm::Bcrypt);
        assert!(stored.is_imported());
        assert_eq!(stored.imported_algorithm(), Some(ImportedAlgorithm::Bcrypt));
        assert_eq!(stored.as_phc(), format!("{IMPORTED_HASH_MARKER}{bcrypt}"));
        // What a store reads back is the same hash.
        assert_eq!(PasswordHash::from_phc(stored.as_phc()).unwrap(), stored);
        assert!(hasher.needs_rehash(&stored));
        assert_eq!(
            hasher.verify(&pw("correct horse battery staple"), Some(&stored)),
            PasswordCheck::Valid { needs_rehash: true }
        );
        assert_eq!(
            hasher.verify(&pw("correct horse battery stapler"), Some(&stored)),
            PasswordCheck::Invalid
        );
        let fresh = hasher
            .rehash_imported(
                &pw("correct horse battery staple"),
                &mut StdRng::seed_from_u64(3),
            )
            .unwrap();
        assert!(!fresh.is_imported());
        assert!(fresh.as_phc().starts_with("$argon2id$"));
        assert_eq!(
            hasher.verify(&pw("correct horse battery staple"), Some(&fresh)),
            PasswordCheck::Valid {
                needs_rehash: false
            }
        );
    }

    #[test]
    fn an_imported_hash_of_a_password_not_in_nfkc_verifies_as_typed() {
        let hasher = PasswordHasher::new(CHEAP).unwrap();
        // passlib pbkdf2_sha256 of the password as typed (not normalized):
        // "fi" ligature, full-width "Star", a no-break space, "e" + U+0301.
        let typed = "\u{fb01}nancial \u{ff33}\u{ff54}\u{ff41}\u{ff52}\u{a0}cafe\u{301} orbit";
        let foreign = "$pbkdf2-sha256$1000$KsW49x7DGINwbs05Z6wVAg$VywlVhCHJGIahod/CVVe9RkOf9G0/i5BP1Synu/uF0s";
        let (stored, _) = PasswordHash::import(foreign).unwrap();
        assert_eq!(
            hasher.verify(&pw(typed), Some(&stored)),
            PasswordCheck::Valid { needs_rehash: true }
        );
        // The NFKC spelling is not what that system hashed.
        let nfkc: String = typed.nfkc().collect();
        assert_ne!(nfkc, typed);
        assert_eq!(
            hasher.verify(&pw(&nfkc), Some(&stored)),
            PasswordCheck::Invalid
        );
        // iamkit's own hashes get no such fallback: they hash the NFKC form,
        // so after the re-hash both spellings verify.
        let fresh = hasher
            .rehash_imported(&pw(typed), &mut StdRng::seed_from_u64(4))
            .unwrap();
        assert!(matches!(
            hasher.verify(&pw(typed), Some(&fresh)),
            PasswordCheck::Valid { .. }
        ));
        assert!(matches!(
            hasher.verify(&pw(&nfkc), Some(&fresh)),
            PasswordCheck::Valid { .. }
        ));
    }

    #[test]
    fn a_stored_hash_with_the_marker_and_an_unreadable_rest_is_refused() {
        assert_eq!(
            PasswordHash::from_phc(format!("{IMPORTED_HASH_MARKER}$md5$x")),
            Err(Error::MalformedPasswordHash)
        );
        assert_eq!(
            PasswordHash::import("$6$salt$hash"),
            Err(Error::InvalidField {
                field: "password_hash",
                rule: FieldRule::UnknownFormat
            })
        );
    }
}
