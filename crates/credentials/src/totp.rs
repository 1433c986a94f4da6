//! TOTP second factor (RFC 6238) with sealed secrets, QR codes and replay
//! protection (SECURITY.md 13–15).

use std::fmt;
use std::future::Future;

use chrono::{DateTime, Utc};
use iamkit_identity::UserId;
use iamkit_store_api::StoreError;
use rand::CryptoRng;
use subtle::ConstantTimeEq;

use crate::error::{Error, FieldRule, Result};
use crate::sealing::{SealedSecret, SealingKeyId, SecretSealer};
use crate::secret::{SecretBytes, SecretString};

/// The HMAC of a TOTP. SHA1 is what every authenticator app supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TotpAlgorithm {
    /// HMAC-SHA1 (default).
    #[default]
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

impl TotpAlgorithm {
    fn to_lib(self) -> totp_rs::Algorithm {
        match self {
            Self::Sha1 => totp_rs::Algorithm::SHA1,
            Self::Sha256 => totp_rs::Algorithm::SHA256,
            Self::Sha512 => totp_rs::Algorithm::SHA512,
        }
    }

    /// Secret length: the HMAC's output size, as the RFC 6238 test keys; at
    /// least 160 bits (SECURITY.md 14, RFC 4226 4 R6).
    pub const fn secret_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }
}

/// TOTP settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpConfig {
    /// Issuer shown in authenticator apps (no `:`).
    pub issuer: String,
    /// HMAC algorithm.
    pub algorithm: TotpAlgorithm,
    /// Code length, 6 to 8.
    pub digits: u8,
    /// Time step in seconds (RFC 6238 recommends 30).
    pub period_secs: u64,
}

impl TotpConfig {
    /// SHA1, 6 digits, 30 s steps for `issuer`.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            algorithm: TotpAlgorithm::Sha1,
            digits: 6,
            period_secs: 30,
        }
    }
}

/// A TOTP key in the clear. Only ever held in memory, briefly.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(SecretBytes);

impl TotpSecret {
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(SecretBytes::new(bytes))
    }

    /// The raw key.
    pub fn expose(&self) -> &[u8] {
        self.0.expose()
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret([REDACTED])")
    }
}

/// A user's TOTP enrolment as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpEnrollment {
    /// Whose.
    pub user: UserId,
    /// The key, sealed with the user id as context.
    pub sealed_secret: SealedSecret,
    /// HMAC algorithm.
    pub algorithm: TotpAlgorithm,
    /// Code length.
    pub digits: u8,
    /// Step in seconds.
    pub period_secs: u64,
    /// When started.
    pub created_at: DateTime<Utc>,
    /// When confirmed by a first valid code; until then 2FA is not active.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// The last accepted time step; codes at or before it are replays.
    pub last_step: Option<u64>,
}

/// What the user sees while enrolling: the secret as an `otpauth://` URI
/// and as QR codes. Show once, keep nowhere.
#[derive(Debug)]
pub struct TotpSetup {
    /// The raw key (for "enter manually").
    pub secret: TotpSecret,
    /// `otpauth://totp/<issuer>:<account>?secret=...&issuer=...`.
    pub uri: SecretString,
}

impl TotpSetup {
    /// The key in base32, for manual entry.
    pub fn secret_base32(&self) -> SecretString {
        SecretString::new(totp_rs::Secret::from(self.secret.expose().to_vec()).to_base32())
    }

