//! The error every desktop command returns: the core's typed error with its code, plus the
//! message the UI shows next to the control that caused it.

use atelier_core::{Error, ErrorKind};
use serde::Serialize;

/// What a desktop command answers.
pub type Answer<T> = Result<T, CommandError>;

/// A command's failure as the UI receives it.
#[derive(Debug, Clone, thiserror::Error, Serialize, specta::Type)]
#[error("{message}")]
pub struct CommandError {
    /// The core's error: `{ code, details }`, with a stable `code` the UI matches on.
    pub error: Error,
    /// Whose fault it is: `refused` (fixable by the user), `unavailable`, `internal`.
    pub kind: ErrorKind,
    /// The core's own words, for display.
    pub message: String,
}

impl From<Error> for CommandError {
    fn from(error: Error) -> Self {
        CommandError {
            kind: error.kind(),
            message: error.to_string(),
            error,
        }
    }
}
