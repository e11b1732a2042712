//! SDK failures as [`StoreError`]s. The SDK has already retried what it considers transient
//! (throttling, 5xx, timeouts) by the time an error reaches here.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use billing_core::ports::store::StoreError;

/// A failure of `operation` that is not a failed condition. Messages carry the service's
/// error code and message, never the request (items hold e-mail addresses).
pub(crate) fn sdk<E, R>(operation: &str, error: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match &error {
        SdkError::ServiceError(context) => service(operation, context.err()),
        SdkError::ConstructionFailure(_) => {
            StoreError::Invalid(format!("{operation}: {}", DisplayErrorContext(&error)))
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(format!("{operation}: {}", DisplayErrorContext(&error)))
        }
        // `SdkError` is non-exhaustive; anything new is treated as worth retrying.
        _ => StoreError::Unavailable(format!("{operation}: {}", DisplayErrorContext(&error))),
    }
}

/// An error the service answered with.
pub(crate) fn service(operation: &str, error: &impl ProvideErrorMetadata) -> StoreError {
    let code = error.code().unwrap_or("unknown");
    let message = format!("{operation}: {code}: {}", error.message().unwrap_or(""));
    match code {
        // The request itself was wrong: retrying it cannot help.
        "ValidationException" | "SerializationException" => StoreError::Invalid(message),
        // The function may not use the table, or the table does not exist: a deploy is wrong,
        // and sending the same call again cannot help.
        "AccessDeniedException" | "ResourceNotFoundException" => StoreError::Misconfigured(message),
        // Throttling, provisioned throughput, internal errors, an item collection over its
        // size: time (or an operator raising a limit) can fix these.
        _ => StoreError::Unavailable(message),
    }
}
