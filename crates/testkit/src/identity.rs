//! Conformance cases of the identity repositories.

use std::sync::Arc;

use iamkit::{Store, Transaction};
use iamkit_identity::{
    DirectoryQuery, Email, GroupRepository, Name, OrganizationRepository, TeamMember,
    TeamRepository, TeamRole, User, UserRepository, UserStatus, Username, WorkspaceRepository,
};
use iamkit_store_api::{ErrorKind, StoreError};

use crate::fixtures::Fixture;

fn assert_unique<T: std::fmt::Debug>(result: Result<T, StoreError>, constraint: &str) {
    match result {
        Err(e) => assert_eq!(
            e.kind(),
            &ErrorKind::UniqueViolation {
                constraint: constraint.into()
            },
            "expected unique violation of {constraint}"
        ),
        Ok(v) => panic!("expected unique violation of {constraint}, got Ok({v:?})"),
    }
}

fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    match result {
        Err(e) => assert_eq!(e.kind(), &ErrorKind::NotFound, "expected NotFound, got {e}"),
        Ok(v) => panic!("expected NotFound, got Ok({v:?})"),
    }
}

async fn insert_users<S: Store>(store: &S, users: &[&User]) {
    let mut tx = store.begin().await.expect("begin");
    for user in users {
        tx.insert_user(user).await.expect("insert user");
    }
    tx.commit().await.expect("commit");
}

/// An inserted user reads back equal, by id, username and email.
pub async fn user_round_trip<S: Store>(store: S) {
    let mut f = Fixture::default();
    let alice = f.user("alice");
    insert_users(&store, &[&alice]).await;
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        tx.get_user(alice.id).await.expect("get"),
        Some(alice.clone())
    );
    let by_name = tx
        .find_user_by_username(&Username::parse("ALICE").expect("valid"))
        .await;
    assert_eq!(by_name.expect("find"), Some(alice.clone()));
    let by_email = tx
        .find_user_by_email(&Email::parse("Alice@EXAMPLE.com").expect("valid"))
        .await;
    assert_eq!(by_email.expect("find"), Some(alice.clone()));
    let unknown = f.user("nobody");
    assert_eq!(tx.get_user(unknown.id).await.expect("get"), None);
    assert_eq!(
        tx.find_user_by_email(&unknown.email).await.expect("find"),
        None
    );
}

/// `users_username` is enforced case-insensitively.
pub async fn username_is_unique_case_insensitively<S: Store>(store: S) {
    let mut f = Fixture::default();
    let alice = f.user("alice");
    insert_users(&store, &[&alice]).await;
    let mut twin = f.user("someone");
    twin.username = Username::parse("Alice").expect("valid");
    let mut tx = store.begin().await.expect("begin");
    assert_unique(tx.insert_user(&twin).await, "users_username");
    let mut same_id = f.user("other");
    same_id.id = alice.id;
    assert_unique(tx.insert_user(&same_id).await, "users_pkey");
}

/// `users_email` is enforced case-insensitively.
pub async fn email_is_unique_case_insensitively<S: Store>(store: S) {
    let mut f = Fixture::default();
    let alice = f.user("alice");
    insert_users(&store, &[&alice]).await;
    let mut twin = f.user("alice2");
    twin.email = Email::parse("ALICE@example.COM").expect("valid");
    let mut tx = store.begin().await.expect("begin");
    assert_unique(tx.insert_user(&twin).await, "users_email");
}

/// An insert that fails on one rule leaves no trace of its other fields.
pub async fn failed_insert_changes_nothing<S: Store>(store: S) {
    let mut f = Fixture::default();
    let alice = f.user("alice");
    insert_users(&store, &[&alice]).await;
    // Same username, new email: must fail without reserving the email.
    let mut clash = f.user("bob");
    clash.username = alice.username.clone();
    let mut tx = store.begin().await.expect("begin");
    assert_unique(tx.insert_user(&clash).await, "users_username");
    assert_eq!(tx.get_user(clash.id).await.expect("get"), None);
    assert_eq!(
        tx.find_user_by_email(&clash.email).await.expect("find"),
        None
    );
    let bob = f.user("bob");
    tx.insert_user(&bob)
        .await
        .expect("bob's email is still free");
    tx.commit().await.expect("commit");
}

