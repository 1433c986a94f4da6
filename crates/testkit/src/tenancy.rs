//! Tenant isolation of accounts, through the [`Iam`] facade: what an admin
//! of one organization (Globex) can do to the people of another (Acme),
//! for an account shared by both. Each case is one attack of the security
//! review of issue 15 (SECURITY.md 32–37) and asserts that it fails and
//! changes nothing on Acme's side (store, checks, audit chain).
//!
//! Acme is bootstrapped by `owner`, Globex by `gowner`; every account is
//! `<name>@acme.example` (see [`account`]).

use iamkit::audit::{ActionKind, AuditRepository, EventQuery};
use iamkit::credentials::{ClientMetadata, NewApiKey, Password};
use iamkit::identity::{
    OrgId, OrganizationRepository, UserId, UserRepository, UserStatus, WorkspaceId,
};
use iamkit::rbac::{AssignableAt, BuiltinRole, Collective, Scope};
use iamkit::{
    Actor, Error, Iam, MessageKind, Placement, ProfileUpdate, RequestedChange, RoleSpec, Store,
    Transaction,
};

use crate::instances::{PASSWORD, account, bootstrap, clock, iam_over, link_for, member, sign_in};

/// Another password than [`PASSWORD`].
const SQUATTER_PASSWORD: &str = "globex chose this secret phrase";
const RECLAIMED_PASSWORD: &str = "the mailbox owner proves it here";

/// Number of events in `org`'s chain.
async fn chain_len<S: Store>(store: &S, org: OrgId) -> u64 {
    let mut tx = store.begin().await.expect("workflow step");
    let head = tx.audit_head(org).await.expect("workflow step");
    tx.rollback().await.expect("workflow step");
    head.seq
}

/// The kinds of `org`'s events, newest first.
async fn chain_kinds<S: Store>(store: &S, org: OrgId) -> Vec<ActionKind> {
    let mut tx = store.begin().await.expect("workflow step");
    let page = tx
        .query_events(org, &EventQuery::default())
        .await
        .expect("workflow step");
    tx.rollback().await.expect("workflow step");
    page.items.iter().map(|e| e.action.kind()).collect()
}

async fn membership_status<S: Store>(store: &S, org: OrgId, user: UserId) -> Option<UserStatus> {
    let mut tx = store.begin().await.expect("workflow step");
    let m = tx.get_membership(org, user).await.expect("workflow step");
    tx.rollback().await.expect("workflow step");
    m.map(|m| m.status)
}

async fn account_status<S: Store>(store: &S, user: UserId) -> Option<UserStatus> {
    let mut tx = store.begin().await.expect("workflow step");
    let u = tx.get_user(user).await.expect("workflow step");
    tx.rollback().await.expect("workflow step");
    u.map(|u| u.status)
}

/// Signs `who` in with `password`; `None` when refused.
async fn try_sign_in<S: Store>(iam: &Iam<S>, who: &str, password: &str) -> Option<Actor> {
    let signed = iam
        .log_in(who, &Password::new(password), ClientMetadata::default())
        .await
        .ok()?;
    iam.authenticate_session(signed.token.expose()).await.ok()
}

/// Two organizations on one `Iam`: Acme (`owner`) and Globex (`gowner`).
struct Tenants<S: Store> {
    store: S,
    iam: Iam<S>,
    acme: OrgId,
    owner: Actor,
    globex: OrgId,
    gowner: Actor,
}

async fn tenants<S: Store>(store: S) -> Tenants<S> {
    let iam = iam_over(&store, &clock());
    let (acme, _, owner) = bootstrap(&iam, "acme", "owner").await;
    let (globex, _, gowner) = bootstrap(&iam, "globex", "gowner").await;
    Tenants {
        store,
        iam,
        acme,
        owner,
        globex,
        gowner,
    }
}

