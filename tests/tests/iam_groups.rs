//! Groups and teams, deletion and profiles through the `Iam` facade.

use std::sync::Arc;

use iamkit::audit::{DenialReason, Outcome, verify_org};
use iamkit::credentials::{ClientMetadata, Password};
use iamkit::identity::{Email, OrganizationRepository, TeamRole, UserId, UserRepository};
use iamkit::rbac::{BuiltinRole, Collective, Scope, Source};
use iamkit::{Error, LinkedData, LinkedRecord, Placement, ProfileUpdate, Store, Transaction};

mod common;
use common::*;

#[tokio::test]
async fn group_roles_are_inherited_and_explained() {
    let w = world().await;
    let (bea, bea_actor) = member(&w, "bea", BuiltinRole::ReadOnly).await;
    let platform = w
        .iam
        .create_group(&w.owner, w.org, "Platform")
        .await
        .unwrap();
    let group = Collective::Group(platform);
    w.iam
        .set_collective_role(
            &w.owner,
            group,
            Scope::Organization(w.org),
            Some(BuiltinRole::Admin.id()),
        )
        .await
        .unwrap();
    let denied = w.iam.create_team(&bea_actor, w.org, "SRE").await;
    assert!(matches!(denied, Err(Error::Forbidden { .. })));
    w.iam
        .add_member(&w.owner, w.org, group, bea, TeamRole::Member)
        .await
        .unwrap();
    let team = w.iam.create_team(&bea_actor, w.org, "SRE").await.unwrap();
    let decision = w
        .iam
        .explain(&w.owner, bea, "teams.manage", Scope::Organization(w.org))
        .await
        .unwrap();
    assert!(
        decision
            .reasons
            .iter()
            .any(|r| r.source == Source::Group(platform))
    );
    let detail = w.iam.user_detail(&w.owner, w.org, bea).await.unwrap();
    assert_eq!(detail.groups, vec![platform]);
    w.iam
        .add_member(&w.owner, w.org, Collective::Team(team), bea, TeamRole::Lead)
        .await
        .unwrap();
    let detail = w.iam.user_detail(&w.owner, w.org, bea).await.unwrap();
    assert_eq!(detail.teams[0].role, TeamRole::Lead);
    // Leaving the group takes the inherited role away at once.
    w.iam
        .remove_member(&w.owner, w.org, group, bea)
        .await
        .unwrap();
    let denied = w.iam.create_team(&bea_actor, w.org, "Data").await;
    assert!(matches!(denied, Err(Error::Forbidden { .. })));
}

#[tokio::test]
async fn security_26_adding_to_a_group_counts_as_granting_its_roles() {
    let w = world().await;
    let (_, admin) = member(&w, "adm", BuiltinRole::Admin).await;
    let (eve, _) = member(&w, "eve", BuiltinRole::ReadOnly).await;
    let owners = w.iam.create_group(&w.owner, w.org, "Owners").await.unwrap();
    w.iam
        .set_collective_role(
            &w.owner,
            Collective::Group(owners),
            Scope::Organization(w.org),
            Some(BuiltinRole::Owner.id()),
        )
        .await
        .unwrap();
    let err = w
        .iam
        .add_member(
            &admin,
            w.org,
            Collective::Group(owners),
            eve,
            TeamRole::Member,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Escalation { .. }));
    let event = last_event(&w.store, w.org).await;
    assert!(matches!(
        event.outcome,
        Outcome::Denied {
            reason: DenialReason::Escalation
        }
    ));
    let detail = w.iam.user_detail(&w.owner, w.org, eve).await.unwrap();
    assert!(detail.groups.is_empty());
}

#[tokio::test]
async fn the_last_owner_cannot_leave_through_a_group() {
    let w = world().await;
    let owners = w.iam.create_group(&w.owner, w.org, "Owners").await.unwrap();
    let g = Collective::Group(owners);
    w.iam
        .set_collective_role(
            &w.owner,
            g,
            Scope::Organization(w.org),
            Some(BuiltinRole::Owner.id()),
        )
        .await
        .unwrap();
    w.iam
        .add_member(&w.owner, w.org, g, w.owner_id, TeamRole::Member)
        .await
        .unwrap();
    // Direct Owner removed: still Owner through the group.
    w.iam
        .change_org_role(&w.owner, w.org, w.owner_id, None)
        .await
        .unwrap();
    let err = w
        .iam
        .remove_member(&w.owner, w.org, g, w.owner_id)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::LastOwner));
    let err = w
        .iam
        .delete_collective(&w.owner, w.org, g)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::LastOwner));
}

