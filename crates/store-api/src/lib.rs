#![doc = include_str!("../README.md")]

mod columns;
mod error;
mod page;

pub use error::{ErrorKind, StoreError};
pub use page::{Cursor, Page};
