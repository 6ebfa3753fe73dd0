//! How a command's outcome reaches the terminal: results as text or JSON, errors with their
//! code, and the exit code that classifies them.

use crate::render;
use atelier_core::{Error, ErrorKind};
use serde::Serialize;
use std::process::ExitCode;

/// Why the command did not succeed; decides the exit code. The message is already printed.
#[derive(Debug)]
pub enum Failure {
    /// Internal failure (exit 1).
    Internal,
    /// The request was refused (exit 2).
    Refused,
    /// The vault is unavailable (exit 3).
    Unavailable,
    /// A check found problems (exit 4).
    CheckFailed,
}

impl Failure {
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            Failure::Internal => 1,
            Failure::Refused => 2,
            Failure::Unavailable => 3,
            Failure::CheckFailed => 4,
        })
    }
}

/// Output settings shared by every command.
#[derive(Debug)]
pub struct Out {
    pub json: bool,
}

impl Out {
    /// Prints `value` as JSON, or with `human` as text.
    pub fn show<T: Serialize>(&self, value: &T, human: impl FnOnce(&T) -> String) {
        if self.json {
            render::json(value);
        } else {
            render::line(&human(value));
        }
    }

    /// Prints an error (JSON on stdout with --json, text on stderr otherwise) and classifies it.
    pub fn fail(&self, error: &Error) -> Failure {
        if self.json {
            // The error serializes as {"code", "details"}; the message is added beside them.
            let mut body = serde_json::to_value(error).unwrap_or_default();
            if let Some(fields) = body.as_object_mut() {
                fields.insert("message".to_owned(), error.to_string().into());
            }
            render::json(&serde_json::json!({ "error": body }));
        } else {
            render::error(&format!("error[{}]: {error}", error.code()));
        }
        match error.kind() {
            ErrorKind::Refused => Failure::Refused,
            ErrorKind::Unavailable => Failure::Unavailable,
            ErrorKind::Internal => Failure::Internal,
        }
    }

    pub fn usage(&self, field: &str, problem: &str) -> Failure {
        self.fail(&Error::invalid(field, problem))
    }
}