    /// The URI as an SVG QR code.
    pub fn qr_svg(&self) -> Result<String> {
        let qr = qr(&self.uri)?;
        let size = qr.size();
        let dim = size + 2 * QR_BORDER;
        let mut path = String::new();
        for y in 0..size {
            for x in 0..size {
                if qr.get_module(x, y) {
                    path.push_str(&format!("M{},{}h1v1h-1z", x + QR_BORDER, y + QR_BORDER));
                }
            }
        }
        Ok(format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {dim} {dim}\" \
             shape-rendering=\"crispEdges\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\
             <path fill=\"#000\" d=\"{path}\"/></svg>"
        ))
    }

    /// The URI as a grayscale PNG QR code, `scale` pixels per module (1..=32).
    pub fn qr_png(&self, scale: u32) -> Result<Vec<u8>> {
        if !(1..=32).contains(&scale) {
            return Err(Error::InvalidField {
                field: "scale",
                rule: if scale < 1 {
                    FieldRule::TooSmall { min: 1 }
                } else {
                    FieldRule::TooLarge { max: 32 }
                },
            });
        }
        let qr = qr(&self.uri)?;
        let modules = u32::try_from(qr.size() + 2 * QR_BORDER).map_err(|_| Error::QrTooLong)?;
        let px = modules * scale;
        let mut pixels = Vec::with_capacity((px * px) as usize);
        for py in 0..px {
            for pxx in 0..px {
                let x = i32::try_from(pxx / scale).unwrap_or(i32::MAX) - QR_BORDER;
                let y = i32::try_from(py / scale).unwrap_or(i32::MAX) - QR_BORDER;
                pixels.push(if qr.get_module(x, y) { 0u8 } else { 255u8 });
            }
        }
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, px, px);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|_| Error::QrTooLong)?;
        writer
            .write_image_data(&pixels)
            .map_err(|_| Error::QrTooLong)?;
        writer.finish().map_err(|_| Error::QrTooLong)?;
        Ok(out)
    }
}

/// Quiet zone of the QR symbol, in modules (ISO/IEC 18004).
const QR_BORDER: i32 = 4;

fn qr(uri: &SecretString) -> Result<qrcodegen::QrCode> {
    qrcodegen::QrCode::encode_text(uri.expose(), qrcodegen::QrCodeEcc::Medium)
        .map_err(|_| Error::QrTooLong)
}

/// Code lengths RFC 4226 5.3 allows (and totp-rs builds).
const MIN_DIGITS: u8 = 6;
const MAX_DIGITS: u8 = 8;

fn seal_context(user: UserId) -> Vec<u8> {
    let mut ctx = b"iamkit totp v1 ".to_vec();
    ctx.extend_from_slice(user.as_uuid().as_bytes());
    ctx
}

fn build(
    algorithm: TotpAlgorithm,
    digits: u8,
    period_secs: u64,
    secret: &[u8],
) -> Result<totp_rs::Totp> {
    // Checked here so the error names the bound actually broken (the
    // library reports one error for both).
    if !(MIN_DIGITS..=MAX_DIGITS).contains(&digits) {
        return Err(Error::InvalidField {
            field: "digits",
            rule: if digits < MIN_DIGITS {
                FieldRule::TooSmall {
                    min: u64::from(MIN_DIGITS),
                }
            } else {
                FieldRule::TooLarge {
                    max: u64::from(MAX_DIGITS),
                }
            },
        });
    }
    totp_rs::Builder::new()
        .with_algorithm(algorithm.to_lib())
        .with_digits(digits)
        .with_step_duration(period_secs)
        // ±1 step (RFC 6238 5.2): one step of clock drift or typing delay.
        .with_skew(1)
        .with_secret(secret.to_vec())
        .build()
        .map_err(|e| match e {
            totp_rs::TotpError::InvalidDigits { .. } => Error::InvalidField {
                field: "digits",
                rule: FieldRule::TooLarge { max: 8 },
            },
            totp_rs::TotpError::InvalidStepZero => Error::InvalidField {
                field: "period_secs",
                rule: FieldRule::TooSmall { min: 1 },
            },
            _ => Error::InvalidField {
                field: "secret",
                rule: FieldRule::TooSmall { min: 16 },
            },
        })
}

/// The code for `secret` at Unix time `unix_secs` (RFC 6238); with
/// `period_secs = 1` and `unix_secs = counter` it is HOTP (RFC 4226).
pub fn totp_code(
    secret: &TotpSecret,
    algorithm: TotpAlgorithm,
    digits: u8,
    period_secs: u64,
    unix_secs: u64,
) -> Result<SecretString> {
    let totp = build(algorithm, digits, period_secs, secret.expose())?;
    Ok(SecretString::new(totp.generate(unix_secs).to_string()))
}