/// Updates keep uniqueness, require the user to exist, and change nothing on
/// failure; a user's old username and email become free after a change.
pub async fn update_user_keeps_uniqueness_and_requires_existence<S: Store>(store: S) {
    let mut f = Fixture::default();
    let alice = f.user("alice");
    let bob = f.user("bob");
    insert_users(&store, &[&alice, &bob]).await;
    let mut tx = store.begin().await.expect("begin");

    let mut stolen = bob.clone();
    stolen.username = alice.username.clone();
    assert_unique(tx.update_user(&stolen).await, "users_username");
    let mut stolen = bob.clone();
    stolen.email = alice.email.clone();
    assert_unique(tx.update_user(&stolen).await, "users_email");
    assert_eq!(tx.get_user(bob.id).await.expect("get"), Some(bob.clone()));

    assert_not_found(tx.update_user(&f.user("ghost")).await);

    let mut renamed = bob.clone();
    renamed.username = Username::parse("robert").expect("valid");
    renamed.email = Email::parse("robert@example.com").expect("valid");
    tx.update_user(&renamed).await.expect("rename");
    assert_eq!(
        tx.find_user_by_username(&bob.username).await.expect("find"),
        None
    );
    let mut newcomer = f.user("bob");
    newcomer.email = bob.email.clone();
    tx.insert_user(&newcomer)
        .await
        .expect("old username and email are free again");
    tx.commit().await.expect("commit");
}

/// Deleting a user removes memberships and frees username and email.
pub async fn delete_user_frees_username_email_and_memberships<S: Store>(store: S) {
    let mut f = Fixture::default();
    let alice = f.user("alice");
    let org = f.org("acme");
    let group = f.group(org.id, "Platform");
    let team = f.team(org.id, "Core");
    let mut tx = store.begin().await.expect("begin");
    tx.insert_user(&alice).await.expect("user");
    tx.insert_organization(&org).await.expect("org");
    tx.insert_membership(&f.membership(org.id, alice.id))
        .await
        .expect("membership");
    tx.insert_group(&group).await.expect("group");
    tx.insert_group_member(group.id, alice.id)
        .await
        .expect("group member");
    tx.insert_team(&team).await.expect("team");
    let member = TeamMember {
        team: team.id,
        user: alice.id,
        role: TeamRole::Lead,
    };
    tx.insert_team_member(&member).await.expect("team member");
    tx.commit().await.expect("commit");

    let mut tx = store.begin().await.expect("begin");
    tx.delete_user(alice.id).await.expect("delete");
    assert_not_found(tx.delete_user(alice.id).await);
    assert_eq!(tx.get_user(alice.id).await.expect("get"), None);
    assert_eq!(
        tx.get_membership(org.id, alice.id).await.expect("get"),
        None
    );
    assert!(
        tx.list_group_members(group.id)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        tx.list_team_members(team.id)
            .await
            .expect("list")
            .is_empty()
    );
    let again = f.user("alice");
    tx.insert_user(&again)
        .await
        .expect("username and email are free");
    tx.commit().await.expect("commit");
}

/// An explicit rollback leaves nothing behind.
pub async fn rolled_back_transaction_leaves_nothing<S: Store>(store: S) {
    let mut f = Fixture::default();
    let alice = f.user("alice");
    let org = f.org("acme");
    let mut tx = store.begin().await.expect("begin");
    tx.insert_user(&alice).await.expect("insert");
    tx.insert_organization(&org).await.expect("insert");
    assert!(
        tx.get_user(alice.id).await.expect("get").is_some(),
        "reads its own writes"
    );
    tx.rollback().await.expect("rollback");

    let mut tx = store.begin().await.expect("begin");
    assert_eq!(tx.get_user(alice.id).await.expect("get"), None);
    assert_eq!(tx.get_organization(org.id).await.expect("get"), None);
    tx.insert_user(&alice).await.expect("username still free");
}

