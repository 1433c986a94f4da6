//! Departments: the sub-organizations an organization files its members
//! under (one each, or none). They grant nothing: the directory filters
//! by them, and a member's department is set with
//! [`Iam::update_profile`](crate::Iam::update_profile).

use iamkit_audit::{Action, Target};
use iamkit_identity::{Department, DepartmentId, Name, OrgId};
use iamkit_rbac::Scope;

use crate::actor::Actor;
use crate::cache::Work;
use crate::error::{Error, Result};
use crate::iam::{Flow, Iam, os_rng};
use crate::store::Store;
use crate::store::repositories::*;

const MANAGE: &str = "departments.manage";
/// Listing departments is reading the directory.
const READ: &str = "users.read";

/// How many of a department's members [`Error::DepartmentInUse`] names
/// (it counts them all).
pub const DEPARTMENT_MEMBERS_SHOWN: usize = 20;

impl<S: Store> Iam<S> {
    /// The department `id` of `org`; another organization's looks absent
    /// (SECURITY.md 25).
    async fn department_in(
        &self,
        tx: &mut Work<S>,
        org: OrgId,
        id: DepartmentId,
    ) -> Result<Department> {
        match tx.get_department(id).await? {
            Some(department) if department.org == org => Ok(department),
            _ => Err(Error::NotFound),
        }
    }

    /// Creates a department in `org`. Requires `departments.manage`. The
    /// name is unique in the organization, case-insensitively: a taken one
    /// is [`Conflict::NameTaken`](crate::Conflict::NameTaken) (field
    /// `name`). Audited as [`Action::DepartmentCreated`].
    pub async fn create_department(
        &self,
        actor: &Actor,
        org: OrgId,
        name: &str,
    ) -> Result<Department> {
        let name = Name::parse(name).map_err(|e| e.for_field("name"))?;
        let department = Department {
            id: DepartmentId::generate(self.now(), &mut os_rng()),
            org,
            name,
        };
        let mut tx = self.begin().await?;
        let outcome: Flow<Department> = async {
            self.authorize(
                &mut tx,
                actor,
                MANAGE,
                Scope::Organization(org),
                Target::Org(org),
            )
            .await?;
            tx.insert_department(&department)
                .await
                .map_err(Error::from_store)?;
            self.audit(
                &mut tx,
                org,
                actor,
                Action::DepartmentCreated,
                Target::Department(department.id),
            )
            .await?;
            Ok(department)
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Renames a department of `org` and returns it. Requires
    /// `departments.manage`; the new name is unique as for
    /// [`create_department`](Self::create_department). Renaming to the
    /// name it has changes and audits nothing; otherwise audited as
    /// [`Action::DepartmentRenamed`].
    pub async fn rename_department(
        &self,
        actor: &Actor,
        org: OrgId,
        id: DepartmentId,
        name: &str,
    ) -> Result<Department> {
        let name = Name::parse(name).map_err(|e| e.for_field("name"))?;
        let target = Target::Department(id);
        let mut tx = self.begin().await?;
        let outcome: Flow<Department> = async {
            self.authorize(&mut tx, actor, MANAGE, Scope::Organization(org), target)
                .await?;
            let mut department = self.department_in(&mut tx, org, id).await?;
            if department.name == name {
                return Ok(department);
            }
            department.name = name;
            tx.update_department(&department)
                .await
                .map_err(Error::from_store)?;
            self.audit(&mut tx, org, actor, Action::DepartmentRenamed, target)
                .await?;
            Ok(department)
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Deletes a department of `org`. Requires `departments.manage`.
    /// Refused with [`Error::DepartmentInUse`], naming the members still
    /// filed under it, while there are any: move them first. Audited as
    /// [`Action::DepartmentDeleted`].
    pub async fn delete_department(
        &self,
        actor: &Actor,
        org: OrgId,
        id: DepartmentId,
    ) -> Result<()> {
        let target = Target::Department(id);
        let mut tx = self.begin().await?;
        let outcome: Flow<()> = async {
            self.authorize(&mut tx, actor, MANAGE, Scope::Organization(org), target)
                .await?;
            self.department_in(&mut tx, org, id).await?;
            // Every workflow that files a member under a department holds
            // the organization's authorization version from `authorize`
            // on, as this one does: the members read here are all there
            // are until this transaction ends.
            let members = tx.list_department_members(id).await?;
            if !members.is_empty() {
                let count = members.len();
                let members = members.into_iter().take(DEPARTMENT_MEMBERS_SHOWN).collect();
                return Err(Error::DepartmentInUse { members, count }.into());
            }
            tx.delete_department(id).await?;
            self.audit(&mut tx, org, actor, Action::DepartmentDeleted, target)
                .await?;
            Ok(())
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// The departments of `org`, by name (case-insensitively). Requires
    /// `users.read`, as the directory does.
    pub async fn list_departments(&self, actor: &Actor, org: OrgId) -> Result<Vec<Department>> {
        let mut tx = self.begin().await?;
        let outcome: Flow<Vec<Department>> = async {
            self.authorize(
                &mut tx,
                actor,
                READ,
                Scope::Organization(org),
                Target::Org(org),
            )
            .await?;
            Ok(tx.list_departments(org).await?)
        }
        .await;
        self.finish(tx, actor, outcome).await
    }
}
