//! Logs as JSON lines, one per event, where every line logged while handling a request carries
//! its `request_id` and, once the caller is authenticated, its `account_id`; and one access line
//! per request (method, route, status, latency).
//!
//! The request id is API Gateway's on Lambda (from the request context lambda_http puts in the
//! request, with the `lambda` feature), else a sane incoming `x-request-id`, else a generated
//! one. It is echoed in the response's `x-request-id`.

use std::fmt;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Instrument, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;

/// The header a request id is read from and echoed in.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Installs the JSON log subscriber for the process, writing to stdout (CloudWatch on Lambda),
/// filtered as `RUST_LOG` says ([`filter`]). A second call keeps the first subscriber.
pub fn init() {
    let filter = filter(std::env::var("RUST_LOG").ok().as_deref());
    // Already set (a test harness, or a binary calling twice): the first one stays.
    let _ = tracing::subscriber::set_global_default(subscriber(std::io::stdout, filter));
}

/// The filter a `RUST_LOG` value sets: a level (`error`, `warn`, `info`, `debug`, `trace`), or
/// `target=level` directives and a default level, separated by commas
/// (`info,billing_api=debug`); `info` when unset, empty or unreadable. tracing-subscriber's
/// `Targets`, not its `EnvFilter`: no span or field directives, and no regex engine in every
/// Lambda binary (README "Lambda footprint").
pub fn filter(rust_log: Option<&str>) -> Targets {
    rust_log
        .filter(|value| !value.trim().is_empty())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

/// The subscriber [`init`] installs, writing to any writer (tests capture it).
pub fn subscriber<W>(writer: W, filter: Targets) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_writer(writer)
        // Every level reaches the filter, which decides.
        .with_max_level(LevelFilter::TRACE)
        .fmt_fields(JsonFields::new())
        .event_format(JsonLines)
        .finish()
        .with(filter)
}

/// The middleware (`axum::middleware::from_fn(trace_request)`): runs the request inside a
/// `request` span carrying `request_id` (and `account_id`, which [`crate::Caller`] records),
/// then logs the access line in it.
pub async fn trace_request(request: Request, next: Next) -> Response {
    traced(request, |request| next.run(request)).await
}

/// What [`trace_request`] does, around any `respond`: a middleware that answers a request
/// itself, without the routers it guards (billing-local's `Host` check), logs it the same way.
///
/// The access line has `method`, `route` (the matched route, e.g. `/authorize/{token}`: the
/// path without its query string and without the values in it, so no token or id is logged;
/// `unmatched` when no route matched), `status` and `latency_us`. Never a header or a body.
pub async fn traced<F, Fut>(request: Request, respond: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let request_id = request_id(&request);
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        account_id = tracing::field::Empty,
    );
    let started = Instant::now();
    let mut response = respond(request).instrument(span.clone()).await;
    let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let status = response.status().as_u16();
    span.in_scope(|| tracing::info!(%method, %route, status, latency_us, "request"));
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// The request's id: API Gateway's, a sane incoming one, or a new one.
fn request_id(request: &Request) -> String {
    gateway_request_id(request)
        .or_else(|| {
            request
                .headers()
                .get(REQUEST_ID_HEADER)
                .and_then(|value| value.to_str().ok())
                .filter(|id| is_sane(id))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| format!("req_{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..)))
}

/// An incoming id is kept only if it cannot forge or bloat a log line.
fn is_sane(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

#[cfg(feature = "lambda")]
fn gateway_request_id(request: &Request) -> Option<String> {
    use lambda_http::request::RequestContext;
    match request.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        _ => None,
    }
}

#[cfg(not(feature = "lambda"))]
fn gateway_request_id(_request: &Request) -> Option<String> {
    None
}

/// One flat JSON object per event: `timestamp`, `level`, `target`, the fields of every span
/// the event is in (outermost first, so inner spans win), then the event's own fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Map::new();
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let recorded = extensions
                    .get::<FormattedFields<N>>()
                    .and_then(|f| serde_json::from_str::<Map<String, Value>>(&f.fields).ok());
                fields.extend(recorded.unwrap_or_default());
            }
        }
        event.record(&mut FieldsVisitor(&mut fields));

        let metadata = event.metadata();
        let head = [
            (
                "timestamp",
                Value::from(
                    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                ),
            ),
            ("level", Value::from(metadata.level().as_str())),
            ("target", Value::from(metadata.target())),
        ];
        writer.write_char('{')?;
        let entries = head
            .iter()
            .map(|(k, v)| (*k, v))
            .chain(fields.iter().map(|(k, v)| (k.as_str(), v)));
        for (n, (key, value)) in entries.enumerate() {
            if n > 0 {
                writer.write_char(',')?;
            }
            write!(writer, "{}:{}", Value::from(key), value)?;
        }
        writer.write_str("}\n")
    }
}