/// Issue 15, sequence 1: Globex pre-creates an account for an Acme address
/// with a password it chose. Acme's invitation attaches nothing: Globex,
/// signed in as the account, holds nothing in Acme; the mailbox's owner
/// accepts and reclaims the account, which ends Globex's sessions and its
/// password, and both trails record it (SECURITY.md 33).
pub async fn a_precreated_account_buys_no_access_and_the_mailbox_reclaims_it<S: Store>(store: S) {
    let t = tenants(store).await;
    let jane = t
        .iam
        .create_user(
            &t.gowner,
            t.globex,
            &account("jane"),
            Password::new(SQUATTER_PASSWORD),
            &Placement::default(),
        )
        .await
        .expect("workflow step");
    let admin = Placement {
        org_role: Some(BuiltinRole::Admin.id()),
        ..Placement::default()
    };
    let invited = t
        .iam
        .invite(&t.owner, t.acme, &account("jane"), &admin)
        .await
        .expect("workflow step");
    assert_eq!(invited.user, jane);
    assert_eq!(
        membership_status(&t.store, t.acme, jane).await,
        Some(UserStatus::Invited)
    );
    let squatter = try_sign_in(&t.iam, "jane", SQUATTER_PASSWORD)
        .await
        .expect("Globex knows the password it chose");
    let acme = Scope::Organization(t.acme);
    assert!(!t.iam.is_allowed(&squatter, "users.invite", acme).await);
    assert!(!t.iam.is_allowed(&squatter, "users.read", acme).await);

    let link = link_for(&t.iam, jane, MessageKind::Invitation).await;
    // Even holding the link, a session of the unverified account is no
    // consent: the address must be proved (and the account reclaimed).
    let refused = t.iam.accept_invitation_signed_in(&squatter, &link).await;
    assert!(
        matches!(refused, Err(Error::InvalidCredentials)),
        "{refused:?}"
    );
    assert_eq!(
        membership_status(&t.store, t.acme, jane).await,
        Some(UserStatus::Invited)
    );
    t.iam
        .accept_invitation(&link, Password::new(RECLAIMED_PASSWORD))
        .await
        .expect("the mailbox's owner accepts");
    // Globex's session and password are gone; Jane's work.
    assert!(
        !t.iam
            .is_allowed(&squatter, "users.read", Scope::Organization(t.globex))
            .await
    );
    assert!(
        try_sign_in(&t.iam, "jane", SQUATTER_PASSWORD)
            .await
            .is_none()
    );
    let real = try_sign_in(&t.iam, "jane", RECLAIMED_PASSWORD)
        .await
        .expect("the reclaimed password signs in");
    assert!(t.iam.is_allowed(&real, "users.invite", acme).await);
    for org in [t.acme, t.globex] {
        assert!(
            chain_kinds(&t.store, org)
                .await
                .contains(&ActionKind::AccountReclaimed),
            "both trails record the reclaim"
        );
    }
    // Globex no longer manages the account: it can suspend its own
    // membership, not the account.
    t.iam
        .deactivate(&t.gowner, t.globex, jane)
        .await
        .expect("workflow step");
    assert_eq!(
        account_status(&t.store, jane).await,
        Some(UserStatus::Active)
    );
    let real = sign_in_as(&t.iam, "jane", RECLAIMED_PASSWORD).await;
    assert!(t.iam.is_allowed(&real, "users.invite", acme).await);
}

async fn sign_in_as<S: Store>(iam: &Iam<S>, who: &str, password: &str) -> Actor {
    try_sign_in(iam, who, password)
        .await
        .expect("workflow step")
}

