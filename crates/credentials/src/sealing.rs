//! Secrets sealed at rest with the app's keys (TOTP secrets, outbox link
//! secrets): a key ring that seals with its current key and opens with any
//! key it knows, so the app can rotate its key without locking anyone out.
//!
//! A sealed value names the key that sealed it:
//!
//! ```text
//! version 1:  "iks" 0x01 | key id (u32, big-endian) | nonce (24) | ciphertext and tag
//!             associated data: the 8-byte header, then the caller's context
//! legacy:     nonce (24) | ciphertext and tag
//!             associated data: the caller's context
//! ```
//!
//! Legacy values were written before key ids existed, by the key the app
//! passed to [`XChaChaSealer::new`]; they open with the ring's key
//! [`SealingKeyId::FIRST`].

use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::CryptoRng;

use crate::error::{Error, FieldRule, Result};
use crate::secret::SecretBytes;

/// Names a sealing key of the app's ring. Not secret: it is stored in the
/// clear at the start of every value the key seals. The app chooses it
/// (e.g. 1, 2, 3 as it rotates) and keeps it with the key in its secret
/// store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SealingKeyId(u32);

impl SealingKeyId {
    /// The id of the key given to [`XChaChaSealer::new`]. It also opens the
    /// values sealed before key ids existed (they name no key).
    pub const FIRST: Self = Self(0);

    /// The key id `id`.
    pub const fn new(id: u32) -> Self {
        Self(id)
    }

    /// The number.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for SealingKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Marks a value of version 1: three letters and the version byte.
const MAGIC_V1: [u8; 4] = *b"iks\x01";

/// Length of the header naming the key: the magic and the key id.
pub const SEALED_HEADER_LEN: usize = 8;

const NONCE_LEN: usize = 24;

/// A secret encrypted by a [`SecretSealer`]; what the store keeps.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret(Vec<u8>);

impl SealedSecret {
    /// Wraps bytes read back from storage.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The bytes to store.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The key that sealed it, as named by its header; `None` for a value
    /// sealed before key ids existed (no header).
    ///
    /// Exactly the values that start with [`header`](Self::header)`(k)`
    /// answer `Some(k)`: an adapter that filters in SQL compares the first
    /// [`SEALED_HEADER_LEN`] bytes with it.
    pub fn key_id(&self) -> Option<SealingKeyId> {
        let (magic, rest) = self.0.split_first_chunk::<4>()?;
        let (id, _) = rest.split_first_chunk::<4>()?;
        (*magic == MAGIC_V1).then(|| SealingKeyId(u32::from_be_bytes(*id)))
    }

    /// The first [`SEALED_HEADER_LEN`] bytes of every value sealed under
    /// `key`.
    pub fn header(key: SealingKeyId) -> [u8; SEALED_HEADER_LEN] {
        let mut header = [0u8; SEALED_HEADER_LEN];
        let (magic, id) = header.split_at_mut(MAGIC_V1.len());
        magic.copy_from_slice(&MAGIC_V1);
        id.copy_from_slice(&key.0.to_be_bytes());
        header
    }

    /// Whether it is sealed under `key` (its header names `key`).
    pub fn is_under(&self, key: SealingKeyId) -> bool {
        self.0.starts_with(&Self::header(key))
    }
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.key_id() {
            Some(key) => write!(f, "SealedSecret(key {key}, {} bytes)", self.0.len()),
            None => write!(f, "SealedSecret({} bytes)", self.0.len()),
        }
    }
}

/// Encrypts secrets at rest with keys the app supplies, so a store dump
/// does not yield second factors or links (SECURITY.md 2).
pub trait SecretSealer: Send + Sync {
    /// The key [`seal`](Self::seal) uses.
    fn current_key(&self) -> SealingKeyId;

