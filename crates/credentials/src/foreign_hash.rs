//! Password hashes made by other systems (Auth0, Keycloak, Firebase,
//! Django, an app's own tables), imported so their users keep their
//! passwords: argon2id and argon2i PHC strings, bcrypt, passlib's scrypt
//! and PBKDF2-SHA256. Each is parsed and its cost bounded at import (a
//! hash with an absurd cost would make every sign-in of its account a
//! denial of service), verified on sign-in, and replaced by an argon2id
//! hash of iamkit's parameters on the first successful one.

use base64ct::{Base64Unpadded, Encoding as _};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::error::{Error, FieldRule, Result};

/// The field every import error of a hash names.
pub(crate) const FIELD: &str = "password_hash";

/// argon2 memory above this (KiB, 256 MiB) is refused at import.
pub const MAX_IMPORTED_ARGON2_M_COST_KIB: u32 = 262_144;
/// argon2 iterations above this are refused at import.
pub const MAX_IMPORTED_ARGON2_T_COST: u32 = 16;
/// argon2 or scrypt parallelism above this is refused at import.
pub const MAX_IMPORTED_PARALLELISM: u32 = 16;
/// bcrypt cost (log2 of the rounds) above this is refused at import.
pub const MAX_IMPORTED_BCRYPT_COST: u32 = 16;
/// scrypt `ln` (log2 of N) above this is refused at import.
pub const MAX_IMPORTED_SCRYPT_LOG_N: u8 = 20;
/// scrypt memory (128 · r · N bytes) above this (1 GiB) is refused.
const MAX_IMPORTED_SCRYPT_MEMORY: u64 = 1 << 30;
/// scrypt block size above this is refused at import.
const MAX_IMPORTED_SCRYPT_R: u32 = 32;
/// PBKDF2 rounds above this are refused at import.
pub const MAX_IMPORTED_PBKDF2_ROUNDS: u32 = 10_000_000;
/// Salts and checksums longer than this (bytes) are refused.
const MAX_PART_BYTES: usize = 256;
/// Checksums shorter than this (bytes) are refused: a truncated tag is
/// guessable online.
const MIN_CHECKSUM_BYTES: usize = 16;

/// The algorithm of an imported password hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ImportedAlgorithm {
    /// argon2id PHC (`$argon2id$v=19$m=..,t=..,p=..$salt$hash`).
    Argon2id,
    /// argon2i PHC (`$argon2i$v=19$...`).
    Argon2i,
    /// bcrypt (`$2a$`, `$2b$` or `$2y$`).
    Bcrypt,
    /// passlib scrypt (`$scrypt$ln=..,r=..,p=..$salt$checksum`).
    Scrypt,
    /// passlib PBKDF2-HMAC-SHA256 (`$pbkdf2-sha256$rounds$salt$checksum`).
    Pbkdf2Sha256,
}

impl ImportedAlgorithm {
    /// A stable name (`argon2id`, `argon2i`, `bcrypt`, `scrypt`,
    /// `pbkdf2_sha256`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Argon2id => "argon2id",
            Self::Argon2i => "argon2i",
            Self::Bcrypt => "bcrypt",
            Self::Scrypt => "scrypt",
            Self::Pbkdf2Sha256 => "pbkdf2_sha256",
        }
    }
}

/// A parsed foreign hash: what verifying needs.
pub(crate) enum ForeignHash<'a> {
    /// argon2id or argon2i, verified by the `argon2` crate with the hash's
    /// own algorithm and parameters.
    Argon2(ImportedAlgorithm, Box<argon2::PasswordHash>),
    /// bcrypt, verified by the `bcrypt` crate from the string.
    Bcrypt(&'a str),
    /// scrypt with its parameters, salt and checksum.
    Scrypt {
        params: scrypt::Params,
        salt: Vec<u8>,
        checksum: Vec<u8>,
    },
    /// PBKDF2-HMAC-SHA256 with its rounds, salt and checksum.
    Pbkdf2 {
        rounds: u32,
        salt: Vec<u8>,
        checksum: Vec<u8>,
    },
}

