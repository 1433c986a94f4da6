//! Newtype ids. Every id is a UUIDv7: time-ordered, so ids sort by creation
//! and index well, with 74 random bits from the caller's CSPRNG.

/// Defines a UUIDv7 id newtype with generation, parsing and formatting.
///
/// Other iamkit crates use it for their own ids (`RoleId`, `SessionId`, ...),
/// so every id behaves the same way.
///
/// ```
/// use iamkit_identity::define_id;
/// define_id!(
///     /// Identifies a widget.
///     WidgetId
/// );
/// let id: WidgetId = "0190b6a8-5a1c-7c3e-8f00-0123456789ab".parse().unwrap();
/// assert_eq!(id.to_string(), "0190b6a8-5a1c-7c3e-8f00-0123456789ab");
/// ```
#[macro_export]
macro_rules! define_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
            $crate::__private::serde::Serialize, $crate::__private::serde::Deserialize,
        )]
        #[serde(crate = "iamkit_identity::__private::serde", transparent)]
        pub struct $name($crate::__private::Uuid);

        impl $name {
            /// A new time-ordered id (UUIDv7) for an object created at `now`.
            pub fn generate(
                now: $crate::__private::DateTime<$crate::__private::Utc>,
                rng: &mut (impl $crate::__private::CryptoRng + ?Sized),
            ) -> Self {
                Self($crate::__private::uuid_v7(now, rng))
            }

            /// Wraps an existing UUID (e.g. read back from storage).
            pub const fn from_uuid(uuid: $crate::__private::Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> $crate::__private::Uuid {
                self.0
            }
        }

        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Display::fmt(&self.0, f)
            }
        }

        impl ::core::str::FromStr for $name {
            type Err = $crate::__private::uuid::Error;
            fn from_str(s: &str) -> ::core::result::Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }

        impl ::core::convert::From<$name> for $crate::__private::Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

define_id!(
    /// Identifies a user account (global, across organizations).
    UserId
);
define_id!(
    /// Identifies an organization (the tenant).
    OrgId
);
define_id!(
    /// Identifies a workspace inside an organization.
    WorkspaceId
);
define_id!(
    /// Identifies a group of users inside an organization.
    GroupId
);
define_id!(
    /// Identifies a team inside an organization.
    TeamId
);
define_id!(
    /// Identifies a department of an organization.
    DepartmentId
);
define_id!(
    /// Identifies a role (built-in or custom). Defined here because
    /// organization settings name a default role for domain auto-join;
    /// `iamkit-rbac` owns what a role is.
    RoleId
);

define_id!(
    /// Identifies an API key. Defined here so audit events can name keys
    /// without depending on `iamkit-credentials`.
    ApiKeyId
);
define_id!(
    /// Identifies a sign-in session. Defined here for the same reason as
    /// [`ApiKeyId`].
    SessionId
);
define_id!(
    /// Identifies an access request (an approval-gated change).
    AccessRequestId
);

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn ids_are_v7_and_sort_by_creation_time() {
        let mut rng = StdRng::seed_from_u64(7);
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let a = UserId::generate(t0, &mut rng);
        let b = UserId::generate(t0 + chrono::Duration::milliseconds(1), &mut rng);
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert!(a < b, "later ids sort after earlier ones");
        let ts = a.as_uuid().get_timestamp().unwrap().to_unix();
        assert_eq!(ts.0, 1_767_225_600);
    }

    #[test]
    fn display_parse_round_trip_and_debug_names_the_type() {
        let mut rng = StdRng::seed_from_u64(1);
        let id = OrgId::generate(Utc.timestamp_opt(0, 0).unwrap(), &mut rng);
        let back: OrgId = id.to_string().parse().unwrap();
        assert_eq!(id, back);
        assert!(format!("{id:?}").starts_with("OrgId("));
        assert!("not-a-uuid".parse::<OrgId>().is_err());
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
    }
}
