use serde::{Deserialize, Serialize};

/// An opaque position in a sorted listing, handed back to fetch the next page.
///
/// Its content is the adapter's business; callers only store and return it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cursor(String);

impl Cursor {
    /// Wraps an adapter-built position.
    pub fn new(position: impl Into<String>) -> Self {
        Self(position.into())
    }

    /// The position as the adapter wrote it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One page of a listing and, when more follow, the cursor of the next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items of this page, in the listing's order.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    /// A last page (no further cursor).
    pub fn last(items: Vec<T>) -> Self {
        Self { items, next: None }
    }
}