/// Dropping an uncommitted transaction rolls it back.
pub async fn dropped_transaction_rolls_back<S: Store>(store: S) {
    let mut f = Fixture::default();
    let alice = f.user("alice");
    {
        let mut tx = store.begin().await.expect("begin");
        tx.insert_user(&alice).await.expect("insert");
    }
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(tx.get_user(alice.id).await.expect("get"), None);
}

/// 32 concurrent transactions inserting the same username: exactly one wins.
pub async fn concurrent_inserts_of_one_username_one_wins<S: Store>(store: S) {
    let barrier = Arc::new(tokio::sync::Barrier::new(32));
    let mut tasks = Vec::new();
    for i in 0..32u64 {
        let store = store.clone();
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            let mut f = Fixture::new(100 + i);
            let mut user = f.user(&format!("racer{i}"));
            user.username = Username::parse("winner").expect("valid");
            barrier.wait().await;
            let mut tx = store.begin().await?;
            tx.insert_user(&user).await?;
            tx.commit().await
        }));
    }
    let mut wins = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(()) => wins += 1,
            Err(e) => assert!(
                matches!(
                    e.kind(),
                    ErrorKind::UniqueViolation { .. } | ErrorKind::Conflict
                ),
                "losers fail with a unique violation or conflict, got {e}"
            ),
        }
    }
    assert_eq!(wins, 1, "exactly one insert of the username succeeds");
    let mut tx = store.begin().await.expect("begin");
    let winner = tx
        .find_user_by_username(&Username::parse("winner").expect("valid"))
        .await;
    assert!(winner.expect("find").is_some());
}

/// `organizations_slug` is unique; lookups by slug and id agree.
pub async fn organization_slug_is_unique<S: Store>(store: S) {
    let mut f = Fixture::default();
    let acme = f.org("acme");
    let mut tx = store.begin().await.expect("begin");
    tx.insert_organization(&acme).await.expect("insert");
    let twin = f.org("acme");
    assert_unique(tx.insert_organization(&twin).await, "organizations_slug");
    let found = tx
        .find_organization_by_slug(&acme.slug)
        .await
        .expect("find");
    assert_eq!(found, Some(acme.clone()));
    let mut other = f.org("globex");
    tx.insert_organization(&other).await.expect("insert");
    other.slug = acme.slug.clone();
    assert_unique(tx.update_organization(&other).await, "organizations_slug");
    let mut renamed = acme.clone();
    renamed.settings.require_two_factor = true;
    tx.update_organization(&renamed).await.expect("update");
    assert_eq!(
        tx.get_organization(acme.id).await.expect("get"),
        Some(renamed)
    );
    assert_not_found(tx.update_organization(&f.org("ghost")).await);
}

/// Workspace, group, team and department names are unique within an
/// organization, case-insensitively, and free across organizations.
pub async fn names_are_unique_within_an_organization<S: Store>(store: S) {
    let mut f = Fixture::default();
    let acme = f.org("acme");
    let globex = f.org("globex");
    let mut tx = store.begin().await.expect("begin");
    tx.insert_organization(&acme).await.expect("org");
    tx.insert_organization(&globex).await.expect("org");

    tx.insert_workspace(&f.workspace(acme.id, "Prod"))
        .await
        .expect("ws");
    assert_unique(
        tx.insert_workspace(&f.workspace(acme.id, "PROD")).await,
        "workspaces_name",
    );
    tx.insert_workspace(&f.workspace(globex.id, "prod"))
        .await
        .expect("other org");
    let mut staging = f.workspace(acme.id, "Staging");
    tx.insert_workspace(&staging).await.expect("ws");
    staging.name = Name::parse("prod").expect("valid");
    assert_unique(tx.update_workspace(&staging).await, "workspaces_name");
    let ghost = f.org("ghost").id;
    assert_not_found(tx.insert_workspace(&f.workspace(ghost, "x")).await);

    tx.insert_group(&f.group(acme.id, "Platform"))
        .await
        .expect("group");
    assert_unique(
        tx.insert_group(&f.group(acme.id, "platform")).await,
        "groups_name",
    );
    tx.insert_group(&f.group(globex.id, "Platform"))
        .await
        .expect("other org");

    tx.insert_team(&f.team(acme.id, "Core"))
        .await
        .expect("team");
    assert_unique(tx.insert_team(&f.team(acme.id, "CORE")).await, "teams_name");
    tx.insert_team(&f.team(acme.id, "Platform"))
        .await
        .expect("a team may share a group's name");

    tx.insert_department(&f.department(acme.id, "Sales"))
        .await
        .expect("dept");
    assert_unique(
        tx.insert_department(&f.department(acme.id, "sales")).await,
        "departments_name",
    );
    tx.insert_department(&f.department(globex.id, "Sales"))
        .await
        .expect("other org");

    let names: Vec<String> = tx
        .list_workspaces(acme.id)
        .await
        .expect("list")
        .into_iter()
        .map(|w| w.name.to_string())
        .collect();
    assert_eq!(names, ["Prod", "Staging"]);
}

