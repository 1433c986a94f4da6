//! `tracing` spans of the workflows.
//!
//! Every workflow transaction opens a span `iamkit.workflow` (target
//! `iamkit`, level INFO) when [`Iam::begin`](crate::Iam) starts it, and the
//! few points every workflow passes fill it in: `authorize` records the
//! organization, the actor and the permission; the first audited action
//! names what happened (`action`); `finish` records the outcome —
//! `allowed`, `denied` (with `permission` and `denial`, and a WARN event),
//! or `error` with the error's kind (`not_found`, `invalid_credentials`,
//! ...). A commit without `finish` is `allowed`, and so is the end of a
//! read-only transaction; another transaction rolled back without `finish`
//! is `rolled_back`, and one abandoned by an early return on an error is
//! `error`. Lockouts emit a WARN event.
//!
//! The sign-in family (`log_in`, `authenticate_session`,
//! `authenticate_api_key`, completing a second factor) runs several
//! transactions per call: it opens one span named by its `workflow` for
//! the whole call, its transactions record nothing of their own, and the
//! result fills in the actor and the outcome.
//!
//! Fields carry ids, names of permissions and actions, and kinds — never a
//! secret, a token, a password or an email address (SECURITY.md 30).

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;

use iamkit_audit::{Action, DenialReason};
use iamkit_identity::OrgId;
use tracing::field::Empty;
use tracing::{Instrument, Span};

use crate::actor::{Actor, ActorKind};
use crate::error::{Error, Result};

/// The name of every workflow span.
pub(crate) const WORKFLOW: &str = "iamkit.workflow";

/// What a workflow transaction records into its span.
pub(crate) enum Trace {
    /// The transaction's own span, and what was recorded in it already
    /// (each field once).
    Own {
        span: Span,
        read_only: bool,
        actor: bool,
        org: bool,
        action: bool,
        outcome: bool,
    },
    /// Inside the span of a sign-in workflow, which records for itself.
    Shared,
}

impl Trace {
    /// The span of a transaction begun at `location`, unless it runs
    /// inside a workflow span already.
    pub(crate) fn begin(location: &'static Location<'static>, read_only: bool) -> Self {
        if in_workflow() {
            return Self::Shared;
        }
        let span = tracing::info_span!(
            target: "iamkit",
            WORKFLOW,
            workflow = Empty,
            code.filepath = location.file(),
            code.lineno = location.line(),
            org = Empty,
            actor.kind = Empty,
            actor.id = Empty,
            permission = Empty,
            action = Empty,
            outcome = Empty,
            error = Empty,
            denial = Empty,
        );
        Self::Own {
            span,
            read_only,
            actor: false,
            org: false,
            action: false,
            outcome: false,
        }
    }

    /// No span of its own: bookkeeping inside a workflow whose span
    /// records for it.
    pub(crate) const fn none() -> Self {
        Self::Shared
    }

    /// Records who acts, once.
    pub(crate) fn actor(&mut self, actor: &Actor) {
        if let Self::Own {
            span,
            actor: done @ false,
            ..
        } = self
        {
            record_actor(span, actor);
            *done = true;
        }
    }

    /// Records the organization acted in, once.
    pub(crate) fn org(&mut self, org: OrgId) {
        if let Self::Own {
            span,
            org: done @ false,
            ..
        } = self
        {
            span.record("org", tracing::field::display(org));
            *done = true;
        }
    }

    /// Records the permission the workflow is authorized by.
    pub(crate) fn permission(&self, permission: &'static str) {
        if let Self::Own { span, .. } = self {
            span.record("permission", permission);
        }
    }

    /// Records the first audited action; warns of a lockout.
    pub(crate) fn audited(&mut self, org: OrgId, actor: &Actor, action: &Action) {
        if matches!(action, Action::AccountLocked) {
            tracing::warn!(target: "iamkit", %org, "account locked");
        }
        self.org(org);
        self.actor(actor);
        if let Self::Own {
            span,
            action: done @ false,
            ..
        } = self
        {
            span.record("action", action.kind().as_str());
            *done = true;
        }
    }

    /// Records the workflow's outcome, once.
    fn outcome(&mut self, outcome: &'static str, error: Option<&Error>) {
        if let Self::Own {
            span,
            outcome: done @ false,
            ..
        } = self
        {
            span.record("outcome", outcome);
            if let Some(error) = error {
                span.record("error", error_kind(error));
            }
            *done = true;
        }
    }

    /// The workflow succeeded.
    pub(crate) fn allowed(&mut self) {
        self.outcome("allowed", None);
    }

    /// The workflow failed with `error` (not a denial).
    pub(crate) fn error(&mut self, error: &Error) {
        self.outcome("error", Some(error));
    }

    /// The workflow was denied `permission` for `reason`: recorded, and a
    /// WARN event.
    pub(crate) fn denied(&mut self, org: OrgId, permission: &'static str, reason: &DenialReason) {
        let denial = denial_kind(reason);
        tracing::warn!(target: "iamkit", %org, permission, denial, "authorization denied");
        self.org(org);
        if let Self::Own { span, .. } = self {
            span.record("denial", denial);
        }
        self.outcome("denied", None);
    }