/// Issue 15, sequence 2: Globex invites an Acme member. Nothing happens to
/// her until she accepts (as herself); once she has, Globex acts on its own
/// membership only: suspending her there leaves her Acme session, keys and
/// standing alone, and the account-level workflows answer `NotManaged`
/// (SECURITY.md 32, 33).
pub async fn another_organization_acts_on_its_membership_only<S: Store>(store: S) {
    let t = tenants(store).await;
    let (bea, bea_actor) = member(&t.iam, &t.owner, t.acme, "bea", BuiltinRole::Admin).await;
    let acme = Scope::Organization(t.acme);
    let globex = Scope::Organization(t.globex);
    let reader = Placement {
        org_role: Some(BuiltinRole::ReadOnly.id()),
        ..Placement::default()
    };
    t.iam
        .invite(&t.gowner, t.globex, &account("bea"), &reader)
        .await
        .expect("workflow step");
    assert_eq!(
        membership_status(&t.store, t.globex, bea).await,
        Some(UserStatus::Invited)
    );
    // Not yet a member: an invited membership cannot be deactivated.
    assert!(t.iam.deactivate(&t.gowner, t.globex, bea).await.is_err());
    assert!(!t.iam.is_allowed(&bea_actor, "users.read", globex).await);
    let link = link_for(&t.iam, bea, MessageKind::Invitation).await;
    t.iam
        .accept_invitation(&link, Password::new(PASSWORD))
        .await
        .expect("bea consents with her password");
    let bea_actor = sign_in(&t.iam, "bea").await;
    assert!(t.iam.is_allowed(&bea_actor, "users.read", globex).await);

    let acme_before = chain_len(&t.store, t.acme).await;
    t.iam
        .deactivate(&t.gowner, t.globex, bea)
        .await
        .expect("Globex suspends its membership");
    assert_eq!(
        membership_status(&t.store, t.globex, bea).await,
        Some(UserStatus::Deactivated)
    );
    assert_eq!(
        account_status(&t.store, bea).await,
        Some(UserStatus::Active)
    );
    assert!(!t.iam.is_allowed(&bea_actor, "users.read", globex).await);
    assert!(t.iam.is_allowed(&bea_actor, "users.invite", acme).await);
    for refused in [
        t.iam
            .revoke_sessions_of_user(&t.gowner, t.globex, bea)
            .await
            .map(|_| ()),
        t.iam
            .update_profile(
                &t.gowner,
                t.globex,
                bea,
                &ProfileUpdate {
                    first_name: Some("Mallory".to_owned()),
                    ..ProfileUpdate::default()
                },
            )
            .await,
        t.iam.send_password_reset(&t.gowner, t.globex, bea).await,
    ] {
        assert!(matches!(refused, Err(Error::NotManaged)), "{refused:?}");
    }
    let detail = t
        .iam
        .user_detail(&t.gowner, t.globex, bea)
        .await
        .expect("workflow step");
    assert!(detail.sessions.is_empty(), "Globex sees no Acme sessions");
    // Removing her from Globex deletes the membership, not the account.
    t.iam
        .delete_user(&t.gowner, t.globex, bea)
        .await
        .expect("workflow step");
    assert_eq!(membership_status(&t.store, t.globex, bea).await, None);
    assert_eq!(
        account_status(&t.store, bea).await,
        Some(UserStatus::Active)
    );
    assert_eq!(chain_len(&t.store, t.acme).await, acme_before);
    let bea_actor = sign_in(&t.iam, "bea").await;
    assert!(t.iam.is_allowed(&bea_actor, "users.invite", acme).await);
}

/// An invitation link belongs to its organization: Globex re-inviting an
/// address never kills Acme's pending link (SECURITY.md 35).
pub async fn invitation_links_belong_to_their_organization<S: Store>(store: S) {
    let t = tenants(store).await;
    let invited = t
        .iam
        .invite(&t.owner, t.acme, &account("carol"), &Placement::default())
        .await
        .expect("workflow step");
    let acme_link = link_for(&t.iam, invited.user, MessageKind::Invitation).await;
    t.iam
        .invite(
            &t.gowner,
            t.globex,
            &account("carol"),
            &Placement::default(),
        )
        .await
        .expect("workflow step");
    t.iam
        .resend_invitation(&t.gowner, t.globex, invited.user)
        .await
        .expect("workflow step");
    t.iam
        .accept_invitation(&acme_link, Password::new(PASSWORD))
        .await
        .expect("Acme's link still works");
    assert_eq!(
        membership_status(&t.store, t.acme, invited.user).await,
        Some(UserStatus::Active)
    );
    // Only Acme's membership became active.
    assert_eq!(
        membership_status(&t.store, t.globex, invited.user).await,
        Some(UserStatus::Invited)
    );
}