/// Renames and deletes of workspaces, groups and teams: an unknown id is
/// `NotFound`, a rename onto a name taken in the organization is the
/// insert's unique violation and changes nothing, and a delete removes the
/// record and frees its name.
pub async fn renames_and_deletes_keep_names_unique<S: Store>(store: S) {
    let mut f = Fixture::default();
    let acme = f.org("acme");
    let mut tx = store.begin().await.expect("begin");
    tx.insert_organization(&acme).await.expect("org");

    let prod = f.workspace(acme.id, "Prod");
    let mut staging = f.workspace(acme.id, "Staging");
    tx.insert_workspace(&prod).await.expect("ws");
    tx.insert_workspace(&staging).await.expect("ws");
    assert_not_found(tx.update_workspace(&f.workspace(acme.id, "Ghost")).await);
    assert_not_found(tx.delete_workspace(f.workspace(acme.id, "Ghost").id).await);
    let original = staging.clone();
    staging.name = Name::parse("PROD").expect("valid");
    assert_unique(tx.update_workspace(&staging).await, "workspaces_name");
    assert_eq!(
        tx.get_workspace(staging.id).await.expect("get"),
        Some(original),
        "a failed rename changes nothing"
    );
    tx.delete_workspace(prod.id).await.expect("delete");
    assert_eq!(tx.get_workspace(prod.id).await.expect("get"), None);
    assert_not_found(tx.delete_workspace(prod.id).await);
    tx.update_workspace(&staging)
        .await
        .expect("the deleted workspace's name is free");

    let platform = f.group(acme.id, "Platform");
    let mut infra = f.group(acme.id, "Infra");
    tx.insert_group(&platform).await.expect("group");
    tx.insert_group(&infra).await.expect("group");
    assert_not_found(tx.update_group(&f.group(acme.id, "Ghost")).await);
    infra.name = Name::parse("platform").expect("valid");
    assert_unique(tx.update_group(&infra).await, "groups_name");
    tx.delete_group(platform.id).await.expect("delete");
    assert_eq!(tx.get_group(platform.id).await.expect("get"), None);
    tx.update_group(&infra)
        .await
        .expect("the deleted group's name is free");

    let core = f.team(acme.id, "Core");
    let mut web = f.team(acme.id, "Web");
    tx.insert_team(&core).await.expect("team");
    tx.insert_team(&web).await.expect("team");
    web.name = Name::parse("CORE").expect("valid");
    assert_unique(tx.update_team(&web).await, "teams_name");
    tx.delete_team(core.id).await.expect("delete");
    assert_eq!(tx.get_team(core.id).await.expect("get"), None);
    assert_not_found(tx.delete_team(core.id).await);
    tx.update_team(&web)
        .await
        .expect("the deleted team's name is free");
}

