#![doc = include_str!("../README.md")]

mod api_keys;
mod error;
mod foreign_hash;
mod passwords;
mod presented;
mod recovery;
mod sealing;
mod secret;
mod sessions;
mod throttle;
mod tokens;
mod totp;

pub use api_keys::{ApiKey, ApiKeyRepository, MAX_API_KEY_NAME, NewApiKey};
pub use error::{Error, FieldRule, Result};
pub use foreign_hash::{
    ImportedAlgorithm, MAX_IMPORTED_ARGON2_M_COST_KIB, MAX_IMPORTED_ARGON2_T_COST,
    MAX_IMPORTED_BCRYPT_COST, MAX_IMPORTED_PARALLELISM, MAX_IMPORTED_PBKDF2_ROUNDS,
    MAX_IMPORTED_SCRYPT_LOG_N,
};
pub use passwords::{
    Argon2Params, IMPORTED_HASH_MARKER, NewPassword, Password, PasswordCheck, PasswordContext,
    PasswordHash, PasswordHasher, PasswordPolicy, PasswordRule,
};
pub use presented::{PRESENTED_LEN, PresentedSecret, SecretKind};
pub use recovery::{
    RECOVERY_CODE_BITS, RECOVERY_CODE_COUNT, RecoveryCode, RecoveryCodeRecord,
    RecoveryCodeRepository, RecoveryCodeSet, generate_recovery_codes,
};
pub use sealing::{SEALED_HEADER_LEN, SealedSecret, SealingKeyId, SecretSealer, XChaChaSealer};
pub use secret::{SecretBytes, SecretDigest, SecretString};
pub use sessions::{ClientMetadata, Session, SessionConfig, SessionRepository, SessionState};
pub use throttle::{MAX_FAILURE_LIMIT, ThrottleConfig, ThrottleRepository, ThrottleState};
pub use tokens::{IssuedToken, TokenConfig, TokenKind, TokenRecord, TokenRepository, issue_token};
pub use totp::{
    TotpAlgorithm, TotpConfig, TotpEnrollment, TotpRepository, TotpSecret, TotpSetup, totp_code,
};

/// `start + span`, saturating at the ends of chrono's range: a configured
/// lifetime too long to represent means "never ends", and must not panic
/// (`DateTime + TimeDelta` does on overflow).
pub(crate) fn saturating_add(
    start: chrono::DateTime<chrono::Utc>,
    span: chrono::Duration,
) -> chrono::DateTime<chrono::Utc> {
    start
        .checked_add_signed(span)
        .unwrap_or(if span < chrono::Duration::zero() {
            chrono::DateTime::<chrono::Utc>::MIN_UTC
        } else {
            chrono::DateTime::<chrono::Utc>::MAX_UTC
        })
}

iamkit_identity::define_id!(
    /// Identifies a single-use token (invite, reset, verification).
    TokenId
);

#[cfg(test)]
mod tests {
    //! SECURITY.md 30: no secret in any `Debug` output, for every
    //! secret-bearing type of the crate in one place.
    use super::*;
    use chrono::{TimeZone, Utc};
    use iamkit_identity::{UserId, WorkspaceId};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn debug_of_every_secret_bearing_type_is_redacted() {
        let mut rng = StdRng::seed_from_u64(77);
        let now = Utc.with_ymd_and_hms(2026, 5, 1, 8, 0, 0).unwrap();
        let user = UserId::generate(now, &mut rng);
        let mut outputs: Vec<(String, String)> = Vec::new();
        let mut check = |what: &str, secret: &str, debug: String| {
            assert!(!secret.is_empty());
            outputs.push((what.to_owned(), debug.clone()));
            assert!(!debug.contains(secret), "{what} leaks its secret: {debug}");
        };

        let s = SecretString::from("plain secret text");
        check("SecretString", s.expose(), format!("{s:?}"));
        assert_eq!(format!("{s:?}"), "[REDACTED]");
        let b = SecretBytes::new(b"raw secret bytes".to_vec());
        check("SecretBytes", "114, 97, 119", format!("{b:?}"));
        assert_eq!(format!("{b:?}"), "[REDACTED]");

        let p = Password::new("glacier ferry violin");
        check("Password", p.expose(), format!("{p:?}"));
        let new = PasswordPolicy::default()
            .check(p.clone(), &PasswordContext::default())
            .unwrap();
        check("NewPassword", p.expose(), format!("{new:?}"));
        let hasher = PasswordHasher::new(Argon2Params {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        })
        .unwrap();
        let hash = hasher.hash(&new, &mut rng).unwrap();
        check("PasswordHash", hash.as_phc(), format!("{hash:?}"));

        let issued = issue_token(
            TokenKind::Invite,
            user,
            &TokenConfig::default(),
            now,
            &mut rng,
        );
        let text = issued.secret.to_text();
        let secret_part = &text.expose()[42..];
        check(
            "PresentedSecret",
            secret_part,
            format!("{:?}", issued.secret),
        );
        check("IssuedToken", secret_part, format!("{issued:?}"));
        check("TokenRecord", secret_part, format!("{:?}", issued.record));
        let digest_hex: String = issued
            .record
            .secret_hash
            .to_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        check(
            "SecretDigest",
            &digest_hex,
            format!("{:?}", issued.record.secret_hash),
        );

        let (session, token) = Session::start(
            user,
            None,
            SessionState::Full,
            ClientMetadata::default(),
            now,
            &mut rng,
        );
        check(
            "Session",
            &token.to_text().expose()[42..],
            format!("{session:?}"),
        );

        let new_key = NewApiKey {
            name: "ci".into(),
            workspace: WorkspaceId::generate(now, &mut rng),
            restriction: None,
            expires_at: None,
        };
        let (key, key_secret) = ApiKey::create(new_key, user, now, &mut rng).unwrap();
        check(
            "ApiKey",
            &key_secret.to_text().expose()[42..],
            format!("{key:?}"),
        );

        let set = generate_recovery_codes(user, now, &mut rng);
        check(
            "RecoveryCode",
            set.codes[0].expose(),
            format!("{:?}", set.codes[0]),
        );
        check("RecoveryCodeSet", set.codes[0].expose(), format!("{set:?}"));

        let sealer = XChaChaSealer::new(&SecretBytes::new(vec![9; 32])).unwrap();
        let (enrollment, setup) = TotpEnrollment::begin(
            user,
            "ada",
            &TotpConfig::new("Acme"),
            &sealer,
            now,
            &mut rng,
        )
        .unwrap();
        let b32 = setup.secret_base32();
        check("TotpSetup", b32.expose(), format!("{setup:?}"));
        check("TotpSecret", b32.expose(), format!("{:?}", setup.secret));
        check("TotpEnrollment", b32.expose(), format!("{enrollment:?}"));
        check("XChaChaSealer", "9, 9, 9", format!("{sealer:?}"));
        assert_eq!(
            format!("{sealer:?}"),
            "XChaChaSealer { current: 0, keys: [0], material: [REDACTED] }"
        );
        assert!(outputs.iter().all(|(_, d)| !d.is_empty()));
    }
}
