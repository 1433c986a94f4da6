//! Rendering ids as names at read time.
//!
//! Events store ids only, so erasing a user is deleting one row: their
//! events keep verifying and render as "Deleted user" (SECURITY.md 31).

use std::collections::HashMap;

use crate::event::{Actor, AuditEvent, Target};

/// Looks up the current display name of an object. The facade implements
/// it over the store (usually after loading every id of a page from
/// [`AuditEvent::mentions`] in one batch).
pub trait NameResolver {
    /// The object's name, or `None` if it no longer exists.
    fn name_of(&self, object: Target) -> Option<String>;
}

impl<S: std::hash::BuildHasher> NameResolver for HashMap<Target, String, S> {
    fn name_of(&self, object: Target) -> Option<String> {
        self.get(&object).cloned()
    }
}

/// What an object that no longer exists is shown as.
pub fn deleted_label(object: Target) -> &'static str {
    match object {
        Target::User(_) => "Deleted user",
        Target::Org(_) => "Deleted organization",
        Target::Workspace(_) => "Deleted workspace",
        Target::Group(_) => "Deleted group",
        Target::Team(_) => "Deleted team",
        Target::Department(_) => "Deleted department",
        Target::Role(_) => "Deleted role",
        Target::ApiKey(_) => "Deleted API key",
        Target::Session(_) => "Ended session",
        Target::AccessRequest(_) => "Deleted access request",
    }
}

/// The name of `object`, or its [`deleted_label`].
pub fn label_of(object: Target, names: &(impl NameResolver + ?Sized)) -> String {
    names
        .name_of(object)
        .unwrap_or_else(|| deleted_label(object).to_owned())
}

/// The name of `actor`; [`Actor::System`] reads as "System".
pub fn actor_label(actor: Actor, names: &(impl NameResolver + ?Sized)) -> String {
    match actor {
        Actor::User(id) => label_of(Target::User(id), names),
        Actor::ApiKey(id) => label_of(Target::ApiKey(id), names),
        Actor::System => "System".to_owned(),
    }
}

/// An event with its actor and target named, for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventView<'a> {
    /// The event.
    pub event: &'a AuditEvent,
    /// Who did it.
    pub actor: String,
    /// To what.
    pub target: String,
}

impl<'a> EventView<'a> {
    /// Names `event`'s actor and target through `names`.
    pub fn new(event: &'a AuditEvent, names: &(impl NameResolver + ?Sized)) -> Self {
        Self {
            event,
            actor: actor_label(event.actor, names),
            target: label_of(event.target, names),
        }
    }
}