/// Membership MUSTs: existence checks, uniqueness, update, delete, listing,
/// department clearing.
pub async fn memberships_contract<S: Store>(store: S) {
    let mut f = Fixture::default();
    let alice = f.user("alice");
    let acme = f.org("acme");
    let globex = f.org("globex");
    let mut tx = store.begin().await.expect("begin");
    tx.insert_user(&alice).await.expect("user");
    tx.insert_organization(&acme).await.expect("org");
    tx.insert_organization(&globex).await.expect("org");

    let (ghost_org, ghost_user) = (f.org("ghost").id, f.user("ghost").id);
    assert_not_found(
        tx.insert_membership(&f.membership(ghost_org, alice.id))
            .await,
    );
    assert_not_found(
        tx.insert_membership(&f.membership(acme.id, ghost_user))
            .await,
    );
    let mut m = f.membership(acme.id, alice.id);
    tx.insert_membership(&m).await.expect("membership");
    assert_unique(tx.insert_membership(&m).await, "memberships_pkey");
    tx.insert_membership(&f.membership(globex.id, alice.id))
        .await
        .expect("second org");
    let orgs: Vec<_> = tx
        .list_memberships_of_user(alice.id)
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.org)
        .collect();
    let mut expected = vec![acme.id, globex.id];
    expected.sort();
    assert_eq!(orgs, expected);

    let sales = f.department(acme.id, "Sales");
    tx.insert_department(&sales).await.expect("dept");
    m.status = UserStatus::Deactivated;
    m.department = Some(sales.id);
    tx.update_membership(&m).await.expect("update");
    assert_eq!(
        tx.get_membership(acme.id, alice.id).await.expect("get"),
        Some(m.clone())
    );
    tx.delete_department(sales.id).await.expect("delete dept");
    let after = tx
        .get_membership(acme.id, alice.id)
        .await
        .expect("get")
        .expect("still member");
    assert_eq!(
        after.department, None,
        "deleting a department unfiles its members"
    );
    assert_not_found(tx.delete_department(sales.id).await);

    tx.delete_membership(acme.id, alice.id)
        .await
        .expect("delete");
    assert_not_found(tx.delete_membership(acme.id, alice.id).await);
    assert_not_found(tx.update_membership(&m).await);
    assert!(
        tx.get_user(alice.id).await.expect("get").is_some(),
        "the account stays"
    );
}

/// Department MUSTs: lookup by id, a rename keeps names unique within the
/// organization and never moves a department, a failed rename changes
/// nothing, the members filed under a department are listed by user id
/// (its organization's only), the directory filters by department, and a
/// delete unfiles them.
pub async fn departments_contract<S: Store>(store: S) {
    let mut f = Fixture::default();
    let acme = f.org("acme");
    let globex = f.org("globex");
    let (alice, bob, carol) = (f.user("alice"), f.user("bob"), f.user("carol"));
    let mut tx = store.begin().await.expect("begin");
    tx.insert_organization(&acme).await.expect("org");
    tx.insert_organization(&globex).await.expect("org");
    for user in [&alice, &bob, &carol] {
        tx.insert_user(user).await.expect("user");
    }
    let sales = f.department(acme.id, "Sales");
    let support = f.department(acme.id, "Support");
    let theirs = f.department(globex.id, "Field");
    for d in [&sales, &support, &theirs] {
        tx.insert_department(d).await.expect("dept");
    }
    assert_eq!(
        tx.get_department(sales.id).await.expect("get"),
        Some(sales.clone())
    );
    let ghost = f.department(acme.id, "Ghost");
    assert_eq!(tx.get_department(ghost.id).await.expect("get"), None);

    let mut renamed = support.clone();
    renamed.name = Name::parse("SALES").expect("valid");
    assert_unique(tx.update_department(&renamed).await, "departments_name");
    assert_eq!(
        tx.get_department(support.id).await.expect("get"),
        Some(support.clone()),
        "a failed rename changes nothing"
    );
    assert_not_found(tx.update_department(&ghost).await);
    let mut moved = support.clone();
    moved.org = globex.id;
    assert_not_found(tx.update_department(&moved).await);
    assert_eq!(
        tx.get_department(support.id).await.expect("get"),
        Some(support.clone()),
        "a department never moves to another organization"
    );
    renamed.name = Name::parse("Customer Support").expect("valid");
    tx.update_department(&renamed).await.expect("rename");
    assert_eq!(
        tx.get_department(support.id).await.expect("get"),
        Some(renamed.clone())
    );
    let mut field = theirs.clone();
    field.name = Name::parse("sales").expect("valid");
    tx.update_department(&field)
        .await
        .expect("another organization may have a department of that name");
    let names: Vec<String> = tx
        .list_departments(acme.id)
        .await
        .expect("list")
        .into_iter()
        .map(|d| d.name.to_string())
        .collect();
    assert_eq!(names, ["Customer Support", "Sales"]);

    for (org, user, department) in [
        (acme.id, alice.id, Some(sales.id)),
        (acme.id, bob.id, Some(sales.id)),
        (acme.id, carol.id, None),
        (globex.id, carol.id, Some(theirs.id)),
    ] {
        let mut m = f.membership(org, user);
        m.department = department;
        tx.insert_membership(&m).await.expect("member");
    }
    let mut expected = vec![alice.id, bob.id];
    expected.sort();
    assert_eq!(
        tx.list_department_members(sales.id).await.expect("members"),
        expected
    );
    assert_eq!(
        tx.list_department_members(theirs.id)
            .await
            .expect("members"),
        [carol.id]
    );
    assert!(
        tx.list_department_members(support.id)
            .await
            .expect("members")
            .is_empty()
    );
    assert!(
        tx.list_department_members(ghost.id)
            .await
            .expect("members")
            .is_empty()
    );

    let filed = |page: iamkit_store_api::Page<iamkit_identity::DirectoryEntry>| {
        let mut users: Vec<_> = page.items.into_iter().map(|e| e.user.id).collect();
        users.sort();
        users
    };
    let q = DirectoryQuery::new().with_department(sales.id);
    assert_eq!(
        filed(tx.list_directory(acme.id, &q).await.expect("directory")),
        expected
    );
    let page = tx
        .list_directory(acme.id, &q.clone().with_limit(1).expect("valid"))
        .await
        .expect("directory");
    assert_eq!(page.items.len(), 1);
    assert!(
        page.next.is_some(),
        "the filter runs before the page is cut"
    );
    let theirs_q = DirectoryQuery::new().with_department(theirs.id);
    assert!(
        filed(
            tx.list_directory(acme.id, &theirs_q)
                .await
                .expect("directory")
        )
        .is_empty(),
        "another organization's department files nobody here"
    );

    tx.delete_department(sales.id).await.expect("delete");
    assert_eq!(tx.get_department(sales.id).await.expect("get"), None);
    assert!(
        tx.list_department_members(sales.id)
            .await
            .expect("members")
            .is_empty()
    );
    tx.commit().await.expect("commit");
}