#[tokio::test]
async fn group_names_are_unique_and_other_tenants_see_nothing() {
    let w = world().await;
    let g = w
        .iam
        .create_group(&w.owner, w.org, "Platform")
        .await
        .unwrap();
    let err = w
        .iam
        .create_group(&w.owner, w.org, "platform")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)));
    let before = audit_len(&w.store, w.org).await;
    let err = w.iam.create_group(&w.owner, w.org, "  ").await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput(ref i) if i.field == "name"));
    assert_eq!(audit_len(&w.store, w.org).await, before);
    let (other, _) = bootstrap(&w.iam, "globex", "globex-owner").await;
    let globex = sign_in(&w.iam, "globex-owner").await;
    let err = w
        .iam
        .rename_collective(&globex, other, Collective::Group(g), "Mine")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound));
    w.iam
        .rename_collective(&w.owner, w.org, Collective::Group(g), "Core")
        .await
        .unwrap();
    w.iam
        .delete_collective(&w.owner, w.org, Collective::Group(g))
        .await
        .unwrap();
}

struct Incidents(UserId);

impl LinkedData for Incidents {
    fn linked_records(&self, user: UserId) -> Vec<LinkedRecord> {
        if user == self.0 {
            vec![LinkedRecord {
                kind: "registered incidents".to_owned(),
                count: 3,
            }]
        } else {
            Vec::new()
        }
    }
}

#[tokio::test]
async fn deletion_is_refused_with_linked_data_and_otherwise_erases_the_account() {
    let w = world().await;
    let (bea, _) = member(&w, "bea", BuiltinRole::Admin).await;
    let (cid, _) = member(&w, "cid", BuiltinRole::ReadOnly).await;
    let iam =
        {
            let sealer = iamkit::credentials::XChaChaSealer::new(
                &iamkit::credentials::SecretBytes::new(vec![7; 32]),
            )
            .unwrap();
            iamkit::Iam::builder(w.store.clone(), sealer)
                .clock(Arc::new(w.clock.clone()))
                .config(cheap_config())
                .linked_data(Arc::new(Incidents(bea)))
                .build()
                .unwrap()
        };
    let before = audit_len(&w.store, w.org).await;
    let err = iam.delete_user(&w.owner, w.org, bea).await.unwrap_err();
    match err {
        Error::LinkedData { records } => assert_eq!(records[0].count, 3),
        other => panic!("{other:?}"),
    }
    assert_eq!(audit_len(&w.store, w.org).await, before);

    iam.delete_user(&w.owner, w.org, cid).await.unwrap();
    let mut tx = w.store.begin().await.unwrap();
    assert!(tx.get_user(cid).await.unwrap().is_none());
    let email = Email::parse("cid@acme.example").unwrap();
    assert!(tx.find_user_by_email(&email).await.unwrap().is_none());
    assert!(verify_org(&mut tx, w.org).await.unwrap().is_ok());
    tx.rollback().await.unwrap();
    let err = w
        .iam
        .log_in("cid", &Password::new(PASSWORD), ClientMetadata::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidCredentials));
    // The email is free again, and the trail reads "Deleted user".
    w.iam
        .invite(&w.owner, w.org, &account("cid"), &Placement::default())
        .await
        .unwrap();
    let detail = w
        .iam
        .user_detail(&w.owner, w.org, w.owner_id)
        .await
        .unwrap();
    assert!(
        detail
            .recent_activity
            .iter()
            .any(|l| l.target == "Deleted user")
    );
    let err = w
        .iam
        .delete_user(&w.owner, w.org, w.owner_id)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::LastOwner));
}