    /// The transaction rolled back: a read-only one has simply ended;
    /// another, unless its outcome was recorded, is `rolled_back`.
    pub(crate) fn rolled_back(&mut self) {
        if matches!(
            self,
            Self::Own {
                read_only: true,
                ..
            }
        ) {
            self.allowed();
        } else {
            self.outcome("rolled_back", None);
        }
    }
}

impl Drop for Trace {
    /// A transaction dropped with no outcome recorded was abandoned by an
    /// early return on an error (`?`): the workflow failed.
    fn drop(&mut self) {
        if let Self::Own {
            span,
            outcome: false,
            ..
        } = self
        {
            span.record("outcome", "error");
        }
    }
}

/// Whether the current span is a workflow span (a sign-in workflow's).
fn in_workflow() -> bool {
    Span::current()
        .metadata()
        .is_some_and(|meta| meta.name() == WORKFLOW)
}

/// Records `actor` into `span`.
pub(crate) fn record_actor(span: &Span, actor: &Actor) {
    match &actor.kind {
        ActorKind::User { user, .. } => {
            span.record("actor.kind", "user");
            span.record("actor.id", tracing::field::display(user));
        }
        ActorKind::ApiKey { key, .. } => {
            span.record("actor.kind", "api_key");
            span.record("actor.id", tracing::field::display(key));
        }
        ActorKind::System => {
            span.record("actor.kind", "system");
        }
    }
}

/// Records an API key's organization into the span of its
/// authentication.
pub(crate) fn record_key_org(span: &Span, actor: &Actor) {
    if let ActorKind::ApiKey { org, .. } = &actor.kind {
        span.record("org", tracing::field::display(org));
    }
}

/// Records a signed-in user into `span`.
pub(crate) fn record_user(span: &Span, user: iamkit_identity::UserId) {
    span.record("actor.kind", "user");
    span.record("actor.id", tracing::field::display(user));
}

/// Runs `work`, one call of the sign-in workflow `name`, in a span of its
/// own, and records its outcome and, on success, who it signed in
/// (`record`). `work` comes boxed: a workflow's future is large, and the
/// moves into this wrapper would otherwise copy it onto the caller's
/// stack more than once (an unoptimized build overflows).
pub(crate) async fn sign_in_workflow<T>(
    name: &'static str,
    work: Pin<Box<dyn Future<Output = Result<T>> + Send + '_>>,
    record: impl FnOnce(&T, &Span),
) -> Result<T> {
    let span = tracing::info_span!(
        target: "iamkit",
        WORKFLOW,
        workflow = name,
        org = Empty,
        actor.kind = Empty,
        actor.id = Empty,
        outcome = Empty,
        error = Empty,
    );
    let result = work.instrument(span.clone()).await;
    match &result {
        Ok(value) => {
            record(value, &span);
            span.record("outcome", "allowed");
        }
        Err(error) => {
            span.record("outcome", "error");
            span.record("error", error_kind(error));
        }
    }
    result
}

/// A stable name of the error's kind; never its text.
pub(crate) fn error_kind(error: &Error) -> &'static str {
    match error {
        Error::InvalidInput(_) => "invalid_input",
        Error::InvalidPassword { .. } => "invalid_password",
        Error::InvalidField { .. } => "invalid_field",
        Error::NotFound => "not_found",
        Error::Forbidden { .. } => "forbidden",
        Error::InvalidCredentials => "invalid_credentials",
        Error::Conflict(_) => "conflict",
        Error::NotManaged => "not_managed",
        Error::ReauthenticationRequired => "reauthentication_required",
        Error::Busy => "busy",
        Error::LastOwner => "last_owner",
        Error::Escalation { .. } => "escalation",
        Error::IllegalTransition { .. } => "illegal_transition",
        Error::RoleNotAssignable => "role_not_assignable",
        Error::LinkedData { .. } => "linked_data",
        Error::DepartmentInUse { .. } => "department_in_use",
        Error::InvalidRole { .. } => "invalid_role",
        Error::Store(_) => "store",
        Error::Crypto => "crypto",
        Error::Unsealable { .. } => "unsealable",
        Error::Internal => "internal",
        Error::InvalidPermission { .. } => "invalid_permission",
    }
}

fn denial_kind(reason: &DenialReason) -> &'static str {
    match reason {
        DenialReason::MissingPermission { .. } => "missing_permission",
        DenialReason::ActorDeactivated => "actor_deactivated",
        DenialReason::OtherOrganization => "other_organization",
        DenialReason::Escalation => "escalation",
        DenialReason::LastOwner => "last_owner",
        DenialReason::SecondFactorRequired => "second_factor_required",
        // Non-exhaustive in its crate: a reason added later.
        _ => "other",
    }
}
