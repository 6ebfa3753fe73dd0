//! Checks on text that users type, shared by every command so the rules are the same
//! everywhere.

use crate::error::{Error, Result};

/// The longest title (tasks, canon blocks, assets), in characters.
pub const MAX_TITLE: usize = 200;

/// An id given by the caller: a positive whole number.
pub fn positive_id(field: &str, id: i64) -> Result<i64> {
    if id > 0 {
        Ok(id)
    } else {
        Err(Error::invalid(field, "an id is a positive whole number"))
    }
}

/// A one-line name or title: trimmed, non-empty, at most `max` characters, no control
/// characters.
pub fn line(field: &str, value: &str, max: usize) -> Result<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            "must be one line without control characters",
        ));
    }
    if value.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(value.to_owned())
}

/// Free text: may be empty (unless `required`), newlines and tabs allowed, no NUL or other
/// control characters, at most `max` bytes.
pub fn text(field: &str, value: &str, max: usize, required: bool) -> Result<String> {
    if required && value.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
    {
        return Err(Error::invalid(
            field,
            "must not contain NUL or control characters",
        ));
    }
    if value.len() > max {
        return Err(Error::invalid(
            field,
            format!("must be at most {max} bytes"),
        ));
    }
    Ok(value.to_owned())
}

/// An identifier-like name: lowercase letters, digits, `_` and `-`, 1 to 64 characters.
pub fn slug(field: &str, value: &str) -> Result<String> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(Error::invalid(
            field,
            "use 1 to 64 lowercase letters, digits, `_` or `-`",
        ))
    }
}

/// An integer within `range`.
pub fn within(field: &str, value: i64, range: std::ops::RangeInclusive<i64>) -> Result<i64> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(Error::invalid(
            field,
            format!("must be between {} and {}", range.start(), range.end()),
        ))
    }
}

/// A YAML error's line (1-based, 0 when unknown) and its message without the library's
/// " at line L column C" suffix, which the caller reports as a line of its own.
pub fn yaml_problem(error: &serde_yaml_ng::Error) -> (usize, String) {
    let line = error.location().map_or(0, |l| l.line());
    let message = error.to_string();
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    (line, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_refuse_empty_control_and_overlong_text() {
        assert_eq!(line("title", "  Draft  ", 10).expect("ok"), "Draft");
        for bad in ["", "   ", "a\0b", "two\nlines", "elevenchars"] {
            let err = line("title", bad, 10).expect_err(bad);
            assert_eq!(err.code(), "INVALID_INPUT");
        }
    }

    #[test]
    fn slugs_are_strict() {
        assert!(slug("name", "scene-outline_2").is_ok());
        for bad in ["", "Scene", "a b", "../x", "é"] {
            assert!(slug("name", bad).is_err(), "{bad}");
        }
    }
}