fn refuse<T>(rule: FieldRule) -> Result<T> {
    Err(Error::InvalidField { field: FIELD, rule })
}

fn malformed<T>() -> Result<T> {
    refuse(FieldRule::Malformed)
}

fn at_most(value: u64, max: u64) -> Result<()> {
    if value > max {
        return refuse(FieldRule::TooLarge { max });
    }
    Ok(())
}

/// passlib's "adapted base64": the standard alphabet with `.` for `+`,
/// no padding.
fn ab64(text: &str) -> Result<Vec<u8>> {
    let standard = text.replace('.', "+");
    let bytes = Base64Unpadded::decode_vec(&standard).or_else(|_| malformed())?;
    if bytes.is_empty() || bytes.len() > MAX_PART_BYTES {
        return malformed();
    }
    Ok(bytes)
}

fn checksum(text: &str) -> Result<Vec<u8>> {
    let bytes = ab64(text)?;
    if bytes.len() < MIN_CHECKSUM_BYTES {
        return malformed();
    }
    Ok(bytes)
}

impl<'a> ForeignHash<'a> {
    /// Parses `text` and checks its cost bounds; the error names the field
    /// `password_hash` and the rule ([`FieldRule::UnknownFormat`],
    /// [`FieldRule::Malformed`], [`FieldRule::TooLarge`]).
    pub(crate) fn parse(text: &'a str) -> Result<Self> {
        if text.starts_with("$argon2id$") || text.starts_with("$argon2i$") {
            return Self::argon2(text);
        }
        if ["$2a$", "$2b$", "$2y$"].iter().any(|p| text.starts_with(p)) {
            let parts: bcrypt::HashParts = text.parse().or_else(|_| malformed())?;
            at_most(
                u64::from(parts.get_cost()),
                u64::from(MAX_IMPORTED_BCRYPT_COST),
            )?;
            return Ok(Self::Bcrypt(text));
        }
        if let Some(rest) = text.strip_prefix("$scrypt$") {
            return Self::scrypt(rest);
        }
        if let Some(rest) = text.strip_prefix("$pbkdf2-sha256$") {
            let mut fields = rest.split('$');
            let (Some(rounds), Some(salt), Some(sum), None) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                return malformed();
            };
            let rounds: u32 = rounds.parse().or_else(|_| malformed())?;
            if rounds == 0 {
                return malformed();
            }
            at_most(u64::from(rounds), u64::from(MAX_IMPORTED_PBKDF2_ROUNDS))?;
            return Ok(Self::Pbkdf2 {
                rounds,
                salt: ab64(salt)?,
                checksum: checksum(sum)?,
            });
        }
        refuse(FieldRule::UnknownFormat)
    }

    fn argon2(text: &'a str) -> Result<Self> {
        let parsed = argon2::PasswordHash::new(text).or_else(|_| malformed())?;
        let algorithm = match parsed.algorithm.as_str() {
            "argon2id" => ImportedAlgorithm::Argon2id,
            "argon2i" => ImportedAlgorithm::Argon2i,
            _ => return refuse(FieldRule::UnknownFormat),
        };
        let params = argon2::Params::try_from(&parsed).or_else(|_| malformed())?;
        if parsed.salt.is_none()
            || parsed
                .hash
                .as_ref()
                .is_none_or(|h| h.len() < MIN_CHECKSUM_BYTES)
        {
            return malformed();
        }
        at_most(
            u64::from(params.m_cost()),
            u64::from(MAX_IMPORTED_ARGON2_M_COST_KIB),
        )?;
        at_most(
            u64::from(params.t_cost()),
            u64::from(MAX_IMPORTED_ARGON2_T_COST),
        )?;
        at_most(
            u64::from(params.p_cost()),
            u64::from(MAX_IMPORTED_PARALLELISM),
        )?;
        Ok(Self::Argon2(algorithm, Box::new(parsed)))
    }

    fn scrypt(rest: &str) -> Result<Self> {
        let mut fields = rest.split('$');
        let (Some(params), Some(salt), Some(sum), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return malformed();
        };
        let (mut log_n, mut r, mut p) = (None, None, None);
        for pair in params.split(',') {
            match pair.split_once('=') {
                Some(("ln", v)) if log_n.is_none() => log_n = v.parse::<u8>().ok(),
                Some(("r", v)) if r.is_none() => r = v.parse::<u32>().ok(),
                Some(("p", v)) if p.is_none() => p = v.parse::<u32>().ok(),
                _ => return malformed(),
            }
        }
        let (Some(log_n), Some(r), Some(p)) = (log_n, r, p) else {
            return malformed();
        };
        if log_n == 0 || r == 0 || p == 0 {
            return malformed();
        }
        at_most(u64::from(log_n), u64::from(MAX_IMPORTED_SCRYPT_LOG_N))?;
        at_most(u64::from(r), u64::from(MAX_IMPORTED_SCRYPT_R))?;
        at_most(u64::from(p), u64::from(MAX_IMPORTED_PARALLELISM))?;
        let memory = 128u64
            .saturating_mul(u64::from(r))
            .saturating_mul(1u64 << log_n);
        if memory > MAX_IMPORTED_SCRYPT_MEMORY {
            return refuse(FieldRule::TooLarge {
                max: MAX_IMPORTED_SCRYPT_MEMORY,
            });
        }
        let params = scrypt::Params::new(log_n, r, p).or_else(|_| malformed())?;
        Ok(Self::Scrypt {
            params,
            salt: ab64(salt)?,
            checksum: checksum(sum)?,
        })
    }

    /// The algorithm.
    pub(crate) fn algorithm(&self) -> ImportedAlgorithm {
        match self {
            Self::Argon2(algorithm, _) => *algorithm,
            Self::Bcrypt(_) => ImportedAlgorithm::Bcrypt,
            Self::Scrypt { .. } => ImportedAlgorithm::Scrypt,
            Self::Pbkdf2 { .. } => ImportedAlgorithm::Pbkdf2Sha256,
        }
    }

    /// Whether `input` (the exact bytes to hash) matches, in constant time
    /// where the comparison is ours.
    pub(crate) fn verify(&self, input: &[u8]) -> bool {
        use argon2::PasswordVerifier as _;
        match self {
            // `Argon2::default()` verifies with the algorithm, version and
            // parameters the hash names.
            Self::Argon2(_, parsed) => argon2::Argon2::default()
                .verify_password(input, &**parsed)
                .is_ok(),
            // The `bcrypt` crate compares with `subtle`. Like every bcrypt,
            // it reads at most 72 bytes of the password.
            Self::Bcrypt(text) => bcrypt::verify(input, text).unwrap_or(false),
            Self::Scrypt {
                params,
                salt,
                checksum,
            } => {
                let mut out = Zeroizing::new(vec![0u8; checksum.len()]);
                scrypt::scrypt(input, salt, params, &mut out).is_ok()
                    && bool::from(out.ct_eq(checksum))
            }
            Self::Pbkdf2 {
                rounds,
                salt,
                checksum,
            } => {
                let mut out = Zeroizing::new(vec![0u8; checksum.len()]);
                pbkdf2::pbkdf2_hmac::<Sha256>(input, salt, *rounds, &mut out);
                bool::from(out.ct_eq(checksum))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made with Python (argon2-cffi, bcrypt, passlib) for the password
    // "correct horse battery staple"; see tests/fixtures/import.
    const PASSWORD: &[u8] = b"correct horse battery staple";

    fn rule(text: &str) -> FieldRule {
        match ForeignHash::parse(text) {
            Err(Error::InvalidField { field, rule }) => {
                assert_eq!(field, FIELD);
                rule
            }
            Err(other) => panic!("unexpected error {other:?}"),
            Ok(_) => panic!("{text} was accepted"),
        }
    }

    fn verifies(text: &str, password: &[u8]) -> bool {
        ForeignHash::parse(text).unwrap().verify(password)
    }

    #[test]
    fn unknown_formats_are_refused_as_such() {
        for text in [
            "",
            "plain text",
            "$1$saltsalt$hash",
            "$6$rounds=5000$salt$hash",
            "$argon2d$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$2x$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui",
            "pbkdf2_sha256$260000$salt$hash",
            "$pbkdf2-sha512$1000$c2FsdA$aGFzaA",
        ] {
            assert_eq!(rule(text), FieldRule::UnknownFormat, "{text}");
        }
    }

    #[test]
    fn malformed_hashes_are_refused() {
        for text in [
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ",
            "$argon2id$v=19$m=lots,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$2b$05$tooshort",
            "$scrypt$ln=4,r=8$c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$scrypt$ln=4,r=8,p=1$c2FsdA",
            "$scrypt$ln=4,r=8,p=1$!!$aGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$pbkdf2-sha256$many$c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$pbkdf2-sha256$0$c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$pbkdf2-sha256$1000$c2FsdA$aGFzaA",
            "$pbkdf2-sha256$1000$c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2g$extra",
        ] {
            assert_eq!(rule(text), FieldRule::Malformed, "{text}");
        }
    }

    #[test]
    fn excessive_costs_are_refused() {
        let sum = "aGFzaGhhc2hoYXNoaGFzaGhhc2g";
        assert_eq!(
            rule("$2b$17$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui"),
            FieldRule::TooLarge { max: 16 }
        );
        assert_eq!(
            rule(&format!("$scrypt$ln=21,r=8,p=1$c2FsdA${sum}")),
            FieldRule::TooLarge { max: 20 }
        );
        assert_eq!(
            rule(&format!("$scrypt$ln=20,r=16,p=1$c2FsdA${sum}")),
            FieldRule::TooLarge { max: 1 << 30 }
        );
        assert_eq!(
            rule(&format!("$pbkdf2-sha256$10000001$c2FsdA${sum}")),
            FieldRule::TooLarge { max: 10_000_000 }
        );
        assert_eq!(
            rule("$argon2id$v=19$m=1048576,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"),
            FieldRule::TooLarge { max: 262_144 }
        );
        assert_eq!(
            rule("$argon2id$v=19$m=64,t=17,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"),
            FieldRule::TooLarge { max: 16 }
        );
    }

    #[test]
    fn each_format_verifies_its_password_and_refuses_another() {
        for (algorithm, text) in FIXTURES {
            let parsed = ForeignHash::parse(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(parsed.algorithm(), *algorithm, "{text}");
            assert!(verifies(text, PASSWORD), "{text}");
            assert!(!verifies(text, b"correct horse battery stapler"), "{text}");
        }
    }

    /// The same password under each format (tests/fixtures/import/hashes.json).
    const FIXTURES: &[(ImportedAlgorithm, &str)] = &[
        (
            ImportedAlgorithm::Argon2id,
            "$argon2id$v=19$m=64,t=1,p=1$/IO0S9xTwSlk8IfuFRZIEw$m1xEetclo88iZY52IiXpqDcsbYxLsDMFTA4oi4Fh4Zs",
        ),
        (
            ImportedAlgorithm::Argon2i,
            "$argon2i$v=19$m=64,t=1,p=1$NIpcYZhjW/7gsKaca2pntw$af05llI4Pl8ax6P8A5PtyAufqIKhQhVBVdlN4IPguLk",
        ),
        (
            ImportedAlgorithm::Bcrypt,
            "$2b$04$0OF4cToNk6iJ5nQEhu2wDO174HczlonJSZec3m1fA7/fIY0//o6A6",
        ),
        (
            ImportedAlgorithm::Scrypt,
            "$scrypt$ln=4,r=8,p=1$cK5VSgmB8P5/r3WuFcJ4rw$L6T/DrxqUJpFz+5kbCXOsjFsvYRt9jdXXkQ3xYGk1ps",
        ),
        (
            ImportedAlgorithm::Pbkdf2Sha256,
            "$pbkdf2-sha256$1000$v1cqpRSi1PqfU.rd25vzfg$ZncElFfoG0SkCavdQDgMmgkZ2ejS.iXk6j2DZSU4u5s",
        ),
    ];
}
