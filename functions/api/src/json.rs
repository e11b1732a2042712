//! JSON body extractors whose rejections use the API's error shape.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, ErrorCode};

/// Largest request body the API reads.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// `Json<T>` with API-shaped errors: any JSON value `T` accepts.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(rejection_error(&rejection)),
        }
    }
}

/// A request body that must be a JSON object, parsed into the typed request `T` (declare it
/// `deny_unknown_fields` where the contract fixes the shape). A refusal names the parameter
/// at fault: `parameter_unknown`, `parameter_missing` or `parameter_invalid`.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let ApiJson(value) = ApiJson::<Value>::from_request(request, state).await?;
        if !value.is_object() {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                "The request body must be a JSON object.",
            ));
        }
        serde_path_to_error::deserialize(value)
            .map(Self)
            .map_err(|e| parameter_error(&e.path().to_string(), &e.into_inner().to_string()))
    }
}

/// Names the parameter at fault from serde's error. serde words the unknown-field,
/// missing-field and wrong-type errors itself (`serde::de::Error`'s provided methods), so their
/// prefixes are stable; anything else (a value a type's own parser refused) is reported whole.
fn parameter_error(path: &str, message: &str) -> ApiError {
    let quoted = |rest: &str| rest.split('`').next().unwrap_or_default().to_owned();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let field = quoted(rest);
        ApiError::new(
            ErrorCode::ParameterUnknown,
            format!("Unknown parameter `{field}`."),
        )
        .with_param(field)
    } else if let Some(rest) = message.strip_prefix("missing field `") {
        let field = quoted(rest);
        ApiError::new(
            ErrorCode::ParameterMissing,
            format!("`{field}` is required."),
        )
        .with_param(field)
    } else if message.starts_with("invalid type") || message.starts_with("invalid value") {
        ApiError::new(ErrorCode::ParameterInvalid, format!("`{path}`: {message}.")).with_param(path)
    } else {
        ApiError::new(
            ErrorCode::InvalidRequest,
            format!("The request body is not as expected: `{path}`: {message}."),
        )
        .with_param(path)
    }
}

fn rejection_error(rejection: &JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "Send the body as JSON with `Content-Type: application/json`.",
        ),
        JsonRejection::JsonSyntaxError(_) => ApiError::new(
            ErrorCode::InvalidJson,
            "The request body is not valid JSON.",
        ),
        JsonRejection::JsonDataError(e) => ApiError::new(
            ErrorCode::InvalidRequest,
            format!("The request body is not as expected: {}", e.body_text()),
        ),
        JsonRejection::BytesRejection(_) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(
                ErrorCode::RequestTooLarge,
                format!("The request body is larger than {MAX_BODY_BYTES} bytes."),
            )
        }
        other => ApiError::new(ErrorCode::InvalidRequest, other.body_text()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)] // read only through Debug: the tests look at the refusals
    struct Body {
        name: String,
    }

    fn refusal(json: Value) -> ApiError {
        serde_path_to_error::deserialize::<_, Body>(json)
            .map(|b| panic!("{b:?} was accepted"))
            .unwrap_or_else(|e| parameter_error(&e.path().to_string(), &e.into_inner().to_string()))
    }

    #[test]
    fn serde_refusals_name_the_parameter_at_fault() {
        let unknown = refusal(serde_json::json!({"name": "a", "number": "4242"}));
        assert_eq!(
            (unknown.code, unknown.param.as_deref()),
            (ErrorCode::ParameterUnknown, Some("number"))
        );
        let missing = refusal(serde_json::json!({}));
        assert_eq!(
            (missing.code, missing.param.as_deref()),
            (ErrorCode::ParameterMissing, Some("name"))
        );
        let wrong_type = refusal(serde_json::json!({"name": 42}));
        assert_eq!(
            (wrong_type.code, wrong_type.param.as_deref()),
            (ErrorCode::ParameterInvalid, Some("name"))
        );
    }
}