/// Group MUSTs: members must belong to the org; duplicates rejected; removal
/// of the org membership removes the group membership.
pub async fn group_membership_contract<S: Store>(store: S) {
    let mut f = Fixture::default();
    let (alice, bob) = (f.user("alice"), f.user("bob"));
    let acme = f.org("acme");
    let platform = f.group(acme.id, "Platform");
    let mut tx = store.begin().await.expect("begin");
    tx.insert_user(&alice).await.expect("user");
    tx.insert_user(&bob).await.expect("user");
    tx.insert_organization(&acme).await.expect("org");
    tx.insert_membership(&f.membership(acme.id, alice.id))
        .await
        .expect("member");
    tx.insert_group(&platform).await.expect("group");

    assert_not_found(tx.insert_group_member(platform.id, bob.id).await);
    assert_not_found(
        tx.insert_group_member(f.group(acme.id, "x").id, alice.id)
            .await,
    );
    tx.insert_group_member(platform.id, alice.id)
        .await
        .expect("add");
    assert_unique(
        tx.insert_group_member(platform.id, alice.id).await,
        "group_members_pkey",
    );
    assert_eq!(
        tx.list_group_members(platform.id).await.expect("list"),
        [alice.id]
    );
    assert_eq!(
        tx.list_groups_of_user(acme.id, alice.id)
            .await
            .expect("list"),
        [platform.id]
    );

    tx.delete_group_member(platform.id, alice.id)
        .await
        .expect("remove");
    assert_not_found(tx.delete_group_member(platform.id, alice.id).await);
    tx.insert_group_member(platform.id, alice.id)
        .await
        .expect("add again");
    tx.delete_membership(acme.id, alice.id)
        .await
        .expect("leave org");
    assert!(
        tx.list_group_members(platform.id)
            .await
            .expect("list")
            .is_empty()
    );

    let mut renamed = platform.clone();
    renamed.name = Name::parse("Infra").expect("valid");
    tx.update_group(&renamed).await.expect("rename");
    assert_eq!(tx.get_group(platform.id).await.expect("get"), Some(renamed));
    tx.delete_group(platform.id).await.expect("delete");
    assert_not_found(tx.delete_group(platform.id).await);
    assert!(tx.list_groups(acme.id).await.expect("list").is_empty());
}