    /// Encrypts `plaintext` under the [current key](Self::current_key),
    /// binding it to `context` (authenticated, not encrypted): opening with
    /// another context MUST fail. The value MUST name its key:
    /// [`SealedSecret::key_id`] is `Some(self.current_key())`.
    fn seal(
        &self,
        plaintext: &[u8],
        context: &[u8],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<SealedSecret>;

    /// Decrypts what [`seal`](Self::seal) produced with the same context,
    /// under any key the sealer knows; [`Error::Sealing`] if the key is
    /// unknown or the context or data differ.
    fn open(&self, sealed: &SealedSecret, context: &[u8]) -> Result<SecretBytes>;

    /// Opens `sealed` and seals its plaintext again under the current key,
    /// for the same `context` (moving a value off a retired key).
    fn reseal(
        &self,
        sealed: &SealedSecret,
        context: &[u8],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<SealedSecret> {
        let plaintext = self.open(sealed, context)?;
        self.seal(plaintext.expose(), context, rng)
    }
}

/// XChaCha20-Poly1305 with a ring of 256-bit app keys: seals with the
/// current key, opens with any key of the ring. The 192-bit random nonce
/// makes collisions negligible without a counter.
///
/// [`XChaChaSealer::new`] is a ring of one key, [`SealingKeyId::FIRST`].
/// To rotate, build a ring whose current key is the new one and which
/// still holds the old one, then run `Iam::reseal` to completion before
/// dropping the old key (the iamkit README has the procedure):
///
/// ```
/// use iamkit_credentials::{SealingKeyId, SecretBytes, XChaChaSealer};
///
/// # fn main() -> iamkit_credentials::Result<()> {
/// # let (old_key, new_key) = (SecretBytes::new(vec![1; 32]), SecretBytes::new(vec![2; 32]));
/// let before = XChaChaSealer::new(&old_key)?;
/// let during = XChaChaSealer::ring(SealingKeyId::new(1), &new_key)?
///     .with_old_key(SealingKeyId::FIRST, &old_key)?;
/// let after = XChaChaSealer::ring(SealingKeyId::new(1), &new_key)?;
/// assert_eq!(during.current_key(), SealingKeyId::new(1));
/// assert_eq!(format!("{during:?}"), "XChaChaSealer { current: 1, keys: [1, 0], material: [REDACTED] }");
/// # let _ = (before, after);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct XChaChaSealer {
    current: SealingKeyId,
    /// The ring, current key first; ids are unique.
    keys: Vec<(SealingKeyId, XChaCha20Poly1305)>,
}

/// Each cipher of the ring wipes its key on drop (chacha20poly1305's
/// `zeroize`).
impl zeroize::ZeroizeOnDrop for XChaChaSealer {}

impl XChaChaSealer {
    /// A sealer with `key` (32 bytes from the app's secret store) as its
    /// only key, [`SealingKeyId::FIRST`].
    pub fn new(key: &SecretBytes) -> Result<Self> {
        Self::ring(SealingKeyId::FIRST, key)
    }

    /// A ring whose current key is `key`, named `id`; add the keys it must
    /// still open with [`with_old_key`](Self::with_old_key).
    pub fn ring(id: SealingKeyId, key: &SecretBytes) -> Result<Self> {
        Ok(Self {
            current: id,
            keys: vec![(id, cipher(key)?)],
        })
    }

    /// Adds a key the ring opens with but no longer seals with. Fails with
    /// [`Error::DuplicateSealingKey`] when the ring already has `id`.
    pub fn with_old_key(mut self, id: SealingKeyId, key: &SecretBytes) -> Result<Self> {
        if self.keys.iter().any(|(known, _)| *known == id) {
            return Err(Error::DuplicateSealingKey { id });
        }
        self.keys.push((id, cipher(key)?));
        Ok(self)
    }

    /// The key [`seal`](SecretSealer::seal) uses.
    pub fn current_key(&self) -> SealingKeyId {
        self.current
    }

    /// The ids of the ring's keys, the current one first.
    pub fn key_ids(&self) -> impl Iterator<Item = SealingKeyId> + '_ {
        self.keys.iter().map(|(id, _)| *id)
    }

    fn cipher_of(&self, id: SealingKeyId) -> Option<&XChaCha20Poly1305> {
        self.keys
            .iter()
            .find(|(known, _)| *known == id)
            .map(|(_, cipher)| cipher)
    }

    /// Opens `nonce | ciphertext` with `cipher` and `aad`.
    fn decrypt(cipher: &XChaCha20Poly1305, body: &[u8], aad: &[u8]) -> Option<SecretBytes> {
        let (nonce, ct) = body.split_at_checked(NONCE_LEN)?;
        let nonce = XNonce::try_from(nonce).ok()?;
        cipher
            .decrypt(&nonce, Payload { msg: ct, aad })
            .ok()
            .map(SecretBytes::new)
    }
}

fn cipher(key: &SecretBytes) -> Result<XChaCha20Poly1305> {
    let len = key.expose().len();
    let key: [u8; 32] = key.expose().try_into().map_err(|_| Error::InvalidField {
        field: "sealing_key",
        rule: if len < 32 {
            FieldRule::TooSmall { min: 32 }
        } else {
            FieldRule::TooLarge { max: 32 }
        },
    })?;
    let key = zeroize::Zeroizing::new(key);
    Ok(XChaCha20Poly1305::new(&Key::from(*key)))
}

