//! What every PostgreSQL test needs: the server's URL from
//! `IAMKIT_POSTGRES_URL`, and a fresh, migrated schema per test.
//!
//! When the variable is unset (a developer with only cargo), a test prints
//! a loud notice and returns early, so `cargo test --workspace` works with
//! nothing installed. When it is set, an unreachable server FAILS the test:
//! CI (`.ci/run`) always sets it, so CI never skips.

use iamkit_store_postgres::PgStore;

/// The variable naming the server, e.g.
/// `postgres://postgres@127.0.0.1:5432/test`.
pub const URL_VARIABLE: &str = "IAMKIT_POSTGRES_URL";

/// The server's URL, or `None` after a notice that the PostgreSQL tests
/// do not run.
///
/// The notice goes to the process's stderr handle, not through `eprintln!`
/// (which the test harness captures and shows only for failing tests), once
/// per test binary.
pub fn url_or_notice() -> Option<String> {
    static NOTICE: std::sync::Once = std::sync::Once::new();
    match std::env::var(URL_VARIABLE) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            NOTICE.call_once(|| {
                use std::io::Write as _;
                let binary = std::env::args().next().unwrap_or_default();
                let binary = std::path::Path::new(&binary)
                    .file_name()
                    .map_or(binary.clone(), |name| name.to_string_lossy().into_owned());
                // Best effort: a notice that cannot be written changes nothing.
                let _ = writeln!(
                    std::io::stderr(),
                    "\n!!! {URL_VARIABLE} is not set: the PostgreSQL tests of {binary} \
                     did NOT run (each returns early).\n\
                     !!! Set it (e.g. {URL_VARIABLE}=postgres://postgres@127.0.0.1:5432/test) \
                     to run them; CI (.ci/run) always does.\n"
                );
            });
            None
        }
    }
}

/// A store in a fresh schema of its own (dropped with the store), not yet
/// migrated.
///
/// # Panics
/// With a clear message when the server at `url` cannot be reached: the
/// variable is set, so the test must fail rather than skip.
#[expect(
    clippy::panic,
    reason = "test set-up: a set but unreachable server fails the test"
)]
pub async fn empty(url: &str) -> PgStore {
    match PgStore::temporary(url).await {
        Ok(store) => store,
        Err(e) => panic!(
            "{URL_VARIABLE} is set to {url:?}, but PostgreSQL there cannot be used: {e} ({:?})",
            std::error::Error::source(&e).map(ToString::to_string)
        ),
    }
}

/// [`empty`], migrated.
///
/// # Panics
/// As [`empty`], and when the migrations fail.
#[expect(
    clippy::panic,
    reason = "test set-up: a store that cannot migrate fails the test"
)]
pub async fn fresh(url: String) -> PgStore {
    let store = empty(&url).await;
    if let Err(e) = store.migrate().await {
        panic!(
            "migrations fail on {url:?}: {e} ({:?})",
            std::error::Error::source(&e).map(ToString::to_string)
        );
    }
    store
}
