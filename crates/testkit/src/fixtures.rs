//! Deterministic test data: fixed time, seeded ids.

use chrono::{DateTime, TimeZone, Utc};
use iamkit_identity::{
    Department, Email, Group, Membership, Name, NewUser, OrgId, OrgSettings, Organization, Profile,
    Slug, Team, User, UserId, UserStatus, Username, Workspace,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Builds valid domain objects with deterministic ids.
pub struct Fixture {
    rng: StdRng,
    now: DateTime<Utc>,
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new(1)
    }
}

impl Fixture {
    /// A fixture whose ids derive from `seed` (use distinct seeds in
    /// concurrent tasks).
    pub fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            now: Utc
                .with_ymd_and_hms(2026, 1, 1, 12, 0, 0)
                .single()
                .expect("a valid fixed time"),
        }
    }

    /// The fixed time objects are created at.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The fixture's random generator (seeded).
    pub fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }

    /// An active user `username` with email `<username>@example.com` and
    /// names derived from the username.
    pub fn user(&mut self, username: &str) -> User {
        self.user_named(username, username, "Tester")
    }

    /// An active user with the given first and last name.
    pub fn user_named(&mut self, username: &str, first: &str, last: &str) -> User {
        let input = NewUser {
            username: Username::parse(username).expect("valid fixture username"),
            email: Email::parse(&format!("{username}@example.com")).expect("valid fixture email"),
            profile: Profile::parse(first, last, None, None, None).expect("valid fixture profile"),
            status: UserStatus::Active,
        };
        User::new(input, self.now, &mut self.rng)
    }

    /// An organization with slug `slug`.
    pub fn org(&mut self, slug: &str) -> Organization {
        Organization {
            id: OrgId::generate(self.now, &mut self.rng),
            name: Name::parse(slug).expect("valid fixture name"),
            slug: Slug::parse(slug).expect("valid fixture slug"),
            settings: OrgSettings::default(),
            created_at: self.now,
        }
    }

    /// An active membership.
    pub fn membership(&self, org: OrgId, user: UserId) -> Membership {
        Membership {
            org,
            user,
            status: UserStatus::Active,
            department: None,
            created_at: self.now,
            updated_at: self.now,
        }
    }

    /// A workspace of `org`.
    pub fn workspace(&mut self, org: OrgId, name: &str) -> Workspace {
        Workspace {
            id: iamkit_identity::WorkspaceId::generate(self.now, &mut self.rng),
            org,
            name: Name::parse(name).expect("valid fixture name"),
            created_at: self.now,
        }
    }

    /// A group of `org`.
    pub fn group(&mut self, org: OrgId, name: &str) -> Group {
        Group {
            id: iamkit_identity::GroupId::generate(self.now, &mut self.rng),
            org,
            name: Name::parse(name).expect("valid fixture name"),
            created_at: self.now,
        }
    }

    /// A team of `org`.
    pub fn team(&mut self, org: OrgId, name: &str) -> Team {
        Team {
            id: iamkit_identity::TeamId::generate(self.now, &mut self.rng),
            org,
            name: Name::parse(name).expect("valid fixture name"),
            created_at: self.now,
        }
    }

    /// A department of `org`.
    pub fn department(&mut self, org: OrgId, name: &str) -> Department {
        Department {
            id: iamkit_identity::DepartmentId::generate(self.now, &mut self.rng),
            org,
            name: Name::parse(name).expect("valid fixture name"),
        }
    }
}
