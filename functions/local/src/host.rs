//! Only requests addressed to this machine by a loopback name are answered.
//!
//! The server listens on 127.0.0.1 only, but that alone does not keep other sites out: a page
//! on `evil.example` can re-point its own name at 127.0.0.1 (DNS rebinding) and have the
//! browser send requests here as same-origin, reading the answers (the outbox, the clock, the
//! controls take no token). The browser still sends the name it resolved in `Host`, so a
//! `Host` that is not a loopback name is refused before any route runs.

use axum::extract::Request;
use axum::http::header::HOST;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use billing_api::{ApiError, ErrorCode, telemetry};

/// The middleware (`axum::middleware::from_fn(loopback_only)`), outermost on the local
/// router: a request whose `Host` is not a loopback name is answered `403 host_not_allowed`
/// (with the access line every request gets), anything else goes on.
pub async fn loopback_only(request: Request, next: Next) -> Response {
    if request_host(&request).is_some_and(is_loopback_host) {
        return next.run(request).await;
    }
    telemetry::traced(request, |_| async {
        ApiError::new(
            ErrorCode::HostNotAllowed,
            "This server answers only requests addressed to 127.0.0.1, localhost or [::1]: a Host naming another site is how DNS rebinding reaches a local server.",
        )
        .with_param("Host")
        .into_response()
    })
    .await
}

/// The one `Host` the request names: its `Host` header, or the URI's authority where HTTP/2
/// carries it. Two `Host` headers name none.
fn request_host(request: &Request) -> Option<&str> {
    let mut headers = request.headers().get_all(HOST).iter();
    match (headers.next(), headers.next()) {
        (Some(host), None) => host.to_str().ok(),
        (None, _) => request.uri().authority().map(|a| a.as_str()),
        (Some(_), Some(_)) => None,
    }
}

/// `127.0.0.1`, `localhost` or `[::1]`, each with an optional port; names compare without
/// regard to case (`LOCALHOST`), and nothing else passes (`127.0.0.1.evil.example`,
/// `localhost.`, a user-info part).
pub fn is_loopback_host(host: &str) -> bool {
    let (name, port) = match host.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((address, rest)) => (address, rest),
            None => return false,
        },
        None => match host.split_once(':') {
            Some((name, _)) => (name, &host[name.len()..]),
            None => (host, ""),
        },
    };
    let port_ok = port.is_empty()
        || port.strip_prefix(':').is_some_and(|digits| {
            !digits.is_empty()
                && digits.len() <= 5
                && digits.bytes().all(|b| b.is_ascii_digit())
                && digits.parse::<u16>().is_ok()
        });
    let name_ok = name == "127.0.0.1" || name.eq_ignore_ascii_case("localhost") || name == "::1";
    let bracketed = host.starts_with('[');
    port_ok && (name == "::1") == bracketed && name_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_with_or_without_a_port_are_accepted() {
        for host in [
            "127.0.0.1",
            "127.0.0.1:3000",
            "localhost",
            "localhost:8080",
            "LocalHost:1",
            "[::1]",
            "[::1]:3000",
            "127.0.0.1:65535",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn other_names_and_malformed_hosts_are_refused() {
        for host in [
            "evil.example",
            "evil.example:3000",
            "127.0.0.1.evil.example",
            "localhost.evil.example",
            "localhost.",
            "127.0.0.2",
            "0.0.0.0:3000",
            "::1",
            "[::1",
            "[::2]:3000",
            "[::1]x",
            "localhost:",
            "localhost:65536",
            "localhost:3000:1",
            "localhost:+80",
            "user@localhost",
            "[localhost]",
            "",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
