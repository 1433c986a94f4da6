//! Paths used by [`define_id!`](crate::define_id) in other crates. Not public API.

pub use chrono::{DateTime, Utc};
pub use rand::CryptoRng;
pub use serde;
pub use uuid::{self, Uuid};

/// Builds a UUIDv7 from `now` and 10 random bytes of `rng`.
pub fn uuid_v7(now: DateTime<Utc>, rng: &mut (impl CryptoRng + ?Sized)) -> Uuid {
    let millis = u64::try_from(now.timestamp_millis()).unwrap_or(0);
    let mut random = [0u8; 10];
    rng.fill_bytes(&mut random);
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}
