//! The data shape of the RBAC benchmarks (issue 6), shared by the bench and
//! the casbin parity test: one organization, 50 workspaces, each user with
//! one organization role, 3 workspace roles and 2 groups, groups holding
//! workspace grants. Also loads the same data into casbin-rs
//! (`rbac_with_domains`).

use std::collections::BTreeSet;

use casbin::prelude::*;
use iamkit_identity::{GroupId, OrgId, UserId, WorkspaceId};
use iamkit_rbac::{
    AccessIndex, BuiltinRole, Catalogue, Collective, CollectiveMember, Grant, Grantee,
    PermissionId, Scope,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use uuid::Uuid;

pub const WORKSPACES: usize = 50;

pub struct Shape {
    pub org: OrgId,
    pub workspaces: Vec<WorkspaceId>,
    pub users: Vec<UserId>,
    pub grants: Vec<Grant>,
    pub members: Vec<CollectiveMember>,
}

fn random_uuid(rng: &mut StdRng) -> Uuid {
    Uuid::from_u128(rng.random::<u128>())
}

fn pick<T: Copy>(rng: &mut StdRng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

pub fn shape(users: usize, seed: u64) -> Shape {
    use BuiltinRole::{Admin, Approver, Auditor, Owner, ReadOnly, Requester};
    let mut rng = StdRng::seed_from_u64(seed);
    let org = OrgId::from_uuid(random_uuid(&mut rng));
    let workspaces: Vec<WorkspaceId> = (0..WORKSPACES)
        .map(|_| WorkspaceId::from_uuid(random_uuid(&mut rng)))
        .collect();
    let groups: Vec<GroupId> = (0..(users / 25).max(10))
        .map(|_| GroupId::from_uuid(random_uuid(&mut rng)))
        .collect();
    let user_ids: Vec<UserId> = (0..users)
        .map(|_| UserId::from_uuid(random_uuid(&mut rng)))
        .collect();
    let mut grants = Vec::with_capacity(users * 4 + groups.len());
    let mut members = Vec::with_capacity(users * 2);
    for group in &groups {
        grants.push(Grant {
            grantee: Grantee::Group(*group),
            scope: Scope::Workspace(org, pick(&mut rng, &workspaces)),
            role: pick(&mut rng, &[Approver, Requester, Auditor, ReadOnly]).id(),
        });
    }
    for (i, user) in user_ids.iter().enumerate() {
        let org_role = match (i, rng.random_range(0..100)) {
            (0, _) => Owner,
            (_, 0) => Admin,
            (_, 1..=10) => Approver,
            (_, 11..=50) => Requester,
            (_, 51..=59) => Auditor,
            _ => ReadOnly,
        };
        grants.push(Grant {
            grantee: Grantee::User(*user),
            scope: Scope::Organization(org),
            role: org_role.id(),
        });
        let mut chosen = BTreeSet::new();
        while chosen.len() < 3 {
            chosen.insert(rng.random_range(0..WORKSPACES));
        }
        for w in chosen {
            let role = if rng.random_range(0..50) == 0 {
                Admin
            } else {
                pick(&mut rng, &[Approver, Requester, Auditor, ReadOnly])
            };
            grants.push(Grant {
                grantee: Grantee::User(*user),
                scope: Scope::Workspace(org, workspaces[w]),
                role: role.id(),
            });
        }
        let first = rng.random_range(0..groups.len());
        let second = (first + 1 + rng.random_range(0..groups.len() - 1)) % groups.len();
        for g in [first, second] {
            members.push(CollectiveMember {
                collective: Collective::Group(groups[g]),
                org,
                user: *user,
            });
        }
    }
    Shape {
        org,
        workspaces,
        users: user_ids,
        grants,
        members,
    }
}

pub fn catalogue() -> Catalogue {
    let mut catalogue = Catalogue::new();
    catalogue
        .register(
            iamkit_rbac::Permission::parse("workflows.run").unwrap(),
            &[
                BuiltinRole::Owner,
                BuiltinRole::Admin,
                BuiltinRole::Requester,
            ],
        )
        .unwrap();
    catalogue
}

pub fn build_index(shape: &Shape) -> AccessIndex {
    AccessIndex::build(
        catalogue(),
        [],
        shape.grants.iter().copied(),
        shape.members.iter().copied(),
        [],
    )
    .unwrap()
}

/// Random queries: a random user, the organization (1 in 5) or a random
/// workspace, a random permission.
pub fn queries(
    shape: &Shape,
    catalogue: &Catalogue,
    count: usize,
    seed: u64,
) -> Vec<(UserId, PermissionId, Scope)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let permissions: Vec<PermissionId> = catalogue.iter().map(|(p, _)| p).collect();
    (0..count)
        .map(|_| {
            let user = pick(&mut rng, &shape.users);
            let scope = if rng.random_range(0..5) == 0 {
                Scope::Organization(shape.org)
            } else {
                Scope::Workspace(shape.org, pick(&mut rng, &shape.workspaces))
            };
            (user, pick(&mut rng, &permissions), scope)
        })
        .collect()
}

pub const CASBIN_MODEL: &str = "
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub, r.dom) && r.dom == p.dom && r.obj == p.obj && r.act == p.act
";