/// Issue 15, sequence 3: an Owner through a group is an effective Owner.
/// An Admin can neither deactivate nor delete them, nor can a Requester
/// and an Approver offboard them (SECURITY.md 37).
pub async fn inherited_owners_are_guarded_like_direct_ones<S: Store>(store: S) {
    let t = tenants(store).await;
    let (olga, _) = member(&t.iam, &t.owner, t.acme, "olga", BuiltinRole::ReadOnly).await;
    let owners = t
        .iam
        .create_group(&t.owner, t.acme, "Owners")
        .await
        .expect("workflow step");
    let group = Collective::Group(owners);
    t.iam
        .set_collective_role(
            &t.owner,
            group,
            Scope::Organization(t.acme),
            Some(BuiltinRole::Owner.id()),
        )
        .await
        .expect("workflow step");
    t.iam
        .add_member(
            &t.owner,
            t.acme,
            group,
            olga,
            iamkit::identity::TeamRole::Member,
        )
        .await
        .expect("workflow step");
    let (_, admin) = member(&t.iam, &t.owner, t.acme, "adam", BuiltinRole::Admin).await;
    let (_, requester) = member(&t.iam, &t.owner, t.acme, "rita", BuiltinRole::Requester).await;
    let (_, approver) = member(&t.iam, &t.owner, t.acme, "abe", BuiltinRole::Approver).await;

    assert!(t.iam.deactivate(&admin, t.acme, olga).await.is_err());
    assert!(t.iam.delete_user(&admin, t.acme, olga).await.is_err());
    let request = t
        .iam
        .request_access(
            &requester,
            t.acme,
            RequestedChange::Offboarding { user: olga },
        )
        .await
        .expect("workflow step");
    assert!(
        t.iam
            .approve_access_request(&approver, t.acme, request)
            .await
            .is_err()
    );
    assert_eq!(
        membership_status(&t.store, t.acme, olga).await,
        Some(UserStatus::Active)
    );
    assert_eq!(
        account_status(&t.store, olga).await,
        Some(UserStatus::Active)
    );
    // An Owner may.
    t.iam
        .deactivate(&t.owner, t.acme, olga)
        .await
        .expect("an Owner acts on an effective Owner");
    // Reactivating gives Owner back: an Admin may not.
    assert!(t.iam.reactivate(&admin, t.acme, olga).await.is_err());
    assert_eq!(
        membership_status(&t.store, t.acme, olga).await,
        Some(UserStatus::Deactivated)
    );
}

/// Issue 15, sequence 4: a check naming another organization's workspace
/// is denied, warm or cold (SECURITY.md 36).
pub async fn a_foreign_workspace_grants_nothing<S: Store>(store: S) {
    let t = tenants(store).await;
    let acme_ws = t
        .iam
        .create_workspace(&t.owner, t.acme, "Operations")
        .await
        .expect("workflow step");
    let globex_ws = t
        .iam
        .create_workspace(&t.gowner, t.globex, "Operations")
        .await
        .expect("workflow step");
    let gowner = sign_in(&t.iam, "gowner").await;
    for _ in 0..2 {
        // Once cold (store path), once warm (cached index).
        assert!(
            t.iam
                .is_allowed(&gowner, "users.read", Scope::Workspace(t.globex, globex_ws))
                .await
        );
        assert!(
            !t.iam
                .is_allowed(&gowner, "users.read", Scope::Workspace(t.globex, acme_ws))
                .await
        );
    }
    let unknown = WorkspaceId::from_uuid(iamkit::identity::__private::Uuid::from_u128(7));
    assert!(
        !t.iam
            .is_allowed(&gowner, "users.read", Scope::Workspace(t.globex, unknown))
            .await
    );
}

