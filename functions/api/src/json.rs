//! JSON body extractors whose rejections use the API's error shape.

use std::fmt;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

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
/// at fault: `parameter_unknown`, `parameter_missing` or `parameter_invalid` (also for a key
/// given twice in one object).
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let ApiJson(Unrepeated { value, repeated }) =
            ApiJson::<Unrepeated>::from_request(request, state).await?;
        if let Some(path) = repeated {
            return Err(ApiError::new(
                ErrorCode::ParameterInvalid,
                format!("`{path}` is given more than once."),
            )
            .with_param(path));
        }
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

/// A JSON value, and the path of the first key an object of it names twice. serde_json's `Value`
/// keeps the last of two equal keys, so `{"amount": 500, "amount": 1000000}` would charge an
/// amount that anything reading the first (a proxy, a log, the client's own check) never saw:
/// such a body is refused rather than read either way.
struct Unrepeated {
    value: Value,
    repeated: Option<String>,
}

impl<'de> Deserialize<'de> for Unrepeated {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UnrepeatedVisitor)
    }
}

struct UnrepeatedVisitor;

impl UnrepeatedVisitor {
    fn plain<E>(value: impl Into<Value>) -> Result<Unrepeated, E> {
        Ok(Unrepeated {
            value: value.into(),
            repeated: None,
        })
    }
}

impl<'de> Visitor<'de> for UnrepeatedVisitor {
    type Value = Unrepeated;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Unrepeated, E> {
        Self::plain(value)
    }

    fn visit_i64<E>(self, value: i64) -> Result<Unrepeated, E> {
        Self::plain(value)
    }

    fn visit_u64<E>(self, value: u64) -> Result<Unrepeated, E> {
        Self::plain(value)
    }

    fn visit_f64<E>(self, value: f64) -> Result<Unrepeated, E> {
        Self::plain(value)
    }

    fn visit_str<E>(self, value: &str) -> Result<Unrepeated, E> {
        Self::plain(value)
    }

    fn visit_string<E>(self, value: String) -> Result<Unrepeated, E> {
        Self::plain(value)
    }

    fn visit_unit<E>(self) -> Result<Unrepeated, E> {
        Self::plain(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Unrepeated, E> {
        Self::plain(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Unrepeated, A::Error> {
        let mut values = Vec::new();
        let mut repeated = None;
        while let Some(item) = items.next_element::<Unrepeated>()? {
            if repeated.is_none() {
                repeated = item
                    .repeated
                    .map(|path| nested(&format!("[{}]", values.len()), &path));
            }
            values.push(item.value);
        }
        Ok(Unrepeated {
            value: Value::Array(values),
            repeated,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Unrepeated, A::Error> {
        let mut object = Map::new();
        let mut repeated = None;
        while let Some(key) = entries.next_key::<String>()? {
            let entry: Unrepeated = entries.next_value()?;
            if repeated.is_none() {
                repeated = if object.contains_key(&key) {
                    Some(key.clone())
                } else {
                    entry.repeated.map(|path| nested(&key, &path))
                };
            }
            object.insert(key, entry.value);
        }
        Ok(Unrepeated {
            value: Value::Object(object),
            repeated,
        })
    }
}

/// `outer` then `inner` in serde_path_to_error's notation: `card.number`, `items[0].id`.
fn nested(outer: &str, inner: &str) -> String {
    if inner.starts_with('[') {
        format!("{outer}{inner}")
    } else {
        format!("{outer}.{inner}")
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

    fn repeated(json: &str) -> Option<String> {
        serde_json::from_str::<Unrepeated>(json).unwrap().repeated
    }

    #[test]
    fn a_key_named_twice_is_found_at_any_depth_and_named_by_its_path() {
        assert_eq!(
            repeated(r#"{"amount": 500, "amount": 1000000}"#).as_deref(),
            Some("amount")
        );
        assert_eq!(
            repeated(r#"{"a": {"b": 1, "c": {"d": 1, "d": 1}}}"#).as_deref(),
            Some("a.c.d")
        );
        assert_eq!(
            repeated(r#"{"a": [{"b": 1}, {"c": 1, "c": 2}]}"#).as_deref(),
            Some("a[1].c")
        );
        assert_eq!(
            repeated(r#"[[], {"x": 1, "x": 1}]"#).as_deref(),
            Some("[1].x")
        );
    }

    #[test]
    fn nesting_past_serde_jsons_depth_limit_is_a_syntax_error_not_a_stack_overflow() {
        let deep = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));

        let error = serde_json::from_str::<Unrepeated>(&deep).err().unwrap();

        assert!(error.is_syntax(), "{error}");
    }

    #[test]
    fn without_a_repeated_key_the_value_is_serde_jsons() {
        let json = r#"{"a": [1, -2, 3.5, "x", null, true, {"b": {}}], "c": 18446744073709551615}"#;

        let read = serde_json::from_str::<Unrepeated>(json).unwrap();

        assert_eq!(read.repeated, None);
        assert_eq!(read.value, serde_json::from_str::<Value>(json).unwrap());
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
