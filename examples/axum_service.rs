//! A JSON HTTP service embedding iamkit with axum: sign-in with password
//! and TOTP behind a session cookie, API keys, admin endpoints, refusal of
//! cross-origin state-changing requests, a per-client rate limiter and a
//! development mailer draining the outbox. Everything
//! lives in `iamkit_examples::axum_service` (documented there, endpoints
//! and curl session included) so that `examples/tests/axum_service.rs`
//! drives the very same service.
//!
//! Run with `cargo run --example axum_service` (SQLite file), add
//! `-- --memory` for an in-memory database and
//! `--bootstrap-owner you@example.com` on the first start.

use iamkit_examples::axum_service::{Options, run};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(usage) => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    run(options).await
}