/// Grants are checked at the scope granted: an actor who may assign roles
/// at the organization, but holds nothing in a workspace, can give nobody
/// a role there, neither by invitation nor through a group (SECURITY.md 37).
pub async fn workspace_grants_are_checked_at_the_workspace<S: Store>(store: S) {
    let t = tenants(store).await;
    let ws = t
        .iam
        .create_workspace(&t.owner, t.acme, "Payments")
        .await
        .expect("workflow step");
    let role = t
        .iam
        .create_custom_role(
            &t.owner,
            t.acme,
            &RoleSpec {
                name: "Recruiter".to_owned(),
                permissions: [
                    "users.read",
                    "users.invite",
                    "roles.assign",
                    "groups.manage",
                ]
                .map(str::to_owned)
                .to_vec(),
                assignable_at: AssignableAt::ANY,
            },
        )
        .await
        .expect("workflow step");
    let placement = Placement {
        org_role: Some(role),
        ..Placement::default()
    };
    let invited = t
        .iam
        .invite(&t.owner, t.acme, &account("rex"), &placement)
        .await
        .expect("workflow step");
    let link = link_for(&t.iam, invited.user, MessageKind::Invitation).await;
    t.iam
        .accept_invitation(&link, Password::new(PASSWORD))
        .await
        .expect("workflow step");
    let rex = sign_in(&t.iam, "rex").await;
    let approver_in_ws = Placement {
        workspace_roles: vec![(ws, BuiltinRole::Approver.id())],
        ..Placement::default()
    };
    let refused = t
        .iam
        .invite(&rex, t.acme, &account("wendy"), &approver_in_ws)
        .await;
    assert!(
        matches!(refused, Err(Error::Escalation { .. })),
        "{refused:?}"
    );
    let group = t
        .iam
        .create_group(&t.owner, t.acme, "Payments approvers")
        .await
        .expect("workflow step");
    t.iam
        .set_collective_role(
            &t.owner,
            Collective::Group(group),
            Scope::Workspace(t.acme, ws),
            Some(BuiltinRole::Approver.id()),
        )
        .await
        .expect("workflow step");
    let (dora, _) = member(&t.iam, &t.owner, t.acme, "dora", BuiltinRole::ReadOnly).await;
    let refused = t
        .iam
        .add_member(
            &rex,
            t.acme,
            Collective::Group(group),
            dora,
            iamkit::identity::TeamRole::Member,
        )
        .await;
    assert!(
        matches!(refused, Err(Error::Escalation { .. })),
        "{refused:?}"
    );
}

/// SECURITY.md 19 for keys: a member's key made before the organization
/// required 2FA stops when it does; a service account's key goes on.
pub async fn keys_stop_under_two_factor_enforcement<S: Store>(store: S) {
    let t = tenants(store).await;
    let ws = t
        .iam
        .create_workspace(&t.owner, t.acme, "Build")
        .await
        .expect("workflow step");
    let new_key = || NewApiKey {
        name: "ci".to_owned(),
        workspace: ws,
        restriction: None,
        expires_at: None,
    };
    let (_, admin) = member(&t.iam, &t.owner, t.acme, "adam", BuiltinRole::Admin).await;
    let created = t
        .iam
        .create_api_key(&admin, t.acme, new_key())
        .await
        .expect("workflow step");
    let robot = t
        .iam
        .create_service_account(
            &t.owner,
            t.acme,
            "robot",
            "Robot",
            &Placement {
                org_role: Some(BuiltinRole::Admin.id()),
                ..Placement::default()
            },
        )
        .await
        .expect("workflow step");
    let robot_key = t
        .iam
        .create_service_account_key(&t.owner, t.acme, robot, new_key())
        .await
        .expect("workflow step");
    let scope = Scope::Workspace(t.acme, ws);
    let key = t
        .iam
        .authenticate_api_key(created.secret.expose())
        .await
        .expect("workflow step");
    let robot_actor = t
        .iam
        .authenticate_api_key(robot_key.secret.expose())
        .await
        .expect("workflow step");
    assert!(t.iam.is_allowed(&key, "users.read", scope).await);
    t.iam
        .set_two_factor_required(&t.owner, t.acme, true)
        .await
        .expect("workflow step");
    let key = t
        .iam
        .authenticate_api_key(created.secret.expose())
        .await
        .expect("workflow step");
    assert!(!t.iam.is_allowed(&key, "users.read", scope).await);
    assert!(t.iam.is_allowed(&robot_actor, "users.read", scope).await);
}

/// SECURITY.md 35: another tenant's Owner calling Acme's workflows with
/// Acme's ids writes nothing into Acme's chain (at most one event, rate
/// limited, into Globex's own) and changes nothing.
pub async fn foreign_refusals_stay_out_of_the_targets_chain<S: Store>(store: S) {
    let t = tenants(store).await;
    let (bea, _) = member(&t.iam, &t.owner, t.acme, "bea", BuiltinRole::Admin).await;
    let acme_before = chain_len(&t.store, t.acme).await;
    let globex_before = chain_len(&t.store, t.globex).await;
    let g = &t.gowner;
    let outcomes = [
        t.iam.deactivate(g, t.acme, bea).await,
        t.iam.reactivate(g, t.acme, bea).await,
        t.iam.delete_user(g, t.acme, bea).await,
        t.iam.send_password_reset(g, t.acme, bea).await,
        t.iam
            .change_org_role(g, t.acme, bea, Some(BuiltinRole::Owner.id()))
            .await
            .map(|_| ()),
        t.iam
            .revoke_sessions_of_user(g, t.acme, bea)
            .await
            .map(|_| ()),
        t.iam.user_detail(g, t.acme, bea).await.map(|_| ()),
        t.iam
            .invite(g, t.acme, &account("spy"), &Placement::default())
            .await
            .map(|_| ()),
        t.iam.resend_invitation(g, t.acme, bea).await,
    ];
    for outcome in outcomes {
        assert!(matches!(outcome, Err(Error::NotFound)), "{outcome:?}");
    }
    assert_eq!(chain_len(&t.store, t.acme).await, acme_before);
    assert_eq!(chain_len(&t.store, t.globex).await, globex_before + 1);
    assert_eq!(
        account_status(&t.store, bea).await,
        Some(UserStatus::Active)
    );
}

