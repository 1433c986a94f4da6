//! Recovery codes: the fallback second factor (SECURITY.md 15, 16).

use std::fmt;
use std::future::Future;

use chrono::{DateTime, Utc};
use iamkit_identity::UserId;
use iamkit_store_api::StoreError;
use rand::CryptoRng;

use crate::secret::{SecretDigest, SecretString};

/// Codes per set.
pub const RECOVERY_CODE_COUNT: usize = 10;
/// Random bits per code: above the 64 of SECURITY.md 16, so an unsalted
/// SHA-256 of a code is not worth brute-forcing offline.
pub const RECOVERY_CODE_BITS: usize = 80;
const CHARS: usize = RECOVERY_CODE_BITS / 5;
/// Crockford base32: no `i l o u`, so codes survive being read aloud.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// One recovery code as shown to the user once (`xxxx-xxxx-xxxx-xxxx`).
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(SecretString);

impl RecoveryCode {
    /// The display form.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The digest to compare with the stored ones for what a user typed:
    /// case, spaces and dashes are ignored and Crockford look-alikes
    /// (`o`→`0`, `i`/`l`→`1`) mapped. `None` if it cannot be a code.
    pub fn digest_of_input(input: &str) -> Option<SecretDigest> {
        let mut normalized = zeroize::Zeroizing::new(String::with_capacity(CHARS));
        for c in input.chars() {
            let c = match c.to_ascii_lowercase() {
                '-' | ' ' => continue,
                'o' => '0',
                'i' | 'l' => '1',
                c => c,
            };
            if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
                return None;
            }
            normalized.push(c);
        }
        (normalized.len() == CHARS).then(|| SecretDigest::of(normalized.as_bytes()))
    }

    /// The digest to store.
    pub fn digest(&self) -> Option<SecretDigest> {
        Self::digest_of_input(self.expose())
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode([REDACTED])")
    }
}

/// A stored recovery code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryCodeRecord {
    /// Whose code.
    pub user: UserId,
    /// SHA-256 of the normalized code.
    pub digest: SecretDigest,
    /// When the set was generated.
    pub created_at: DateTime<Utc>,
    /// When used.
    pub used_at: Option<DateTime<Utc>>,
}

/// A fresh set: the codes to show once and the records to store.
#[derive(Debug)]
pub struct RecoveryCodeSet {
    /// Show these once.
    pub codes: Vec<RecoveryCode>,
    /// Store these (replacing the previous set).
    pub records: Vec<RecoveryCodeRecord>,
}

/// Generates [`RECOVERY_CODE_COUNT`] codes of [`RECOVERY_CODE_BITS`] bits.
pub fn generate_recovery_codes(
    user: UserId,
    now: DateTime<Utc>,
    rng: &mut (impl CryptoRng + ?Sized),
) -> RecoveryCodeSet {
    let mut codes = Vec::with_capacity(RECOVERY_CODE_COUNT);
    let mut records = Vec::with_capacity(RECOVERY_CODE_COUNT);
    for _ in 0..RECOVERY_CODE_COUNT {
        let mut text = String::with_capacity(CHARS + 3);
        let mut normalized = zeroize::Zeroizing::new(String::with_capacity(CHARS));
        for i in 0..CHARS {
            if i > 0 && i.is_multiple_of(4) {
                text.push('-');
            }
            // Rejection-free: 32 divides 256, so `byte % 32` is uniform.
            let c = ALPHABET
                .get(usize::from(rng.next_u32().to_le_bytes()[0] % 32))
                .map_or('0', |b| char::from(*b));
            text.push(c);
            normalized.push(c);
        }
        records.push(RecoveryCodeRecord {
            user,
            digest: SecretDigest::of(normalized.as_bytes()),
            created_at: now,
            used_at: None,
        });
        codes.push(RecoveryCode(SecretString::new(text)));
    }
    RecoveryCodeSet { codes, records }
}

/// Storage of recovery codes.
pub trait RecoveryCodeRepository: Send {
    /// Replaces every code of `user` with `records` (regenerating
    /// invalidates the old set) in one atomic step.
    fn replace_recovery_codes(
        &mut self,
        user: UserId,
        records: Vec<RecoveryCodeRecord>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Uses the unused code of `user` whose digest equals `digest`
    /// (constant-time compare), setting `used_at = now`; returns whether one
    /// was used. MUST be atomic: of N concurrent calls with the same code
    /// exactly one MUST return `true` (SECURITY.md 16).
    fn consume_recovery_code(
        &mut self,
        user: UserId,
        digest: &SecretDigest,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// How many unused codes `user` has left.
    fn count_recovery_codes(
        &mut self,
        user: UserId,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Deletes every code of `user` (2FA disabled).
    fn delete_recovery_codes(
        &mut self,
        user: UserId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use std::collections::HashSet;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn ten_distinct_codes_of_80_bits_stored_hashed() {
        let mut rng = StdRng::seed_from_u64(31);
        let user = UserId::generate(t0(), &mut rng);
        let set = generate_recovery_codes(user, t0(), &mut rng);
        assert_eq!(set.codes.len(), 10);
        let distinct: HashSet<_> = set.codes.iter().map(|c| c.expose().to_owned()).collect();
        assert_eq!(distinct.len(), 10);
        for (code, record) in set.codes.iter().zip(&set.records) {
            assert_eq!(code.expose().len(), 19);
            // 16 symbols of a 32-letter alphabet: 80 bits, above SECURITY.md 16's 64.
            assert!(code.expose().replace('-', "").len() * 5 >= 64);
            assert_eq!(code.digest(), Some(record.digest.clone()));
            assert!(!format!("{record:?}").contains(code.expose()));
            assert_eq!(format!("{code:?}"), "RecoveryCode([REDACTED])");
        }
    }

    #[test]
    fn typed_input_is_normalized() {
        let mut rng = StdRng::seed_from_u64(32);
        let user = UserId::generate(t0(), &mut rng);
        let set = generate_recovery_codes(user, t0(), &mut rng);
        let code = set.codes[0].expose();
        let typed = code.to_uppercase().replace('-', " ");
        assert_eq!(
            RecoveryCode::digest_of_input(&typed),
            Some(set.records[0].digest.clone())
        );
        assert_eq!(RecoveryCode::digest_of_input("too-short"), None);
        assert_eq!(RecoveryCode::digest_of_input("uuuu-uuuu-uuuu-uuuu"), None);
        assert_eq!(
            RecoveryCode::digest_of_input("oooo-llll-0000-1111"),
            RecoveryCode::digest_of_input("0000-1111-0000-1111")
        );
    }
}