/// `header | context`: the header has a fixed length, so no two
/// (key, context) pairs give the same associated data.
fn associated_data(header: &[u8; SEALED_HEADER_LEN], context: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(SEALED_HEADER_LEN + context.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(context);
    aad
}

/// The key ids are not secret; the keys are.
impl fmt::Debug for XChaChaSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("XChaChaSealer { current: ")?;
        fmt::Display::fmt(&self.current, f)?;
        f.write_str(", keys: [")?;
        for (i, id) in self.key_ids().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            fmt::Display::fmt(&id, f)?;
        }
        f.write_str("], material: [REDACTED] }")
    }
}

impl SecretSealer for XChaChaSealer {
    fn current_key(&self) -> SealingKeyId {
        self.current
    }

    fn seal(
        &self,
        plaintext: &[u8],
        context: &[u8],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<SealedSecret> {
        let cipher = self.cipher_of(self.current).ok_or(Error::Sealing)?;
        let header = SealedSecret::header(self.current);
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let ct = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &associated_data(&header, context),
                },
            )
            .map_err(|_| Error::Sealing)?;
        let mut out = Vec::with_capacity(SEALED_HEADER_LEN + NONCE_LEN + ct.len());
        out.extend_from_slice(&header);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(SealedSecret(out))
    }

    fn open(&self, sealed: &SealedSecret, context: &[u8]) -> Result<SecretBytes> {
        if let Some(id) = sealed.key_id() {
            let header = SealedSecret::header(id);
            let opened = self.cipher_of(id).and_then(|cipher| {
                let body = sealed.0.get(SEALED_HEADER_LEN..)?;
                Self::decrypt(cipher, body, &associated_data(&header, context))
            });
            if let Some(plaintext) = opened {
                return Ok(plaintext);
            }
        }
        // A legacy value is `nonce | ciphertext` under the first key. Its
        // random nonce starts like a header once in 2^32 values, so a value
        // that a header names but does not open is also tried this way.
        self.cipher_of(SealingKeyId::FIRST)
            .and_then(|cipher| Self::decrypt(cipher, &sealed.0, context))
            .ok_or(Error::Sealing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn key(byte: u8) -> SecretBytes {
        SecretBytes::new(vec![byte; 32])
    }

    /// What the sealer wrote before key ids existed (iamkit 0.1.0 before
    /// issue 16 item 9), byte for byte: `nonce | XChaCha20-Poly1305(key,
    /// nonce, plaintext, aad = context)`.
    fn legacy_seal(
        key: &SecretBytes,
        plaintext: &[u8],
        context: &[u8],
        nonce: [u8; 24],
    ) -> SealedSecret {
        let cipher =
            XChaCha20Poly1305::new(&Key::from(<[u8; 32]>::try_from(key.expose()).unwrap()));
        let ct = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .unwrap();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        SealedSecret::from_bytes(out)
    }

    #[test]
    fn values_name_their_key_and_open_with_any_key_of_the_ring() {
        let mut rng = StdRng::seed_from_u64(1);
        let a = XChaChaSealer::new(&key(1)).unwrap();
        let sealed_a = a.seal(b"secret", b"ctx", &mut rng).unwrap();
        assert_eq!(sealed_a.key_id(), Some(SealingKeyId::FIRST));
        assert!(sealed_a.is_under(SealingKeyId::FIRST));
        assert_eq!(
            &sealed_a.as_bytes()[..SEALED_HEADER_LEN],
            &SealedSecret::header(SealingKeyId::FIRST)
        );

        let b_id = SealingKeyId::new(7);
        let ring = XChaChaSealer::ring(b_id, &key(2))
            .unwrap()
            .with_old_key(SealingKeyId::FIRST, &key(1))
            .unwrap();
        assert_eq!(ring.current_key(), b_id);
        assert_eq!(
            ring.key_ids().collect::<Vec<_>>(),
            vec![b_id, SealingKeyId::FIRST]
        );
        assert_eq!(ring.open(&sealed_a, b"ctx").unwrap().expose(), b"secret");
        let sealed_b = ring.seal(b"secret", b"ctx", &mut rng).unwrap();
        assert_eq!(sealed_b.key_id(), Some(b_id));
        assert!(!sealed_b.is_under(SealingKeyId::FIRST));

        let only_b = XChaChaSealer::ring(b_id, &key(2)).unwrap();
        assert_eq!(only_b.open(&sealed_b, b"ctx").unwrap().expose(), b"secret");
        assert_eq!(only_b.open(&sealed_a, b"ctx"), Err(Error::Sealing));
        assert_eq!(a.open(&sealed_b, b"ctx"), Err(Error::Sealing));

        let moved = ring.reseal(&sealed_a, b"ctx", &mut rng).unwrap();
        assert_eq!(moved.key_id(), Some(b_id));
        assert_eq!(only_b.open(&moved, b"ctx").unwrap().expose(), b"secret");
        assert_eq!(
            ring.reseal(&sealed_a, b"other", &mut rng),
            Err(Error::Sealing),
            "resealing keeps the context binding"
        );
    }

    #[test]
    fn the_key_id_is_authenticated() {
        let mut rng = StdRng::seed_from_u64(2);
        // Two ids for one key material: only the header's id opens it.
        let ring = XChaChaSealer::ring(SealingKeyId::new(1), &key(3))
            .unwrap()
            .with_old_key(SealingKeyId::new(2), &key(3))
            .unwrap();
        let sealed = ring.seal(b"secret", b"ctx", &mut rng).unwrap();
        let mut relabelled = sealed.as_bytes().to_vec();
        relabelled[..SEALED_HEADER_LEN]
            .copy_from_slice(&SealedSecret::header(SealingKeyId::new(2)));
        let relabelled = SealedSecret::from_bytes(relabelled);
        assert_eq!(relabelled.key_id(), Some(SealingKeyId::new(2)));
        assert_eq!(ring.open(&relabelled, b"ctx"), Err(Error::Sealing));
        assert_eq!(ring.open(&sealed, b"ctx").unwrap().expose(), b"secret");
        assert_eq!(ring.open(&sealed, b"ctx2"), Err(Error::Sealing));
        let mut tampered = sealed.as_bytes().to_vec();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(
            ring.open(&SealedSecret::from_bytes(tampered), b"ctx"),
            Err(Error::Sealing)
        );
        assert_eq!(
            ring.open(&SealedSecret::from_bytes(b"iks\x01".to_vec()), b"ctx"),
            Err(Error::Sealing),
            "truncated"
        );
    }

    #[test]
    fn values_sealed_before_key_ids_open_with_the_first_key() {
        let nonce = [9u8; 24];
        let legacy = legacy_seal(&key(1), b"secret", b"ctx", nonce);
        assert_eq!(legacy.key_id(), None);
        assert!(!legacy.is_under(SealingKeyId::FIRST));
        let first = XChaChaSealer::new(&key(1)).unwrap();
        assert_eq!(first.open(&legacy, b"ctx").unwrap().expose(), b"secret");
        assert_eq!(first.open(&legacy, b"other"), Err(Error::Sealing));
        let ring = XChaChaSealer::ring(SealingKeyId::new(5), &key(2))
            .unwrap()
            .with_old_key(SealingKeyId::FIRST, &key(1))
            .unwrap();
        assert_eq!(ring.open(&legacy, b"ctx").unwrap().expose(), b"secret");
        let moved = ring
            .reseal(&legacy, b"ctx", &mut StdRng::seed_from_u64(3))
            .unwrap();
        assert_eq!(moved.key_id(), Some(SealingKeyId::new(5)));
        // Another first key, or a ring without one, does not open it.
        let other_first = XChaChaSealer::new(&key(2)).unwrap();
        assert_eq!(other_first.open(&legacy, b"ctx"), Err(Error::Sealing));
        let no_first = XChaChaSealer::ring(SealingKeyId::new(5), &key(1)).unwrap();
        assert_eq!(no_first.open(&legacy, b"ctx"), Err(Error::Sealing));

        // A legacy nonce that happens to start like a header still opens.
        let mut nonce = [4u8; 24];
        nonce[..SEALED_HEADER_LEN].copy_from_slice(&SealedSecret::header(SealingKeyId::new(5)));
        let lookalike = legacy_seal(&key(1), b"secret", b"ctx", nonce);
        assert_eq!(lookalike.key_id(), Some(SealingKeyId::new(5)));
        assert_eq!(ring.open(&lookalike, b"ctx").unwrap().expose(), b"secret");
    }

    #[test]
    fn the_formats_are_pinned() {
        // Key 0x01 x 32, a zero nonce, plaintext "pinned", context "ctx";
        // version 1 under key id 0x01020304. Both vectors were checked
        // against an independent XChaCha20-Poly1305 (HChaCha20 and
        // ChaCha20-Poly1305 of Python's `cryptography`). A change of layout
        // or associated data would make stored values unreadable.
        let hex = |s: &SealedSecret| -> String {
            s.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
        };
        let unhex = |h: &str| {
            SealedSecret::from_bytes(
                (0..h.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
                    .collect(),
            )
        };
        let id = SealingKeyId::new(0x0102_0304);
        let ring = XChaChaSealer::ring(id, &key(1)).unwrap();
        assert_eq!(
            hex(&ring.seal(b"pinned", b"ctx", &mut ZeroRng).unwrap()),
            V1_VECTOR
        );
        assert_eq!(
            hex(&legacy_seal(&key(1), b"pinned", b"ctx", [0; 24])),
            LEGACY_VECTOR
        );

        let first = XChaChaSealer::new(&key(1)).unwrap();
        let legacy = unhex(LEGACY_VECTOR);
        assert_eq!(first.open(&legacy, b"ctx").unwrap().expose(), b"pinned");
        let v1 = unhex(V1_VECTOR);
        assert_eq!(v1.key_id(), Some(id));
        assert_eq!(ring.open(&v1, b"ctx").unwrap().expose(), b"pinned");
    }

    const V1_VECTOR: &str = "696b730101020304\
        000000000000000000000000000000000000000000000000\
        6538f9bb25050a087d594fb9ae9b88cca6e472916fd0";
    const LEGACY_VECTOR: &str = "000000000000000000000000000000000000000000000000\
        6538f9bb25057ecdb2b9bb62ad8108ae9407f0d5110c";

    /// Zero bytes: a fixed nonce for the pinned vector.
    struct ZeroRng;

    impl rand::TryRng for ZeroRng {
        type Error = std::convert::Infallible;
        fn try_next_u32(&mut self) -> std::result::Result<u32, Self::Error> {
            Ok(0)
        }
        fn try_next_u64(&mut self) -> std::result::Result<u64, Self::Error> {
            Ok(0)
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> std::result::Result<(), Self::Error> {
            dst.fill(0);
            Ok(())
        }
    }

    impl rand::TryCryptoRng for ZeroRng {}

    #[test]
    fn rings_refuse_duplicate_ids_and_bad_keys() {
        let ring = XChaChaSealer::new(&key(1)).unwrap();
        assert_eq!(
            ring.with_old_key(SealingKeyId::FIRST, &key(2)).map(|_| ()),
            Err(Error::DuplicateSealingKey {
                id: SealingKeyId::FIRST
            })
        );
        assert_eq!(
            XChaChaSealer::ring(SealingKeyId::new(1), &SecretBytes::new(vec![1; 31])).map(|_| ()),
            Err(Error::InvalidField {
                field: "sealing_key",
                rule: FieldRule::TooSmall { min: 32 }
            })
        );
        assert_eq!(
            XChaChaSealer::new(&key(1))
                .unwrap()
                .with_old_key(SealingKeyId::new(1), &SecretBytes::new(vec![1; 33]))
                .map(|_| ()),
            Err(Error::InvalidField {
                field: "sealing_key",
                rule: FieldRule::TooLarge { max: 32 }
            })
        );
    }

    #[test]
    fn debug_shows_key_ids_and_no_key_material() {
        let ring = XChaChaSealer::ring(SealingKeyId::new(2), &key(0xab))
            .unwrap()
            .with_old_key(SealingKeyId::FIRST, &key(0xcd))
            .unwrap();
        assert_eq!(
            format!("{ring:?}"),
            "XChaChaSealer { current: 2, keys: [2, 0], material: [REDACTED] }"
        );
        assert_eq!(
            format!("{:?}", XChaChaSealer::new(&key(1)).unwrap()),
            "XChaChaSealer { current: 0, keys: [0], material: [REDACTED] }"
        );
        let sealed = ring
            .seal(b"secret", b"ctx", &mut StdRng::seed_from_u64(4))
            .unwrap();
        assert_eq!(format!("{sealed:?}"), "SealedSecret(key 2, 54 bytes)");
        assert_eq!(
            format!("{:?}", SealedSecret::from_bytes(vec![0; 40])),
            "SealedSecret(40 bytes)"
        );
    }

    #[test]
    fn key_material_is_wiped_on_drop() {
        // Compile-time: every cipher of the ring holds an app key.
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        wiped_on_drop::<XChaCha20Poly1305>();
        wiped_on_drop::<XChaChaSealer>();
    }
}