#[tokio::test]
async fn profile_updates_own_and_others_with_department_from_the_org() {
    let w = world().await;
    let (bea, bea_actor) = member(&w, "bea", BuiltinRole::ReadOnly).await;
    w.iam
        .update_profile(
            &bea_actor,
            w.org,
            bea,
            &ProfileUpdate {
                display_name: Some("Bea".to_owned()),
                language: Some("pt".to_owned()),
                ..ProfileUpdate::default()
            },
        )
        .await
        .unwrap();
    let err = w
        .iam
        .update_profile(&bea_actor, w.org, w.owner_id, &ProfileUpdate::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }));
    let department = {
        let mut f = iamkit_testkit::fixtures::Fixture::new(3);
        let d = f.department(w.org, "Finance");
        let mut tx = w.store.begin().await.unwrap();
        tx.insert_department(&d).await.unwrap();
        tx.commit().await.unwrap();
        d.id
    };
    w.iam
        .update_profile(
            &w.owner,
            w.org,
            bea,
            &ProfileUpdate {
                department: Some(Some(department)),
                ..ProfileUpdate::default()
            },
        )
        .await
        .unwrap();
    let detail = w.iam.user_detail(&w.owner, w.org, bea).await.unwrap();
    assert_eq!(detail.user.profile.shown_name(), "Bea");
    assert_eq!(detail.membership.department, Some(department));
    let before = audit_len(&w.store, w.org).await;
    let err = w
        .iam
        .update_profile(
            &w.owner,
            w.org,
            bea,
            &ProfileUpdate {
                language: Some("klingon".to_owned()),
                ..ProfileUpdate::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(ref i) if i.field == "language"));
    let other_dept = {
        let mut f = iamkit_testkit::fixtures::Fixture::new(4);
        f.department(w.org, "Unsaved").id
    };
    let err = w
        .iam
        .update_profile(
            &w.owner,
            w.org,
            bea,
            &ProfileUpdate {
                department: Some(Some(other_dept)),
                ..ProfileUpdate::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(ref i) if i.field == "department"));
    assert_eq!(audit_len(&w.store, w.org).await, before);
}

#[tokio::test]
async fn an_invitation_places_the_member_in_workspace_group_and_team_and_accept_sets_the_profile() {
    let w = world().await;
    let ws = w
        .iam
        .create_workspace(&w.owner, w.org, "Ops")
        .await
        .unwrap();
    let group = w
        .iam
        .create_group(&w.owner, w.org, "Platform")
        .await
        .unwrap();
    let team = w.iam.create_team(&w.owner, w.org, "SRE").await.unwrap();
    let invited = w
        .iam
        .invite(
            &w.owner,
            w.org,
            &account("ivy"),
            &Placement {
                org_role: Some(BuiltinRole::ReadOnly.id()),
                workspace_roles: vec![(ws, BuiltinRole::Approver.id())],
                group: Some(group),
                team: Some((team, TeamRole::Lead)),
            },
        )
        .await
        .unwrap();
    let link = invitation_link(&w, invited.user).await;
    // A bad profile at acceptance changes nothing and keeps the link usable.
    let bad = ProfileUpdate {
        language: Some("xx".to_owned()),
        ..ProfileUpdate::default()
    };
    let err = w
        .iam
        .accept_invitation_with_profile(&link, Password::new(PASSWORD), &bad)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(ref i) if i.field == "language"));
    let good = ProfileUpdate {
        first_name: Some("Ivy".to_owned()),
        last_name: Some("Ng".to_owned()),
        language: Some("es".to_owned()),
        ..ProfileUpdate::default()
    };
    w.iam
        .accept_invitation_with_profile(&link, Password::new(PASSWORD), &good)
        .await
        .unwrap();
    let detail = w
        .iam
        .user_detail(&w.owner, w.org, invited.user)
        .await
        .unwrap();
    assert_eq!(detail.user.profile.full_name(), "Ivy Ng");
    assert_eq!(detail.groups, vec![group]);
    assert_eq!(detail.teams[0].role, TeamRole::Lead);
    assert!(detail.roles.iter().any(|r| r.scope == Scope::Workspace(w.org, ws)
        && r.role == BuiltinRole::Approver.id()));
    // A workspace of another organization cannot be offered.
    let (other, _) = bootstrap(&w.iam, "globex", "globex-owner").await;
    let globex = sign_in(&w.iam, "globex-owner").await;
    let err = w
        .iam
        .invite(
            &globex,
            other,
            &account("jon"),
            &Placement {
                workspace_roles: vec![(ws, BuiltinRole::ReadOnly.id())],
                ..Placement::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound));
    let mut tx = w.store.begin().await.unwrap();
    let jon = Email::parse("jon@acme.example").unwrap();
    assert!(tx.find_user_by_email(&jon).await.unwrap().is_none());
}