/// SECURITY.md 34: `create_user`, `invite` and `request_email_change`
/// answer alike whether or not the address has an account elsewhere.
pub async fn no_organization_learns_which_addresses_have_accounts<S: Store>(store: S) {
    let t = tenants(store).await;
    let (bea, bea_actor) = member(&t.iam, &t.owner, t.acme, "bea", BuiltinRole::Admin).await;
    let mut taken = account("bea");
    taken.username = "bea-at-globex".to_owned();
    let mut fresh = account("zoe");
    fresh.username = "zoe-at-globex".to_owned();
    for who in [&taken, &fresh] {
        t.iam
            .create_user(
                &t.gowner,
                t.globex,
                who,
                Password::new(SQUATTER_PASSWORD),
                &Placement::default(),
            )
            .await
            .expect("the same answer for a taken and a fresh address");
    }
    // The taken address got an invitation, not a second account, and Globex
    // holds no password for it.
    assert_eq!(
        membership_status(&t.store, t.globex, bea).await,
        Some(UserStatus::Invited)
    );
    assert!(
        try_sign_in(&t.iam, "bea", SQUATTER_PASSWORD)
            .await
            .is_none()
    );
    assert!(
        try_sign_in(&t.iam, "bea-at-globex", SQUATTER_PASSWORD)
            .await
            .is_none()
    );
    let gowner = sign_in(&t.iam, "gowner").await;
    t.iam
        .request_email_change(&gowner, "bea@acme.example")
        .await
        .expect("the same answer as for a free address");
    t.iam
        .request_email_change(&gowner, "free@acme.example")
        .await
        .expect("workflow step");
    assert!(
        t.iam
            .is_allowed(&bea_actor, "users.invite", Scope::Organization(t.acme))
            .await
    );
}

/// A request naming another organization's custom role is refused when
/// filed, and nothing is stored.
pub async fn access_requests_refuse_foreign_roles_when_filed<S: Store>(store: S) {
    let t = tenants(store).await;
    let globex_role = t
        .iam
        .create_custom_role(
            &t.gowner,
            t.globex,
            &RoleSpec {
                name: "Globex reader".to_owned(),
                permissions: vec!["users.read".to_owned()],
                assignable_at: AssignableAt::ANY,
            },
        )
        .await
        .expect("workflow step");
    let (bea, requester) = member(&t.iam, &t.owner, t.acme, "bea", BuiltinRole::Requester).await;
    let before = chain_len(&t.store, t.acme).await;
    let refused = t
        .iam
        .request_access(
            &requester,
            t.acme,
            RequestedChange::Role {
                user: bea,
                scope: Scope::Organization(t.acme),
                role: Some(globex_role),
            },
        )
        .await;
    assert!(
        matches!(refused, Err(Error::RoleNotAssignable)),
        "{refused:?}"
    );
    assert_eq!(chain_len(&t.store, t.acme).await, before);
    let listed = t
        .iam
        .list_access_requests(&t.owner, t.acme)
        .await
        .expect("workflow step");
    assert!(listed.is_empty());
}

