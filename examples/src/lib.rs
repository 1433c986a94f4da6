//! The library half of iamkit's examples: code that an example's thin
//! `main` and its integration test share, so the test drives exactly the
//! service the example runs.
//!
//! - [`axum_service`]: a JSON HTTP service embedding [`iamkit::Iam`] with
//!   axum — sign-in with password and TOTP, session cookies and API keys,
//!   admin endpoints, refusal of cross-origin state-changing requests, a
//!   per-client rate limiter and a development mailer that drains the
//!   outbox. Run it with `cargo run --example axum_service`.

pub mod axum_service;

/// The top-level README, so that its guide's Rust snippets compile (and
/// run) as doctests of this crate.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeGuide;