/// Collects an event's fields as JSON values.
struct FieldsVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for FieldsVisitor<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0
            .insert(field.name().to_owned(), value.to_string().into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;

    use super::*;

    #[test]
    fn rust_log_sets_the_level_and_per_target_levels_and_anything_else_is_info() {
        use tracing::Level;
        let enables = |rust_log: Option<&str>, target: &str, level: Level| {
            filter(rust_log).would_enable(target, &level)
        };
        for unset in [None, Some(""), Some("  "), Some("=nonsense=[")] {
            assert!(enables(unset, "billing_api", Level::INFO), "{unset:?}");
            assert!(!enables(unset, "billing_api", Level::DEBUG), "{unset:?}");
        }
        assert!(enables(Some("debug"), "aws_smithy_runtime", Level::DEBUG));
        assert!(!enables(Some("warn"), "billing_api", Level::INFO));
        assert!(enables(Some("warn"), "billing_api", Level::ERROR));
        let mixed = Some("warn,billing_api=debug");
        assert!(enables(mixed, "billing_api::routes", Level::DEBUG));
        assert!(!enables(mixed, "hyper", Level::INFO));
    }

    fn request(header: Option<&str>) -> Request {
        let mut builder = Request::get("/v1/billing");
        if let Some(id) = header {
            builder = builder.header(REQUEST_ID_HEADER, id);
        }
        builder.body(Body::empty()).unwrap()
    }

    #[test]
    fn a_line_is_one_json_object_and_a_control_character_in_a_value_is_escaped() {
        /// What the subscriber writes, kept where the test can read it.
        #[derive(Clone, Default)]
        struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Shared {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        impl<'a> MakeWriter<'a> for Shared {
            type Writer = Shared;
            fn make_writer(&'a self) -> Shared {
                self.clone()
            }
        }
        let shared = Shared::default();
        let written = shared.0.clone();
        let subscriber = subscriber(shared, filter(None));
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(
                cause = "\u{1b}[31mred\u{1b}[0m\nsecond line",
                "dependency unavailable"
            );
        });
        let text = String::from_utf8(written.lock().unwrap().clone()).unwrap();
        assert!(!text.contains('\u{1b}'), "{text:?}");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text:?}");
        let line: Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(line["cause"], "\u{1b}[31mred\u{1b}[0m\nsecond line");
        assert_eq!(line["level"], "WARN");
    }

    #[test]
    fn a_sane_incoming_request_id_is_kept() {
        assert_eq!(request_id(&request(Some("abc-123.X_y:z"))), "abc-123.X_y:z");
    }

    #[test]
    fn an_unusable_incoming_request_id_is_replaced_by_a_new_one() {
        let long = "a".repeat(129);
        for bad in ["", "has space", "quote\"brace}", long.as_str()] {
            let id = request_id(&request(Some(bad)));
            assert!(
                id.starts_with("req_") && id.len() == 36,
                "{bad:?} gave {id}"
            );
        }
        assert_ne!(request_id(&request(None)), request_id(&request(None)));
    }

    #[cfg(feature = "lambda")]
    #[test]
    fn on_lambda_the_api_gateway_request_id_wins_over_the_header() {
        use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
        use lambda_http::request::RequestContext;

        let mut context = ApiGatewayV2httpRequestContext::default();
        context.request_id = Some("Gw1aBcDeFg=".into());
        let mut request = request(Some("client-chosen"));
        request
            .extensions_mut()
            .insert(RequestContext::ApiGatewayV2(context));
        assert_eq!(request_id(&request), "Gw1aBcDeFg=");
    }
}
