//! The localstripe stand-in as the tests reach it: its URL, and plain HTTP for what no Stripe
//! client sends (the cardholder's side, the raw event list, the compat layer's controls).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const URL_VAR: &str = "BILLING_TEST_STRIPE_URL";

/// The secret key the tests use (localstripe takes any `sk_test_…`).
pub const KEY: &str = "sk_test_contract";

/// The stand-in's base URL; these tests fail, never pass silently, without it.
pub fn url() -> String {
    std::env::var(URL_VAR).unwrap_or_else(|_| {
        panic!(
            "{URL_VAR} is not set: these tests run against localstripe; run them as \
             `scripts/with-stand-ins cargo test -p billing-stripe`"
        )
    })
}

/// One HTTP/1.1 request with a form body (may be empty). Returns the status and the body.
pub async fn request(method: &str, path: &str, form: &str) -> (u16, String) {
    let url = url();
    let host = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut stream = TcpStream::connect(&host)
        .await
        .expect("localstripe answers");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{form}",
        form.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap();
    (status, body.to_owned())
}
