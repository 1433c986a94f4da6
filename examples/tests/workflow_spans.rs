//! The quick start's story under a `tracing` subscriber that keeps every
//! span and event: each workflow opens an `iamkit.workflow` span naming
//! the organization, the actor and the outcome (allowed, denied with the
//! permission, the error's kind), denials warn — and no field anywhere
//! carries a secret, a token, a password or an email address.
#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use iamkit_store_memory::MemoryStore;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

#[path = "../shared/story.rs"]
mod story;

/// A span as it closed: its name and every field recorded on it.
#[derive(Debug, Clone, Default)]
struct SeenSpan {
    name: String,
    fields: BTreeMap<String, String>,
}

/// An event: its level, its fields, and the name of its span.
#[derive(Debug, Clone)]
struct SeenEvent {
    level: Level,
    fields: BTreeMap<String, String>,
    span: Option<String>,
}

#[derive(Default)]
struct Seen {
    open: BTreeMap<u64, SeenSpan>,
    closed: Vec<SeenSpan>,
    events: Vec<SeenEvent>,
}

/// Keeps every span (with all its records) and every event.
#[derive(Clone, Default)]
struct Keep(Arc<Mutex<Seen>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(
            field.name().to_owned(),
            format!("{value:?}").trim_matches('"').to_owned(),
        );
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Keep {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut span = SeenSpan {
            name: attrs.metadata().name().to_owned(),
            ..SeenSpan::default()
        };
        attrs.record(&mut Fields(&mut span.fields));
        self.0.lock().unwrap().open.insert(id.into_u64(), span);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut seen = self.0.lock().unwrap();
        if let Some(span) = seen.open.get_mut(&id.into_u64()) {
            values.record(&mut Fields(&mut span.fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let span = ctx.event_span(event).map(|s| s.name().to_owned());
        self.0.lock().unwrap().events.push(SeenEvent {
            level: *event.metadata().level(),
            fields,
            span,
        });
    }

    fn on_close(&self, id: Id, _: Context<'_, S>) {
        let mut seen = self.0.lock().unwrap();
        if let Some(span) = seen.open.remove(&id.into_u64()) {
            seen.closed.push(span);
        }
    }
}

fn field<'a>(span: &'a SeenSpan, name: &str) -> Option<&'a str> {
    span.fields.get(name).map(String::as_str)
}

#[tokio::test]
async fn the_quickstart_story_leaves_workflow_spans_and_no_secret() {
    let keep = Keep::default();
    let subscriber = Registry::default().with(keep.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    story::story(MemoryStore::new()).await.unwrap();
    drop(_guard);

    let seen = keep.0.lock().unwrap();
    assert!(seen.open.is_empty(), "every span closed: {:?}", seen.open);
    let workflows: Vec<&SeenSpan> = seen
        .closed
        .iter()
        .filter(|s| s.name == "iamkit.workflow")
        .collect();
    // bootstrap, 2 sign-ins, 3 authentications, workspace, invitation,
    // outbox, acceptance, 4 groups, roles, member, explain, 2 details,
    // deactivation: at least one span each.
    assert!(
        workflows.len() >= 20,
        "{} spans: {workflows:#?}",
        workflows.len()
    );
    for span in &workflows {
        assert!(field(span, "outcome").is_some(), "an outcome: {span:?}");
    }

    // Sign-ins name who signed in.
    let sign_ins: Vec<_> = workflows
        .iter()
        .filter(|s| field(s, "workflow") == Some("log_in"))
        .collect();
    assert_eq!(sign_ins.len(), 2, "Ada and Bob sign in");
    for span in &sign_ins {
        assert_eq!(field(span, "outcome"), Some("allowed"));
        assert_eq!(field(span, "actor.kind"), Some("user"));
        assert!(
            field(span, "actor.id").is_some_and(|id| id.len() == 36),
            "{span:?}"
        );
    }
    let ada = field(sign_ins[0], "actor.id").unwrap().to_owned();
    let bob = field(sign_ins[1], "actor.id").unwrap().to_owned();
    assert!(
        workflows
            .iter()
            .filter(|s| field(s, "workflow") == Some("authenticate_session"))
            .all(|s| field(s, "actor.kind") == Some("user")),
        "an authentication names its actor"
    );

    // An administrative workflow names the organization, the actor, the
    // permission and what was done.
    let workspace = workflows
        .iter()
        .find(|s| field(s, "permission") == Some("workspaces.manage"))
        .expect("the workspace's creation");
    let acme = field(workspace, "org").expect("an organization").to_owned();
    assert_eq!(field(workspace, "actor.kind"), Some("user"));
    assert_eq!(field(workspace, "actor.id"), Some(ada.as_str()));
    assert_eq!(field(workspace, "outcome"), Some("allowed"));
    assert!(
        field(workspace, "action").is_some(),
        "what was done: {workspace:?}"
    );
    let deactivation = workflows
        .iter()
        .find(|s| field(s, "action") == Some("deactivated"))
        .expect("the deactivation");
    assert_eq!(field(deactivation, "org"), Some(acme.as_str()));
    assert_eq!(field(deactivation, "permission"), Some("users.deactivate"));
    assert_eq!(field(deactivation, "outcome"), Some("allowed"));

    // Bob (Read-only) may not create a group: denied, with the
    // permission, and a warning.
    let denied = workflows
        .iter()
        .find(|s| field(s, "outcome") == Some("denied"))
        .expect("Bob's refused group");
    assert_eq!(field(denied, "permission"), Some("groups.manage"));
    assert_eq!(field(denied, "denial"), Some("missing_permission"));
    assert_eq!(field(denied, "actor.id"), Some(bob.as_str()));
    assert_eq!(field(denied, "org"), Some(acme.as_str()));
    assert!(
        seen.events.iter().any(|e| e.level == Level::WARN
            && e.fields.get("permission").map(String::as_str) == Some("groups.manage")),
        "a denial warns: {:?}",
        seen.events
    );
    // After his deactivation his session is dead: an error of its kind.
    assert!(
        workflows
            .iter()
            .any(|s| field(s, "outcome") == Some("error")
                && field(s, "error") == Some("invalid_credentials")
                && field(s, "permission") == Some("groups.manage")),
        "Bob's late try fails authentication"
    );

    // No secret, token, password or email address in any field of any
    // span or event.
    let forbidden = [
        "iamk_",
        "@",
        "analytical engine",
        "one love one heart",
        "password_hash",
        "$argon2",
    ];
    let values = seen
        .closed
        .iter()
        .flat_map(|s| s.fields.iter())
        .chain(seen.events.iter().flat_map(|e| e.fields.iter()));
    let mut checked = 0;
    for (name, value) in values {
        for needle in forbidden {
            assert!(
                !value.contains(needle),
                "`{name}` = {value:?} holds {needle:?}"
            );
        }
        checked += 1;
    }
    assert!(checked > 100, "{checked} fields checked");
    assert!(
        seen.events
            .iter()
            .all(|e| e.span.is_some() || e.level <= Level::INFO)
    );
}
