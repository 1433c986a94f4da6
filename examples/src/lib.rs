//! The library half of iamkit's examples: code that an example's thin
//! `main` and its integration test share, so the test drives exactly the
//! service the example runs.
//!
//! - [`axum_service`]: a JSON HTTP service embedding [`iamkit::Iam`] with
//!   axum through [`iamkit_axum`] (sign-in, self-service and admin API,
//!   cookies, API keys, cross-origin refusal, rate limiting, OpenAPI),
//!   plus what is the app's own: a "projects" resource guarded by app
//!   permissions, a development mailer that drains the outbox, and the
//!   first Owner's bootstrap. Run it with `cargo run --example
//!   axum_service`.

pub mod axum_service;

/// The top-level README, so that its guide's Rust snippets compile (and
/// run) as doctests of this crate.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeGuide;
