//! Wrappers for secret material: redacted `Debug`, no `Serialize`,
//! zeroized on drop, compared in constant time (STYLE.md, Secrets).

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

const REDACTED: &str = "[REDACTED]";

/// A secret text (password, recovery code, otpauth URI, presented token).
#[derive(Clone)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// Takes ownership of `value`; its buffer is wiped when this is dropped.
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The secret text. Callers must not log or persist it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self::new(value.to_owned())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl ConstantTimeEq for SecretString {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.as_bytes().ct_eq(other.0.as_bytes())
    }
}

impl PartialEq for SecretString {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for SecretString {}

/// Secret bytes (a TOTP key, a sealing key).
#[derive(Clone)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Takes ownership of `value`; wiped on drop.
    pub fn new(value: Vec<u8>) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The secret bytes. Callers must not log or persist them in the clear.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl ConstantTimeEq for SecretBytes {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.as_slice().ct_eq(other.0.as_slice())
    }
}

impl PartialEq for SecretBytes {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for SecretBytes {}

/// The SHA-256 digest of a high-entropy secret: what the store keeps instead
/// of the secret (SECURITY.md 2). A slow hash buys nothing for 256-bit
/// random secrets (DESIGN.md, Secrets).
///
/// Not secret by itself, but redacted anyway so a store dump in a log does
/// not hand out material for offline guessing of lower-entropy codes.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretDigest([u8; 32]);

impl SecretDigest {
    /// SHA-256 of `secret`.
    pub fn of(secret: &[u8]) -> Self {
        Self(Sha256::digest(secret).into())
    }

    /// Wraps a digest read back from storage.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The digest, for storage.
    pub const fn to_bytes(&self) -> [u8; 32] {
        self.0
    }
}

impl fmt::Debug for SecretDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl ConstantTimeEq for SecretDigest {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.ct_eq(&other.0)
    }
}

/// Constant time (SECURITY.md 7).
impl PartialEq for SecretDigest {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for SecretDigest {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = SecretString::from("hunter2-hunter2");
        let b = SecretBytes::new(vec![1, 2, 3]);
        let d = SecretDigest::of(b"token");
        for out in [format!("{s:?}"), format!("{b:?}"), format!("{d:?}")] {
            assert_eq!(out, "[REDACTED]");
        }
        assert_eq!(format!("{:?}", Some(&s)), "Some([REDACTED])");
    }

    #[test]
    fn equality_compares_content() {
        assert_eq!(SecretString::from("abc"), SecretString::from("abc"));
        assert_ne!(SecretString::from("abc"), SecretString::from("abd"));
        assert_ne!(SecretString::from("abc"), SecretString::from("abcd"));
        assert_eq!(SecretDigest::of(b"x"), SecretDigest::of(b"x"));
        assert_ne!(SecretDigest::of(b"x"), SecretDigest::of(b"y"));
        assert_ne!(SecretBytes::new(vec![1]), SecretBytes::new(vec![2]));
    }

    #[test]
    fn digest_is_sha256() {
        // FIPS 180-2 example: SHA-256("abc").
        let d = SecretDigest::of(b"abc").to_bytes();
        assert_eq!(d[..4], [0xba, 0x78, 0x16, 0xbf]);
        assert_eq!(d[28..], [0xf2, 0x00, 0x15, 0xad]);
    }
}