/// Service-account names belong to their organization (SECURITY.md 34):
/// Acme and Globex may both have `ci-bot`; one organization cannot have two;
/// and no person can take a service account's username or address, so no
/// tenant probes or squats another's.
pub async fn service_account_names_belong_to_their_organization<S: Store>(store: S) {
    let t = tenants(store).await;
    for (actor, org) in [(&t.owner, t.acme), (&t.gowner, t.globex)] {
        t.iam
            .create_service_account(actor, org, "ci-bot", "CI", &Placement::default())
            .await
            .expect("each organization has its own `ci-bot`");
    }
    let again = t
        .iam
        .create_service_account(&t.owner, t.acme, "ci-bot", "CI", &Placement::default())
        .await;
    assert!(
        matches!(again, Err(Error::Conflict(iamkit::Conflict::UsernameTaken))),
        "{again:?}"
    );
    let mut squatter = account("squat");
    squatter.username = "sa.acme.deploy".to_owned();
    let refused = t
        .iam
        .invite(&t.gowner, t.globex, &squatter, &Placement::default())
        .await;
    assert!(
        matches!(&refused, Err(Error::InvalidInput(i)) if i.field == "username"),
        "{refused:?}"
    );
    let mut squatter = account("squat");
    squatter.email = "sa.acme.ci-bot@service-accounts.invalid".to_owned();
    let refused = t
        .iam
        .create_user(
            &t.gowner,
            t.globex,
            &squatter,
            Password::new(SQUATTER_PASSWORD),
            &Placement::default(),
        )
        .await;
    assert!(
        matches!(&refused, Err(Error::InvalidInput(i)) if i.field == "email"),
        "{refused:?}"
    );
    t.iam
        .create_service_account(&t.owner, t.acme, "deploy", "Deploy", &Placement::default())
        .await
        .expect("the name Globex tried to squat is free");
}

/// SECURITY.md 33: a signed-in session is consent only for its own
/// account. Another member's session cannot use the link; the holder's
/// can, and only the inviting organization's membership becomes active.
pub async fn signed_in_acceptance_is_the_accounts_own<S: Store>(store: S) {
    let t = tenants(store).await;
    let (bea, bea_actor) = member(&t.iam, &t.owner, t.acme, "bea", BuiltinRole::ReadOnly).await;
    let (_, carl) = member(&t.iam, &t.owner, t.acme, "carl", BuiltinRole::ReadOnly).await;
    t.iam
        .invite(&t.gowner, t.globex, &account("bea"), &Placement::default())
        .await
        .expect("workflow step");
    let link = link_for(&t.iam, bea, MessageKind::Invitation).await;
    let refused = t.iam.accept_invitation_signed_in(&carl, &link).await;
    assert!(
        matches!(refused, Err(Error::InvalidCredentials)),
        "{refused:?}"
    );
    assert_eq!(
        membership_status(&t.store, t.globex, bea).await,
        Some(UserStatus::Invited)
    );
    let joined = t
        .iam
        .accept_invitation_signed_in(&bea_actor, &link)
        .await
        .expect("bea accepts as herself");
    assert_eq!(joined, bea);
    assert_eq!(
        membership_status(&t.store, t.globex, bea).await,
        Some(UserStatus::Active)
    );
    // The link is used up.
    let again = t.iam.accept_invitation_signed_in(&bea_actor, &link).await;
    assert!(matches!(again, Err(Error::InvalidCredentials)), "{again:?}");
}

/// SECURITY.md 32: management lasts as long as the membership. Acme
/// created Dana; Globex invited her (pending). When Acme removes her, the
/// account stays (it has Globex's invitation) but Acme manages it no more.
pub async fn removing_a_member_ends_the_management_of_the_account<S: Store>(store: S) {
    let t = tenants(store).await;
    let (dana, _) = member(&t.iam, &t.owner, t.acme, "dana", BuiltinRole::ReadOnly).await;
    let managed_by = |store: S| async move {
        let mut tx = store.begin().await.expect("workflow step");
        let user = tx.get_user(dana).await.expect("workflow step");
        tx.rollback().await.expect("workflow step");
        user.map(|u| u.managed_by)
    };
    assert_eq!(managed_by(t.store.clone()).await, Some(Some(t.acme)));
    t.iam
        .invite(&t.gowner, t.globex, &account("dana"), &Placement::default())
        .await
        .expect("workflow step");
    assert_eq!(managed_by(t.store.clone()).await, Some(Some(t.acme)));
    t.iam
        .delete_user(&t.owner, t.acme, dana)
        .await
        .expect("workflow step");
    assert_eq!(membership_status(&t.store, t.acme, dana).await, None);
    assert_eq!(managed_by(t.store.clone()).await, Some(None));
}
