//! Where password hashes live. The credentials crate hashes and verifies;
//! this facade-owned repository stores the PHC string per account.

use std::future::Future;

use iamkit_credentials::PasswordHash;
use iamkit_identity::UserId;
use iamkit_store_api::StoreError;

/// Storage of password hashes (argon2id PHC strings), one per account.
pub trait PasswordRepository: Send {
    /// Sets (or replaces) the account's password hash.
    fn set_password_hash(
        &mut self,
        user: UserId,
        hash: &PasswordHash,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The account's password hash. MUST return `None` when it has none.
    fn get_password_hash(
        &mut self,
        user: UserId,
    ) -> impl Future<Output = Result<Option<PasswordHash>, StoreError>> + Send;

    /// Removes the account's password hash; returns whether there was one.
    fn delete_password_hash(
        &mut self,
        user: UserId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
