//! Quick start: an organization with workspaces, a group, a team and a few
//! people, in the in-memory store, and its user directory filtered the ways
//! an admin console filters it.
//!
//! Run with `cargo run --example quickstart`.

use iamkit::identity::{
    DirectoryQuery, Email, Group, GroupRepository, Membership, Name, NewUser, OrgId, OrgSettings,
    Organization, OrganizationRepository, Profile, Slug, Team, TeamMember, TeamRepository,
    TeamRole, User, UserRepository, UserStatus, Username, Workspace, WorkspaceId,
    WorkspaceRepository,
};
use iamkit::{Clock, Store, SystemClock, Transaction};
use iamkit_store_memory::MemoryStore;
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;

type AnyError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    let store = MemoryStore::new();
    let now = SystemClock.now();
    let mut rng = UnwrapErr(SysRng);

    let org = Organization {
        id: OrgId::generate(now, &mut rng),
        name: Name::parse("Acme Corp")?,
        slug: Slug::parse("acme")?,
        settings: OrgSettings::default(),
        created_at: now,
    };
    let mut tx = store.begin().await?;
    tx.insert_organization(&org).await?;
    for name in ["Production", "Staging"] {
        let ws = Workspace {
            id: WorkspaceId::generate(now, &mut rng),
            org: org.id,
            name: Name::parse(name)?,
            created_at: now,
        };
        tx.insert_workspace(&ws).await?;
    }
    let platform = Group {
        id: iamkit::identity::GroupId::generate(now, &mut rng),
        org: org.id,
        name: Name::parse("Platform")?,
        created_at: now,
    };
    tx.insert_group(&platform).await?;
    let core = Team {
        id: iamkit::identity::TeamId::generate(now, &mut rng),
        org: org.id,
        name: Name::parse("Core")?,
        created_at: now,
    };
    tx.insert_team(&core).await?;

    // (username, first, last, language, status, in Platform, on Core as)
    let people = [
        (
            "ana.silva",
            "Ana",
            "Silva",
            "pt",
            UserStatus::Active,
            true,
            Some(TeamRole::Lead),
        ),
        (
            "bruno",
            "Bruno",
            "Costa",
            "pt",
            UserStatus::Invited,
            false,
            Some(TeamRole::Member),
        ),
        (
            "carmen",
            "Carmen",
            "Ruiz",
            "es",
            UserStatus::Active,
            true,
            None,
        ),
        (
            "dave",
            "Dave",
            "Smith",
            "en",
            UserStatus::Deactivated,
            false,
            None,
        ),
    ];
    for (username, first, last, language, status, in_platform, team_role) in people {
        let user = User::new(
            NewUser {
                username: Username::parse(username)?,
                email: Email::parse(&format!("{username}@acme.example"))?,
                profile: Profile::parse(first, last, None, None, Some(language))?,
                status,
            },
            now,
            &mut rng,
        );
        tx.insert_user(&user).await?;
        tx.insert_membership(&Membership {
            org: org.id,
            user: user.id,
            status,
            department: None,
            created_at: now,
            updated_at: now,
        })
        .await?;
        if in_platform {
            tx.insert_group_member(platform.id, user.id).await?;
        }
        if let Some(role) = team_role {
            tx.insert_team_member(&TeamMember {
                team: core.id,
                user: user.id,
                role,
            })
            .await?;
        }
    }
    tx.commit().await?;

    let mut tx = store.begin().await?;
    let workspaces = tx.list_workspaces(org.id).await?;
    println!(
        "Organization {} ({}) with workspaces: {}",
        org.name,
        org.slug,
        workspaces
            .iter()
            .map(|w| w.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let views = [
        ("Everyone", DirectoryQuery::new()),
        (
            "Active",
            DirectoryQuery::new().with_status(UserStatus::Active),
        ),
        (
            "Group Platform",
            DirectoryQuery::new().with_group(platform.id),
        ),
        ("Team Core", DirectoryQuery::new().with_team(core.id)),
        ("Search \"ruiz\"", DirectoryQuery::new().with_text("ruiz")?),
    ];
    for (title, query) in views {
        println!("\n{title}:");
        let page = tx.list_directory(org.id, &query).await?;
        for entry in page.items {
            println!(
                "  {:<16} {:<12} {:<28} {:<11} {}",
                entry.user.profile.full_name(),
                entry.user.username.as_str(),
                entry.user.email.as_str(),
                entry.membership.status.label(),
                entry.user.profile.language.code(),
            );
        }
    }
    Ok(())
}
