//! JSON Lines export: one event per line, oldest first, hashes included,
//! so an auditor can re-verify an export offline with [`read_jsonl`] and
//! [`verify`](crate::verify). The chain itself never depends on this
//! format; it hashes the canonical encoding.

use std::borrow::Borrow;
use std::io::{self, BufRead, Write};

use crate::event::AuditEvent;

/// Writes `events` to `out`, one JSON object per line, streaming (nothing
/// is buffered beyond one event). Returns how many were written.
pub fn write_jsonl<W, I>(mut out: W, events: I) -> io::Result<u64>
where
    W: Write,
    I: IntoIterator,
    I::Item: Borrow<AuditEvent>,
{
    let mut written = 0u64;
    for event in events {
        serde_json::to_writer(&mut out, event.borrow())?;
        out.write_all(b"\n")?;
        written = written.saturating_add(1);
    }
    out.flush()?;
    Ok(written)
}

/// Reads events written by [`write_jsonl`], lazily. A malformed line is an
/// [`io::ErrorKind::InvalidData`] error; blank lines are skipped.
pub fn read_jsonl<R: BufRead>(input: R) -> impl Iterator<Item = io::Result<AuditEvent>> {
    input.lines().filter_map(|line| match line {
        Ok(line) if line.trim().is_empty() => None,
        Ok(line) => Some(serde_json::from_str(&line).map_err(io::Error::from)),
        Err(err) => Some(Err(err)),
    })
}
