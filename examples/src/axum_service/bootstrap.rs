//! First start: the organization and its first Owner.
//!
//! Why a flag and a link rather than a password: `--bootstrap-owner EMAIL`
//! (with optional names and slug) creates the organization with its Owner
//! through [`Iam::bootstrap_with_setup_link`] and prints a one-time link
//! secret on the operator's console. The Owner chooses a password by
//! redeeming it (`POST /password-resets/complete`). So:
//!
//! - no password is ever on a command line (visible in `ps` and shell
//!   history), in an environment variable or in a file;
//! - the link is single-use, expires (24 h), is stored only as a hash and
//!   is throttled like every link (SECURITY.md 2, 4, 5, 12);
//! - the console of the machine running the service is the out-of-band
//!   channel: whoever can start the service with this flag already controls
//!   the installation;
//! - it happens once: the organization is created in the same transaction
//!   as its Owner, and a restart with the flag still set finds the slug
//!   taken and changes nothing (no second Owner, no new link). Until the
//!   link is used nobody can sign in as the Owner.

use iamkit::{Actor, BootstrappedWithLink, Conflict, Error, Iam, NewAccount, Store};

/// Who the first Owner is and what their organization is called.
#[derive(Debug, Clone)]
pub struct FirstOwnerSpec {
    /// The organization's display name.
    pub org_name: String,
    /// The organization's URL handle (unique).
    pub org_slug: String,
    /// The Owner's account.
    pub owner: NewAccount,
}

impl FirstOwnerSpec {
    /// The spec for `email`: the username is the address's local part
    /// (lower-cased, characters outside `a-z 0-9 . _ -` replaced by `-`),
    /// the names "Organization Owner" unless given as `"First Last"`.
    pub fn for_email(email: &str, full_name: Option<&str>, org_name: &str, org_slug: &str) -> Self {
        let local = email.split('@').next().unwrap_or_default();
        let username: String = local
            .chars()
            .map(|c| {
                let c = c.to_ascii_lowercase();
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let (first_name, last_name) = full_name
            .map(str::trim)
            .and_then(|n| n.split_once(char::is_whitespace))
            .map_or(("Organization", "Owner"), |(first, last)| {
                (first.trim(), last.trim())
            });
        Self {
            org_name: org_name.to_owned(),
            org_slug: org_slug.to_owned(),
            owner: NewAccount {
                username,
                email: email.to_owned(),
                first_name: first_name.to_owned(),
                last_name: last_name.to_owned(),
                language: None,
            },
        }
    }
}

/// Creates the organization and its first Owner, and returns the one-time
/// link secret that sets the Owner's password; `Ok(None)` when the
/// organization already exists (an earlier start bootstrapped it).
///
/// # Errors
/// A field that fails validation ([`Error::InvalidInput`] naming it), an
/// email or username already taken ([`Error::Conflict`]), a store failure.
pub async fn bootstrap_first_owner<S: Store>(
    iam: &Iam<S>,
    spec: &FirstOwnerSpec,
) -> iamkit::Result<Option<BootstrappedWithLink>> {
    match iam
        .bootstrap_with_setup_link(
            &Actor::system(),
            &spec.org_name,
            &spec.org_slug,
            &spec.owner,
        )
        .await
    {
        Ok(done) => Ok(Some(done)),
        // The slug is the only name bootstrap can find taken.
        Err(Error::Conflict(Conflict::NameTaken)) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_derives_a_username_and_splits_the_name() {
        let spec = FirstOwnerSpec::for_email(
            "Ada+Ops@Acme.example",
            Some(" Ada  Lovelace "),
            "Acme",
            "acme",
        );
        assert_eq!(spec.owner.username, "ada-ops");
        assert_eq!(spec.owner.first_name, "Ada");
        assert_eq!(spec.owner.last_name, "Lovelace");
        let spec = FirstOwnerSpec::for_email("root@acme.example", None, "Acme", "acme");
        assert_eq!(
            (
                spec.owner.first_name.as_str(),
                spec.owner.last_name.as_str()
            ),
            ("Organization", "Owner")
        );
    }
}
