//! A JSON HTTP service embedding iamkit with axum through `iamkit-axum`:
//! its sign-in, self-service and admin API, plus the app's own "projects"
//! resource and a development mailer draining the outbox. The app's part
//! lives in `iamkit_examples::axum_service` (documented there, curl
//! session included) so that `examples/tests/axum_service.rs` drives the
//! very same service.
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
