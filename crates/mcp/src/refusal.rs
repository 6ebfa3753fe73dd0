//! Core errors as JSON-RPC errors: a stable code in `data.code` on every one, and a JSON-RPC
//! code a host can act on without reading the message.

use atelier_core::Error;
use atelier_core::error::ErrorKind;
use rmcp::ErrorData;
use rmcp::model::ErrorCode;
use serde_json::json;

/// The caller lacks the capability (no grant, or it expired or was revoked).
pub const DENIED: ErrorCode = ErrorCode(-32001);
/// The vault cannot serve now (sealed, switched off, busy).
pub const UNAVAILABLE: ErrorCode = ErrorCode(-32003);
/// The request was valid but the vault's state refuses it (a wrong transition, a cycle).
pub const CONFLICT: ErrorCode = ErrorCode(-32004);

/// The JSON-RPC error for a core error.
pub fn rpc_error(error: &Error) -> ErrorData {
    let code = match error {
        Error::Denied { .. } => DENIED,
        Error::InvalidInput { .. } => ErrorCode::INVALID_PARAMS,
        Error::NotFound { .. } => ErrorCode::RESOURCE_NOT_FOUND,
        _ => match error.kind() {
            ErrorKind::Refused => CONFLICT,
            ErrorKind::Unavailable => UNAVAILABLE,
            ErrorKind::Internal => ErrorCode::INTERNAL_ERROR,
        },
    };
    ErrorData::new(
        code,
        error.to_string(),
        Some(json!({ "code": error.code() })),
    )
}

/// Arguments that do not fit the tool's schema.
pub fn bad_arguments(tool: &str, problems: &[String]) -> ErrorData {
    ErrorData::new(
        ErrorCode::INVALID_PARAMS,
        format!("{tool}: {}", problems.join("; ")),
        Some(json!({ "code": "INVALID_INPUT", "problems": problems })),
    )
}

/// A value that is not one of `allowed`.
pub fn not_one_of(field: &str, value: &str, allowed: &str) -> ErrorData {
    ErrorData::new(
        ErrorCode::INVALID_PARAMS,
        format!("{field}: `{value}` is not one of {allowed}"),
        Some(json!({ "code": "INVALID_INPUT", "field": field })),
    )
}

/// A failure of this process, not of the request.
pub fn internal(message: impl std::fmt::Display) -> ErrorData {
    ErrorData::new(
        ErrorCode::INTERNAL_ERROR,
        message.to_string(),
        Some(json!({ "code": "INTERNAL" })),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use atelier_core::access::auth::Capability;

    #[test]
    fn each_refusal_has_its_own_json_rpc_code_and_keeps_the_stable_code() {
        let denied = rpc_error(&Error::Denied {
            principal: "mcp:x".into(),
            capability: Capability::TasksWrite,
        });
        assert_eq!(denied.code, DENIED);
        assert_eq!(denied.data, Some(json!({"code": "DENIED"})));
        assert_eq!(
            rpc_error(&Error::invalid("title", "empty")).code,
            ErrorCode::INVALID_PARAMS
        );
        assert_eq!(
            rpc_error(&Error::not_found("task", "9")).code,
            ErrorCode::RESOURCE_NOT_FOUND
        );
    }
}