impl TotpEnrollment {
    /// Starts enrolment: a fresh key, sealed; the URI and QR to show. The
    /// enrolment stays pending until [`TotpEnrollment::verify`] accepts a
    /// first code and the repository confirms it.
    pub fn begin(
        user: UserId,
        account_name: &str,
        config: &TotpConfig,
        sealer: &impl SecretSealer,
        now: DateTime<Utc>,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<(Self, TotpSetup)> {
        for (field, value) in [
            ("issuer", config.issuer.as_str()),
            ("account_name", account_name),
        ] {
            if value.trim().is_empty() {
                return Err(Error::InvalidField {
                    field,
                    rule: FieldRule::Empty,
                });
            }
            // otpauth Key Uri Format: `:` separates issuer and account.
            if value.contains(':') {
                return Err(Error::InvalidField {
                    field,
                    rule: FieldRule::ForbiddenCharacter,
                });
            }
        }
        let mut key = vec![0u8; config.algorithm.secret_len()];
        rng.fill_bytes(&mut key);
        let secret = TotpSecret::from_bytes(key);
        let totp = build(
            config.algorithm,
            config.digits,
            config.period_secs,
            secret.expose(),
        )?;
        let totp = totp_rs::Builder::new()
            .with_algorithm(totp.algorithm())
            .with_digits(totp.digits())
            .with_step_duration(totp.step())
            .with_secret(secret.expose().to_vec())
            .with_issuer(Some(config.issuer.as_str()))
            .with_account_name(account_name)
            .build()
            .map_err(|_| Error::InvalidField {
                field: "account_name",
                rule: FieldRule::ForbiddenCharacter,
            })?;
        let uri = SecretString::new(totp.to_url().map_err(|_| Error::InvalidField {
            field: "account_name",
            rule: FieldRule::ForbiddenCharacter,
        })?);
        let sealed_secret = sealer.seal(secret.expose(), &seal_context(user), rng)?;
        let enrollment = Self {
            user,
            sealed_secret,
            algorithm: config.algorithm,
            digits: config.digits,
            period_secs: config.period_secs,
            created_at: now,
            confirmed_at: None,
            last_step: None,
        };
        Ok((enrollment, TotpSetup { secret, uri }))
    }

    /// The secret sealed again under the sealer's current key (after a key
    /// rotation), bound to the same user; to be stored with
    /// [`TotpRepository::replace_sealed_totp`]. [`Error::Sealing`] if no
    /// key of the sealer opens the stored value.
    pub fn resealed(
        &self,
        sealer: &impl SecretSealer,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<SealedSecret> {
        sealer.reseal(&self.sealed_secret, &seal_context(self.user), rng)
    }

    /// Checks `code` at `now` within ±1 step and returns the matched time
    /// step, which must then be recorded atomically
    /// ([`TotpRepository::confirm_totp`] / [`TotpRepository::accept_totp_step`]).
    /// A step at or before [`last_step`](Self::last_step) is a replay and
    /// refused (SECURITY.md 14). Every refusal is [`Error::InvalidCredentials`].
    pub fn verify(
        &self,
        sealer: &impl SecretSealer,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let secret = sealer.open(&self.sealed_secret, &seal_context(self.user))?;
        let totp = build(
            self.algorithm,
            self.digits,
            self.period_secs,
            secret.expose(),
        )?;
        let unix = u64::try_from(now.timestamp()).map_err(|_| Error::InvalidCredentials)?;
        let presented = code.trim();
        if presented.len() != usize::from(self.digits)
            || !presented.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(Error::InvalidCredentials);
        }
        let origin = unix / self.period_secs;
        // Own loop rather than `Totp::check`: a step already used must be
        // skipped, not end the search, and every window step is computed so
        // timing does not reveal which one matched.
        let mut matched = None;
        for step in origin.saturating_sub(1)..=origin.saturating_add(1) {
            let fresh = self.last_step.is_none_or(|last| step > last);
            let expected =
                zeroize::Zeroizing::new(totp.generate(step * self.period_secs).to_string());
            let equal: bool = expected.as_bytes().ct_eq(presented.as_bytes()).into();
            if equal && fresh && matched.is_none() {
                matched = Some(step);
            }
        }
        matched.ok_or(Error::InvalidCredentials)
    }
}

/// Storage of TOTP enrolments, one per user.
pub trait TotpRepository: Send {
    /// Stores a pending enrolment, replacing an earlier *pending* one. If
    /// the user has a confirmed enrolment it MUST fail with `Conflict` and
    /// change nothing (re-enrolling requires disabling first).
    fn insert_totp(
        &mut self,
        enrollment: TotpEnrollment,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The user's enrolment, pending or confirmed.
    fn get_totp(
        &mut self,
        user: UserId,
    ) -> impl Future<Output = Result<Option<TotpEnrollment>, StoreError>> + Send;

    /// Confirms a pending enrolment with the verified `step`: MUST atomically
    /// set `confirmed_at = now` and `last_step = step` only if the enrolment
    /// is pending; returns whether it did. The enrolment code thereby counts
    /// as used (SECURITY.md 14).
    fn confirm_totp(
        &mut self,
        user: UserId,
        step: u64,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records a login code's `step`: MUST atomically set `last_step = step`
    /// only if the enrolment is confirmed and `step` is greater than the
    /// stored `last_step`; returns whether it did. Of N concurrent calls
    /// with the same step at most one MUST return `true`.
    fn accept_totp_step(
        &mut self,
        user: UserId,
        step: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Removes the enrolment (2FA disabled); returns whether one existed.
    fn delete_totp(
        &mut self,
        user: UserId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Enrolments, pending and confirmed, whose secret is not sealed under
    /// `key` (those whose [`SealedSecret::is_under`]`(key)` is false,
    /// including values sealed before key ids existed), for resealing
    /// after a key rotation. MUST return them in ascending user-id order,
    /// only users after `after` (all when `None`), at most `limit`; paging
    /// with the last user returned as `after` MUST visit every such
    /// enrolment once.
    fn list_totp_to_reseal(
        &mut self,
        key: SealingKeyId,
        after: Option<UserId>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<TotpEnrollment>, StoreError>> + Send;

    /// Replaces the user's sealed secret with `resealed`, MUST atomically
    /// and only if the stored one is still `expected` (byte for byte: an
    /// enrolment replaced or deleted meanwhile is left alone); returns
    /// whether it did. Nothing else of the enrolment changes: a pending
    /// one stays pending, `confirmed_at` and `last_step` are kept.
    fn replace_sealed_totp(
        &mut self,
        user: UserId,
        expected: &SealedSecret,
        resealed: &SealedSecret,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sealing::XChaChaSealer;
    use chacha20poly1305::XChaCha20Poly1305;
    use chrono::TimeZone;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
    }

    fn sealer() -> XChaChaSealer {
        XChaChaSealer::new(&SecretBytes::new(vec![7u8; 32])).unwrap()
    }

    const SHA1_KEY: &[u8] = b"12345678901234567890";
    const SHA256_KEY: &[u8] = b"12345678901234567890123456789012";
    const SHA512_KEY: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

    /// RFC 6238 Appendix B, verbatim.
    const RFC6238: &[(u64, &str, TotpAlgorithm)] = &[
        (59, "94287082", TotpAlgorithm::Sha1),
        (59, "46119246", TotpAlgorithm::Sha256),
        (59, "90693936", TotpAlgorithm::Sha512),
        (1111111109, "07081804", TotpAlgorithm::Sha1),
        (1111111109, "68084774", TotpAlgorithm::Sha256),
        (1111111109, "25091201", TotpAlgorithm::Sha512),
        (1111111111, "14050471", TotpAlgorithm::Sha1),
        (1111111111, "67062674", TotpAlgorithm::Sha256),
        (1111111111, "99943326", TotpAlgorithm::Sha512),
        (1234567890, "89005924", TotpAlgorithm::Sha1),
        (1234567890, "91819424", TotpAlgorithm::Sha256),
        (1234567890, "93441116", TotpAlgorithm::Sha512),
        (2000000000, "69279037", TotpAlgorithm::Sha1),
        (2000000000, "90698825", TotpAlgorithm::Sha256),
        (2000000000, "38618901", TotpAlgorithm::Sha512),
        (20000000000, "65353130", TotpAlgorithm::Sha1),
        (20000000000, "77737706", TotpAlgorithm::Sha256),
        (20000000000, "47863826", TotpAlgorithm::Sha512),
    ];

    /// RFC 4226 Appendix D, verbatim (HOTP, counters 0–9).
    const RFC4226: [&str; 10] = [
        "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
        "520489",
    ];

    #[test]
    fn rfc6238_appendix_b_vectors() {
        for &(time, expected, alg) in RFC6238 {
            let key = match alg {
                TotpAlgorithm::Sha1 => SHA1_KEY,
                TotpAlgorithm::Sha256 => SHA256_KEY,
                TotpAlgorithm::Sha512 => SHA512_KEY,
            };
            let code = totp_code(&TotpSecret::from_bytes(key.to_vec()), alg, 8, 30, time).unwrap();
            assert_eq!(code.expose(), expected, "T={time} {alg:?}");
        }
    }

    #[test]
    fn rfc4226_appendix_d_vectors() {
        let secret = TotpSecret::from_bytes(SHA1_KEY.to_vec());
        for (counter, expected) in RFC4226.iter().enumerate() {
            let code = totp_code(&secret, TotpAlgorithm::Sha1, 6, 1, counter as u64).unwrap();
            assert_eq!(code.expose(), *expected, "counter {counter}");
        }
    }

    fn enrol(alg: TotpAlgorithm) -> (TotpEnrollment, TotpSetup) {
        let mut rng = StdRng::seed_from_u64(41);
        let user = UserId::generate(t0(), &mut rng);
        let cfg = TotpConfig {
            algorithm: alg,
            ..TotpConfig::new("Acme Corp")
        };
        TotpEnrollment::begin(user, "ada@example.com", &cfg, &sealer(), t0(), &mut rng).unwrap()
    }

    fn code_at(e: &TotpEnrollment, setup: &TotpSetup, at: DateTime<Utc>) -> String {
        totp_code(
            &setup.secret,
            e.algorithm,
            e.digits,
            e.period_secs,
            at.timestamp() as u64,
        )
        .unwrap()
        .expose()
        .to_owned()
    }

    #[test]
    fn enrolment_produces_160_bit_sealed_secret_uri_and_qr() {
        let (e, setup) = enrol(TotpAlgorithm::Sha1);
        assert_eq!(setup.secret.expose().len() * 8, 160);
        assert!(e.confirmed_at.is_none(), "pending until confirmed");
        let uri = setup.uri.expose();
        assert!(
            uri.starts_with("otpauth://totp/Acme%20Corp:ada%40example.com?"),
            "{uri}"
        );
        assert!(uri.contains(&format!("secret={}", setup.secret_base32().expose())));
        assert!(uri.contains("issuer=Acme%20Corp"));
        // Sealed: the stored bytes do not contain the key.
        assert!(
            !e.sealed_secret
                .as_bytes()
                .windows(20)
                .any(|w| w == setup.secret.expose())
        );
        let svg = setup.qr_svg().unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<path"));
        let png = setup.qr_png(4).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        for out in [format!("{setup:?}"), format!("{e:?}")] {
            assert!(
                !out.contains(&setup.secret_base32().expose()[..16]),
                "{out}"
            );
        }
    }

    #[test]
    fn window_is_plus_minus_one_step_and_replays_are_refused() {
        let (mut e, setup) = enrol(TotpAlgorithm::Sha256);
        let now = t0();
        let step = (now.timestamp() as u64) / 30;
        assert_eq!(
            e.verify(&sealer(), &code_at(&e, &setup, now), now),
            Ok(step)
        );
        let prev = code_at(&e, &setup, now - chrono::Duration::seconds(30));
        let next = code_at(&e, &setup, now + chrono::Duration::seconds(30));
        let far = code_at(&e, &setup, now + chrono::Duration::seconds(60));
        assert_eq!(e.verify(&sealer(), &prev, now), Ok(step - 1));
        assert_eq!(e.verify(&sealer(), &next, now), Ok(step + 1));
        assert_eq!(
            e.verify(&sealer(), &far, now),
            Err(Error::InvalidCredentials)
        );
        assert_eq!(
            e.verify(&sealer(), "12345", now),
            Err(Error::InvalidCredentials)
        );
        assert_eq!(
            e.verify(&sealer(), "abcdef", now),
            Err(Error::InvalidCredentials)
        );

        // After accepting `step` (e.g. the enrolment code), it and earlier steps are replays.
        e.last_step = Some(step);
        assert_eq!(
            e.verify(&sealer(), &code_at(&e, &setup, now), now),
            Err(Error::InvalidCredentials)
        );
        assert_eq!(
            e.verify(&sealer(), &prev, now),
            Err(Error::InvalidCredentials)
        );
        assert_eq!(e.verify(&sealer(), &next, now), Ok(step + 1));
    }

    #[test]
    fn sha512_and_eight_digits_work() {
        let mut rng = StdRng::seed_from_u64(43);
        let user = UserId::generate(t0(), &mut rng);
        let cfg = TotpConfig {
            algorithm: TotpAlgorithm::Sha512,
            digits: 8,
            ..TotpConfig::new("Acme")
        };
        let (e, setup) =
            TotpEnrollment::begin(user, "ada", &cfg, &sealer(), t0(), &mut rng).unwrap();
        assert_eq!(setup.secret.expose().len(), 64);
        assert!(setup.uri.expose().contains("algorithm=SHA512"));
        let code = code_at(&e, &setup, t0());
        assert_eq!(code.len(), 8);
        assert!(e.verify(&sealer(), &code, t0()).is_ok());
    }

    #[test]
    fn sealed_secret_is_bound_to_key_and_user() {
        let (e, setup) = enrol(TotpAlgorithm::Sha1);
        let other_key = XChaChaSealer::new(&SecretBytes::new(vec![8u8; 32])).unwrap();
        let code = code_at(&e, &setup, t0());
        assert_eq!(e.verify(&other_key, &code, t0()), Err(Error::Sealing));
        let mut moved = e.clone();
        moved.user = UserId::generate(t0(), &mut StdRng::seed_from_u64(99));
        assert_eq!(moved.verify(&sealer(), &code, t0()), Err(Error::Sealing));
        let mut tampered = e.clone();
        let mut bytes = tampered.sealed_secret.as_bytes().to_vec();
        bytes[30] ^= 1;
        tampered.sealed_secret = SealedSecret::from_bytes(bytes);
        assert_eq!(tampered.verify(&sealer(), &code, t0()), Err(Error::Sealing));
        assert!(XChaChaSealer::new(&SecretBytes::new(vec![1; 16])).is_err());
    }

    #[test]
    fn bad_enrolment_input_names_the_field() {
        let mut rng = StdRng::seed_from_u64(44);
        let user = UserId::generate(t0(), &mut rng);
        let cfg = TotpConfig::new("Acme");
        let err = TotpEnrollment::begin(user, "a:b", &cfg, &sealer(), t0(), &mut rng).unwrap_err();
        assert_eq!(
            err,
            Error::InvalidField {
                field: "account_name",
                rule: FieldRule::ForbiddenCharacter
            }
        );
        let bad = TotpConfig { digits: 9, ..cfg };
        assert!(matches!(
            TotpEnrollment::begin(user, "ada", &bad, &sealer(), t0(), &mut rng),
            Err(Error::InvalidField {
                field: "digits",
                ..
            })
        ));
    }

    #[test]
    fn key_material_held_by_dependencies_is_wiped_on_drop() {
        // Compile-time: the sealer's cipher holds the app's sealing key and
        // every `Totp` a copy of a user's TOTP key.
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        wiped_on_drop::<XChaCha20Poly1305>();
        wiped_on_drop::<totp_rs::Totp>();
        wiped_on_drop::<XChaChaSealer>();
    }

    #[test]
    fn each_violated_bound_is_named() {
        let (_, setup) = enrol(TotpAlgorithm::Sha1);
        assert_eq!(
            setup.qr_png(0),
            Err(Error::InvalidField {
                field: "scale",
                rule: FieldRule::TooSmall { min: 1 }
            })
        );
        assert_eq!(
            setup.qr_png(33),
            Err(Error::InvalidField {
                field: "scale",
                rule: FieldRule::TooLarge { max: 32 }
            })
        );
        let mut rng = StdRng::seed_from_u64(45);
        let user = UserId::generate(t0(), &mut rng);
        let short = TotpConfig {
            digits: 5,
            ..TotpConfig::new("Acme")
        };
        assert_eq!(
            TotpEnrollment::begin(user, "ada", &short, &sealer(), t0(), &mut rng).map(|_| ()),
            Err(Error::InvalidField {
                field: "digits",
                rule: FieldRule::TooSmall { min: 6 }
            })
        );
        let long = TotpConfig {
            digits: 9,
            ..TotpConfig::new("Acme")
        };
        assert_eq!(
            TotpEnrollment::begin(user, "ada", &long, &sealer(), t0(), &mut rng).map(|_| ()),
            Err(Error::InvalidField {
                field: "digits",
                rule: FieldRule::TooLarge { max: 8 }
            })
        );
        assert_eq!(
            XChaChaSealer::new(&SecretBytes::new(vec![1; 31])).map(|_| ()),
            Err(Error::InvalidField {
                field: "sealing_key",
                rule: FieldRule::TooSmall { min: 32 }
            })
        );
        assert_eq!(
            XChaChaSealer::new(&SecretBytes::new(vec![1; 64])).map(|_| ()),
            Err(Error::InvalidField {
                field: "sealing_key",
                rule: FieldRule::TooLarge { max: 32 }
            })
        );
    }
}
