//! Single-use tokens in the memory store against an obviously correct model:
//! random sequences of issue / redeem / revoke, each in its own transaction,
//! give the same answers and the same final records.

use chrono::{DateTime, Duration, TimeZone, Utc};
use iamkit::{Store, Transaction};
use iamkit_credentials::{
    IssuedToken, PresentedSecret, TokenConfig, TokenKind, TokenRecord, TokenRepository, issue_token,
};
use iamkit_identity::UserId;
use iamkit_store_memory::MemoryStore;
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

#[derive(Debug, Clone)]
enum Op {
    Issue {
        kind: usize,
        subject: usize,
    },
    Redeem {
        token: usize,
        minutes: i64,
        forge_kind: bool,
    },
    RevokeAll {
        subject: usize,
    },
    Advance {
        minutes: i64,
    },
}

const KINDS: [TokenKind; 4] = [
    TokenKind::Invite,
    TokenKind::PasswordReset { by_admin: true },
    TokenKind::PasswordReset { by_admin: false },
    TokenKind::EmailVerification,
];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..4usize, 0..3usize).prop_map(|(kind, subject)| Op::Issue { kind, subject }),
        (0..12usize, 0..120i64, any::<bool>()).prop_map(|(token, minutes, forge_kind)| {
            Op::Redeem {
                token,
                minutes,
                forge_kind,
            }
        }),
        (0..3usize).prop_map(|subject| Op::RevokeAll { subject }),
        (0..3_000i64).prop_map(|minutes| Op::Advance { minutes }),
    ]
}

/// The model: a list of records, updated by the rules in plain words.
#[derive(Default)]
struct Model {
    records: Vec<TokenRecord>,
}

impl Model {
    fn issue(&mut self, new: &TokenRecord) {
        for r in &mut self.records {
            let same_kind = r.kind.secret_kind() == new.kind.secret_kind();
            let pending = r.consumed_at.is_none() && r.revoked_at.is_none();
            if r.subject == new.subject && same_kind && pending {
                r.revoked_at = Some(new.created_at);
            }
        }
        self.records.push(new.clone());
    }

    fn redeem(&mut self, ix: usize, forged: bool, now: DateTime<Utc>) -> bool {
        let r = &mut self.records[ix];
        let ok = !forged && r.consumed_at.is_none() && r.revoked_at.is_none() && now < r.expires_at;
        if ok {
            r.consumed_at = Some(now);
        }
        ok
    }

    fn revoke_all(&mut self, subject: UserId, now: DateTime<Utc>) -> u64 {
        let mut n = 0;
        for r in &mut self.records {
            if r.subject == subject && r.consumed_at.is_none() && r.revoked_at.is_none() {
                r.revoked_at = Some(now);
                n += 1;
            }
        }
        n
    }
}

fn forge(secret: &PresentedSecret) -> PresentedSecret {
    let text = secret.to_text();
    let tag = secret.kind().tag();
    let other = if tag == "inv" { "rst" } else { "inv" };
    PresentedSecret::parse(
        &text
            .expose()
            .replacen(&format!("_{tag}_"), &format!("_{other}_"), 1),
    )
    .unwrap()
}

proptest! {
    #[test]
    fn memory_store_tokens_match_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let store = MemoryStore::new();
            let mut rng = StdRng::seed_from_u64(42);
            let mut now = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
            let subjects: Vec<UserId> = (0..3).map(|_| UserId::generate(now, &mut rng)).collect();
            let mut issued: Vec<IssuedToken> = Vec::new();
            let mut model = Model::default();
            for op in ops {
                let mut tx = store.begin().await.unwrap();
                match op {
                    Op::Issue { kind, subject } => {
                        now += Duration::seconds(1);
                        let t = issue_token(KINDS[kind], subjects[subject], &TokenConfig::default(), now, &mut rng);
                        tx.insert_token(t.record.clone()).await.unwrap();
                        model.issue(&t.record);
                        issued.push(t);
                    }
                    Op::Redeem { token, minutes, forge_kind } => {
                        if issued.is_empty() {
                            continue;
                        }
                        let ix = token % issued.len();
                        let at = now + Duration::minutes(minutes);
                        let presented = if forge_kind { forge(&issued[ix].secret) } else { issued[ix].secret.clone() };
                        let got = tx.consume_token(&presented, at).await.unwrap();
                        let expected = model.redeem(ix, forge_kind, at);
                        assert_eq!(got.is_some(), expected, "redeem #{ix} at +{minutes} min");
                    }
                    Op::RevokeAll { subject } => {
                        let got = tx.revoke_tokens_of(subjects[subject], now).await.unwrap();
                        assert_eq!(got, model.revoke_all(subjects[subject], now));
                    }
                    Op::Advance { minutes } => now += Duration::minutes(minutes),
                }
                tx.commit().await.unwrap();
            }
            let mut tx = store.begin().await.unwrap();
            for record in &model.records {
                assert_eq!(tx.get_token(record.id).await.unwrap().as_ref(), Some(record));
            }
        });
    }
}