pub fn casbin_domain(scope: Scope) -> String {
    match scope {
        Scope::Organization(o) => format!("org:{o}"),
        Scope::Workspace(_, w) => format!("ws:{w}"),
    }
}

fn casbin_subject(grantee: Grantee) -> String {
    match grantee {
        Grantee::User(u) => format!("user:{u}"),
        Grantee::Group(g) => format!("group:{g}"),
        Grantee::Team(t) => format!("team:{t}"),
    }
}

pub fn casbin_request(
    catalogue: &Catalogue,
    (user, permission, scope): (UserId, PermissionId, Scope),
) -> (String, String, String, String) {
    (
        format!("user:{user}"),
        casbin_domain(scope),
        catalogue.name(permission).unwrap().to_string(),
        "use".to_owned(),
    )
}

/// The same users, roles, groups and grants as casbin policies (role ×
/// domain × permission) and role links (user → role, user → group,
/// group → role, per domain). casbin has no "org admin ⇒ every workspace"
/// rule, so org Owners and Admins get an explicit Admin link in each of the
/// 50 workspaces.
pub async fn casbin_enforcer(shape: &Shape, catalogue: &Catalogue) -> Enforcer {
    let model = DefaultModel::from_str(CASBIN_MODEL).await.unwrap();
    let mut enforcer = Enforcer::new(model, MemoryAdapter::default())
        .await
        .unwrap();
    let mut scopes = vec![Scope::Organization(shape.org)];
    scopes.extend(
        shape
            .workspaces
            .iter()
            .map(|w| Scope::Workspace(shape.org, *w)),
    );
    let mut policies = Vec::new();
    for role in BuiltinRole::ALL {
        for scope in &scopes {
            for name in catalogue.names_of(&catalogue.builtin_permissions(role)) {
                policies.push(vec![
                    format!("role:{}", role.id()),
                    casbin_domain(*scope),
                    name.to_string(),
                    "use".to_owned(),
                ]);
            }
        }
    }
    let mut links = BTreeSet::new();
    let mut group_domains: Vec<(Grantee, String)> = Vec::new();
    for grant in &shape.grants {
        let domain = casbin_domain(grant.scope);
        links.insert(vec![
            casbin_subject(grant.grantee),
            format!("role:{}", grant.role),
            domain.clone(),
        ]);
        if grant.grantee.collective().is_some() {
            group_domains.push((grant.grantee, domain));
        }
        let org_admin = [BuiltinRole::Owner.id(), BuiltinRole::Admin.id()].contains(&grant.role);
        if org_admin && matches!(grant.scope, Scope::Organization(_)) {
            for w in &shape.workspaces {
                links.insert(vec![
                    casbin_subject(grant.grantee),
                    format!("role:{}", BuiltinRole::Admin.id()),
                    casbin_domain(Scope::Workspace(shape.org, *w)),
                ]);
            }
        }
    }
    for member in &shape.members {
        let group = Grantee::from(member.collective);
        for (g, domain) in &group_domains {
            if *g == group {
                links.insert(vec![
                    format!("user:{}", member.user),
                    casbin_subject(group),
                    domain.clone(),
                ]);
            }
        }
    }
    enforcer.add_policies(policies).await.unwrap();
    enforcer
        .add_grouping_policies(links.into_iter().collect())
        .await
        .unwrap();
    enforcer
}