/// Team MUSTs: roles stored and changed, duplicates rejected, deletion
/// removes members.
pub async fn team_membership_contract<S: Store>(store: S) {
    let mut f = Fixture::default();
    let (alice, bob) = (f.user("alice"), f.user("bob"));
    let acme = f.org("acme");
    let core = f.team(acme.id, "Core");
    let mut tx = store.begin().await.expect("begin");
    for u in [&alice, &bob] {
        tx.insert_user(u).await.expect("user");
    }
    tx.insert_organization(&acme).await.expect("org");
    tx.insert_membership(&f.membership(acme.id, alice.id))
        .await
        .expect("member");
    tx.insert_team(&core).await.expect("team");

    let lead = TeamMember {
        team: core.id,
        user: alice.id,
        role: TeamRole::Lead,
    };
    assert_not_found(
        tx.insert_team_member(&TeamMember {
            user: bob.id,
            ..lead
        })
        .await,
    );
    tx.insert_team_member(&lead).await.expect("add");
    assert_unique(tx.insert_team_member(&lead).await, "team_members_pkey");
    assert_eq!(tx.list_team_members(core.id).await.expect("list"), [lead]);
    tx.update_team_member_role(core.id, alice.id, TeamRole::Member)
        .await
        .expect("demote");
    let now = tx
        .list_teams_of_user(acme.id, alice.id)
        .await
        .expect("list");
    assert_eq!(
        now,
        [TeamMember {
            role: TeamRole::Member,
            ..lead
        }]
    );
    assert_not_found(
        tx.update_team_member_role(core.id, bob.id, TeamRole::Lead)
            .await,
    );
    tx.delete_team_member(core.id, alice.id)
        .await
        .expect("remove");
    assert_not_found(tx.delete_team_member(core.id, alice.id).await);
    tx.insert_team_member(&lead).await.expect("add again");
    tx.delete_team(core.id).await.expect("delete");
    assert!(
        tx.list_team_members(core.id)
            .await
            .expect("list")
            .is_empty()
    );
    assert_not_found(tx.update_team(&core).await);
}

async fn directory_fixture<S: Store>(store: &S, f: &mut Fixture) -> DirectoryWorld {
    let acme = f.org("acme");
    let globex = f.org("globex");
    let people = [
        ("ana", "Ana", "Silva", UserStatus::Active),
        ("bruno", "Bruno", "Costa", UserStatus::Invited),
        ("carla", "carla", "Dias", UserStatus::Active),
        ("diego", "Diego", "Alves", UserStatus::Deactivated),
        ("ana.b", "Ana", "Silva", UserStatus::Active),
    ];
    let platform = f.group(acme.id, "Platform");
    let core = f.team(acme.id, "Core");
    let mut tx = store.begin().await.expect("begin");
    tx.insert_organization(&acme).await.expect("org");
    tx.insert_organization(&globex).await.expect("org");
    tx.insert_group(&platform).await.expect("group");
    tx.insert_team(&core).await.expect("team");
    let mut users = Vec::new();
    for (username, first, last, status) in people {
        let user = f.user_named(username, first, last);
        tx.insert_user(&user).await.expect("user");
        let mut m = f.membership(acme.id, user.id);
        m.status = status;
        tx.insert_membership(&m).await.expect("member");
        users.push(user);
    }
    let outsider = f.user_named("olga", "Olga", "Ana");
    tx.insert_user(&outsider).await.expect("user");
    tx.insert_membership(&f.membership(globex.id, outsider.id))
        .await
        .expect("member");
    for u in [&users[0], &users[2]] {
        tx.insert_group_member(platform.id, u.id)
            .await
            .expect("group member");
    }
    let member = TeamMember {
        team: core.id,
        user: users[1].id,
        role: TeamRole::Member,
    };
    tx.insert_team_member(&member).await.expect("team member");
    tx.commit().await.expect("commit");
    DirectoryWorld {
        acme: acme.id,
        users,
        group: platform.id,
        team: core.id,
    }
}