#[tokio::test]
async fn a_team_role_change_is_audited_as_a_role_change() {
    // Issue 16, item 8: it used to read "added".
    let w = world().await;
    let (bea, _) = member(&w, "bea", BuiltinRole::ReadOnly).await;
    let team = w.iam.create_team(&w.owner, w.org, "SRE").await.unwrap();
    w.iam
        .add_member(
            &w.owner,
            w.org,
            Collective::Team(team),
            bea,
            TeamRole::Member,
        )
        .await
        .unwrap();
    w.iam
        .set_team_role(&w.owner, w.org, team, bea, TeamRole::Lead)
        .await
        .unwrap();
    let event = last_event(&w.store, w.org).await;
    assert_eq!(
        event.action,
        iamkit::audit::Action::TeamMembershipChanged {
            team,
            change: iamkit::audit::MembershipChange::TeamRoleChanged {
                role: TeamRole::Lead
            },
        }
    );
    assert_eq!(event.target, iamkit::audit::Target::User(bea));
}

/// Issue 21, item 3: a time zone (IANA, validated; the organization's
/// default otherwise) and a theme, editable by the user and by an admin of
/// the managing organization, shown in the user detail; bad values name
/// their field and change nothing.
#[tokio::test]
async fn time_zone_and_theme_are_profile_fields() {
    use iamkit::identity::{Rule, Theme, TimeZone};

    let w = world().await;
    let (bea, bea_actor) = member(&w, "bea", BuiltinRole::ReadOnly).await;
    let detail = w.iam.user_detail(&w.owner, w.org, bea).await.unwrap();
    assert_eq!(detail.time_zone, TimeZone::utc());
    assert_eq!(detail.user.profile.theme, Theme::System);

    w.iam
        .set_default_time_zone(&w.owner, w.org, Some("europe/lisbon"))
        .await
        .unwrap();
    let detail = w.iam.user_detail(&w.owner, w.org, bea).await.unwrap();
    assert_eq!(
        detail.time_zone.as_str(),
        "Europe/Lisbon",
        "the organization's"
    );

    w.iam
        .update_profile(
            &bea_actor,
            w.org,
            bea,
            &ProfileUpdate {
                time_zone: Some("America/Sao_Paulo".to_owned()),
                theme: Some("dark".to_owned()),
                ..ProfileUpdate::default()
            },
        )
        .await
        .unwrap();
    let detail = w.iam.user_detail(&w.owner, w.org, bea).await.unwrap();
    assert_eq!(detail.time_zone.as_str(), "America/Sao_Paulo", "her own");
    assert_eq!(detail.user.profile.theme, Theme::Dark);
    let page = w
        .iam
        .directory(&w.owner, w.org, &iamkit::identity::DirectoryQuery::new())
        .await
        .unwrap();
    let listed = page.items.iter().find(|e| e.user.id == bea).unwrap();
    assert_eq!(listed.user.profile.theme, Theme::Dark);

    // Bad values: the field and the rule, nothing changed.
    let before = audit_len(&w.store, w.org).await;
    for (update, field) in [
        (
            ProfileUpdate {
                time_zone: Some("Mars/Olympus".to_owned()),
                ..ProfileUpdate::default()
            },
            "time_zone",
        ),
        (
            ProfileUpdate {
                theme: Some("neon".to_owned()),
                ..ProfileUpdate::default()
            },
            "theme",
        ),
    ] {
        let err = w
            .iam
            .update_profile(&w.owner, w.org, bea, &update)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidInput(i) if i.field == field && i.rule == Rule::Unsupported),
            "{err:?}"
        );
    }
    let err = w
        .iam
        .set_default_time_zone(&w.owner, w.org, Some("Nowhere"))
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::InvalidInput(i) if i.field == "time_zone"));
    assert_eq!(audit_len(&w.store, w.org).await, before);

    // Another organization's Owner cannot set acme's default.
    let (_, _) = bootstrap(&w.iam, "globex", "gus").await;
    let gus = sign_in(&w.iam, "gus").await;
    let err = w
        .iam
        .set_default_time_zone(&gus, w.org, Some("Asia/Tokyo"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound));
    let detail = w.iam.user_detail(&w.owner, w.org, bea).await.unwrap();
    assert_eq!(detail.time_zone.as_str(), "America/Sao_Paulo");
    assert_eq!(audit_len(&w.store, w.org).await, before);
}
