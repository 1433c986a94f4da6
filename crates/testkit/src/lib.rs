#![doc = include_str!("../README.md")]

use std::future::Future;

pub mod access_model;
pub mod audit;
pub mod change_log;
pub mod corruption;
pub mod credentials;
pub mod facade;
pub mod fixtures;
pub mod identity;
pub mod instances;
pub mod lockout;
pub mod rbac;
pub mod reauthentication;
pub mod sealing;
pub mod tenancy;

/// Runs one case on a fresh store from `factory`, on a multi-threaded
/// runtime so concurrency cases use real threads.
///
/// # Panics
/// When the case fails, like any test.
pub fn run_case<S, F, Fut, C, CFut>(factory: F, case: C)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = S>,
    C: FnOnce(S) -> CFut,
    CFut: Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("a tokio runtime for the conformance case");
    runtime.block_on(async move {
        let store = factory().await;
        case(store).await;
    });
}

/// Generates one `#[test]` per conformance case, grouped in modules by
/// domain, for the store made by `factory` (a closure returning a future of
/// a fresh store). The tests live in nested modules, so the factory names
/// items by absolute path (`crate::MyStore`, `my_adapter::MyStore`).
#[macro_export]
macro_rules! conformance_tests {
    ($factory:expr) => {
        $crate::__conformance_cases! { $factory;
            identity {
                user_round_trip,
                username_is_unique_case_insensitively,
                email_is_unique_case_insensitively,
                failed_insert_changes_nothing,
                update_user_keeps_uniqueness_and_requires_existence,
                delete_user_frees_username_email_and_memberships,
                rolled_back_transaction_leaves_nothing,
                dropped_transaction_rolls_back,
                concurrent_inserts_of_one_username_one_wins,
                organization_slug_is_unique,
                names_are_unique_within_an_organization,
                renames_and_deletes_keep_names_unique,
                memberships_contract,
                departments_contract,
                group_membership_contract,
                team_membership_contract,
                directory_filters,
                directory_pages_cover_every_match_once,
                directory_is_tenant_isolated,
            }
            lockout {
                security_38_concurrent_wrong_passwords_evaluate_at_most_the_limit,
                security_38_concurrent_wrong_codes_evaluate_at_most_the_limit,
            }
            reauthentication {
                security_39_sensitive_changes_need_a_recent_proof,
                security_39_the_previous_address_is_told_of_changes,
                security_40_the_second_factor_rotates_the_session_token,
            }
            tenancy {
                a_precreated_account_buys_no_access_and_the_mailbox_reclaims_it,
                another_organization_acts_on_its_membership_only,
                invitation_links_belong_to_their_organization,
                inherited_owners_are_guarded_like_direct_ones,
                a_foreign_workspace_grants_nothing,
                workspace_grants_are_checked_at_the_workspace,
                keys_stop_under_two_factor_enforcement,
                foreign_refusals_stay_out_of_the_targets_chain,
                no_organization_learns_which_addresses_have_accounts,
                access_requests_refuse_foreign_roles_when_filed,
                service_account_names_belong_to_their_organization,
                signed_in_acceptance_is_the_accounts_own,
                removing_a_member_ends_the_management_of_the_account,
            }
            audit {
                append_assigns_sequences_and_the_chain_verifies,
                concurrent_appends_are_gapless,
                rolled_back_append_leaves_no_event,
                queries_filter_and_paginate,
                organizations_are_isolated,
                scan_pages_ascending,
                deleted_users_keep_a_verifying_trail,
            }
            credentials {
                token_round_trip_and_single_use,
                token_id_is_unique,
                consume_refuses_invalid_tokens_alike,
                issuing_a_token_revokes_earlier_unused_ones_of_that_kind,
                revoke_tokens_of_invalidates_pending_links,
                concurrent_consumes_of_one_token_one_wins,
                dropped_consume_is_rolled_back,
                sessions_contract,
                api_keys_contract,
                totp_contract,
                totp_reseal_contract,
                concurrent_reseals_of_one_totp_secret_one_wins,
                concurrent_accepts_of_one_totp_step_one_wins,
                concurrent_confirms_of_one_enrolment_one_wins,
                recovery_codes_contract,
                concurrent_consumes_of_one_recovery_code_one_wins,
                throttle_contract,
                concurrent_reservations_stop_at_the_limit,
                concurrent_failures_are_all_counted,
            }
            rbac {
                custom_role_round_trip_and_listing,
                custom_role_names_are_unique_per_org,
                update_custom_role_contract,
                delete_custom_role_contract,
                assign_grant_replaces_one_role_per_scope,
                grant_listings_contract,
                rbac_changes_roll_back,
            }
            change_log {
                change_log_lists_a_range_in_version_order,
                change_log_holds_one_delta_per_version,
                change_log_rolls_back_with_the_bump,
                change_log_prunes_old_versions_only,
                change_log_is_tenant_isolated,
            }
            sealing {
                a_rotated_key_keeps_two_factor_and_links_working,
                reseal_runs_in_batches_and_resumes_after_a_crash,
                reseal_stops_at_a_value_no_key_opens,
            }
            access_model {
                access_model_holds_what_the_index_is_compiled_from,
                access_model_is_tenant_isolated,
            }
            facade {
                password_hash_round_trip,
                outbox_delivers_each_message_until_acknowledged,
                outbox_rolls_back_with_the_workflow,
                outbox_reseal_contract,
                access_requests_are_decided_once,
                service_accounts_contract,
                authz_versions_contract,
                pending_emails_contract,
                authentication_contexts_contract,
                store_authentication_contexts_match_a_read_transaction,
                active_members_contract,
            }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    ($factory:expr; $($domain:ident { $($case:ident),* $(,)? })*) => {
        $(
            mod $domain {
                $(
                    #[test]
                    fn $case() {
                        $crate::run_case($factory, $crate::$domain::$case);
                    }
                )*
            }
        )*
    };
}