struct DirectoryWorld {
    acme: iamkit_identity::OrgId,
    users: Vec<User>,
    group: iamkit_identity::GroupId,
    team: iamkit_identity::TeamId,
}

async fn usernames<S: Store>(
    store: &S,
    org: iamkit_identity::OrgId,
    q: DirectoryQuery,
) -> Vec<String> {
    let mut tx = store.begin().await.expect("begin");
    let page = tx.list_directory(org, &q).await.expect("directory");
    page.items
        .into_iter()
        .map(|e| e.user.username.to_string())
        .collect()
}

/// Status, free-text, group and team filters, sorted by name.
pub async fn directory_filters<S: Store>(store: S) {
    let mut f = Fixture::default();
    let w = directory_fixture(&store, &mut f).await;
    let q = DirectoryQuery::new;
    // Sorted by "first last" case-insensitively, then id: Ana Silva twice
    // (by id: ana was created first), Bruno, carla, Diego.
    let ana_first = if w.users[0].id < w.users[4].id {
        ["ana", "ana.b"]
    } else {
        ["ana.b", "ana"]
    };
    let all = usernames(&store, w.acme, q()).await;
    assert_eq!(all, [ana_first[0], ana_first[1], "bruno", "carla", "diego"]);
    let active = usernames(&store, w.acme, q().with_status(UserStatus::Active)).await;
    assert_eq!(active, [ana_first[0], ana_first[1], "carla"]);
    let invited = usernames(&store, w.acme, q().with_status(UserStatus::Invited)).await;
    assert_eq!(invited, ["bruno"]);
    let text = usernames(&store, w.acme, q().with_text("SILVA").expect("valid")).await;
    assert_eq!(text, ana_first);
    let by_email = usernames(
        &store,
        w.acme,
        q().with_text("carla@EXAMPLE").expect("valid"),
    )
    .await;
    assert_eq!(by_email, ["carla"]);
    let group = usernames(&store, w.acme, q().with_group(w.group)).await;
    assert_eq!(group, ["ana", "carla"]);
    let team = usernames(&store, w.acme, q().with_team(w.team)).await;
    assert_eq!(team, ["bruno"]);
    let combined = q()
        .with_group(w.group)
        .with_status(UserStatus::Active)
        .with_text("dias");
    assert_eq!(
        usernames(&store, w.acme, combined.expect("valid")).await,
        ["carla"]
    );
    let none = q().with_text("zzz").expect("valid");
    assert!(usernames(&store, w.acme, none).await.is_empty());
}

/// Paging with any page size returns every match exactly once, in order.
pub async fn directory_pages_cover_every_match_once<S: Store>(store: S) {
    let mut f = Fixture::default();
    let w = directory_fixture(&store, &mut f).await;
    let everyone = usernames(&store, w.acme, DirectoryQuery::new()).await;
    for limit in 1..=6 {
        let mut seen = Vec::new();
        let mut query = DirectoryQuery::new().with_limit(limit).expect("valid");
        let mut tx = store.begin().await.expect("begin");
        loop {
            let page = tx.list_directory(w.acme, &query).await.expect("page");
            assert!(page.items.len() <= limit);
            seen.extend(page.items.iter().map(|e| e.user.username.to_string()));
            match page.next {
                Some(cursor) => {
                    assert_eq!(
                        page.items.len(),
                        limit,
                        "only a full page has a next cursor"
                    );
                    query = query.after(&cursor).expect("own cursor");
                }
                None => break,
            }
        }
        assert_eq!(seen, everyone, "page size {limit}");
    }
}

/// Another organization's members never appear, even when they match.
pub async fn directory_is_tenant_isolated<S: Store>(store: S) {
    let mut f = Fixture::default();
    let w = directory_fixture(&store, &mut f).await;
    let q = DirectoryQuery::new().with_text("olga").expect("valid");
    assert!(usernames(&store, w.acme, q).await.is_empty());
    let ghost = f.org("ghost");
    assert!(
        usernames(&store, ghost.id, DirectoryQuery::new())
            .await
            .is_empty()
    );
}
