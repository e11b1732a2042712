//! The HTTP client under async-stripe's request types. async-stripe's own client reads
//! `Stripe-Should-Retry` only inside its retry strategies, which send a random idempotency key
//! of their own, and drops `Retry-After` altogether; and nothing can be run before each of its
//! attempts. This one sends what async-stripe's request types build (the same URL, headers and
//! form body as its client) and, for every attempt, first takes a turn from the gateway's
//! [`Limiter`], then reads both headers of a 429 to decide whether and when to try again
//! ([`crate::back_off`]), with the same `Idempotency-Key`. Answers are read as this crate's
//! [`objects`](crate::objects), errors as a [`Failure`].

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue, USER_AGENT};
use hyper::{Method, Request};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;
use stripe_client_core::{IdempotencyKey, RequestBuilder, StripeMethod};

use crate::back_off::{self, Refusal};
use crate::failure::Failure;
use crate::objects::ErrorBody;
use crate::rate_limit::{Limiter, RateLimit};

const USER_AGENT_VALUE: &str = concat!(
    "Stripe/v1 RustBindings/1.0.0-rc.10 billing-stripe/",
    env!("CARGO_PKG_VERSION")
);
const STRIPE_VERSION: HeaderName = HeaderName::from_static("stripe-version");
const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
const STRIPE_SHOULD_RETRY: HeaderName = HeaderName::from_static("stripe-should-retry");
const RETRY_AFTER: HeaderName = HeaderName::from_static("retry-after");

/// Sends Stripe requests; cheap to clone, and clones share the connection pool and the
/// limiter.
#[derive(Clone)]
pub(crate) struct Transport {
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    /// Ends with `/`.
    base_url: String,
    /// `Bearer sk_…`, marked sensitive so it never prints.
    authorization: HeaderValue,
    /// Per attempt; pauses and waits for a turn are not counted.
    timeout: Duration,
    limiter: Option<Arc<Limiter>>,
}

/// One attempt's answer.
struct Answer {
    refusal: Refusal,
    body: Bytes,
}

impl Transport {
    /// `base_url` must end with `/`.
    pub(crate) fn new(
        secret_key: &str,
        base_url: String,
        timeout: Duration,
    ) -> Result<Self, Failure> {
        let mut authorization = HeaderValue::try_from(format!("Bearer {secret_key}"))
            .map_err(|_| Failure::Config("the secret key is not a valid header value".into()))?;
        authorization.set_sensitive(true);
        // ring named here: a build where rustls also has aws-lc has no default provider.
        let connector = HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| Failure::Config(format!("cannot set up TLS: {e}")))?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build();
        Ok(Self {
            // No idle connections kept, as async-stripe's own client: one frozen with a Lambda
            // execution environment would fail the first request after it thaws.
            http: Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(0)
                .build(connector),
            base_url,
            authorization,
            timeout,
            limiter: None,
        })
    }

    /// Every attempt from now on (this transport's and its clones') waits for a turn of
    /// `limit`; `None` removes the limit.
    pub(crate) fn with_rate_limit(mut self, limit: Option<RateLimit>) -> Self {
        self.limiter = limit.map(|limit| Arc::new(Limiter::new(limit)));
        self
    }

    /// Sends `request` (with `idempotency` as its `Idempotency-Key` on every attempt) and
    /// reads the answer as `T`.
    pub(crate) async fn send<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<T, Failure> {
        let request = self.build(request, idempotency)?;
        let mut retries = 0;
        let mut paused = Duration::ZERO;
        loop {
            if let Some(limiter) = &self.limiter {
                limiter.acquire().await;
            }
            let answer = self.attempt(request.clone()).await?;
            let status = answer.refusal.status;
            if (200..300).contains(&status) {
                // Never quoted: the parser's message may carry what the body holds.
                return serde_json::from_slice(&answer.body)
                    .map_err(|_| Failure::Unreadable { status });
            }
            match back_off::pause_before_retry(&answer.refusal, retries, paused) {
                Some(pause) => {
                    tracing::debug!(
                        path = request.uri().path(),
                        ?pause,
                        retries,
                        "Stripe answered 429; sending the request again after a pause"
                    );
                    tokio::time::sleep(pause).await;
                    retries += 1;
                    paused += pause;
                }
                None => return Err(refused(&answer)),
            }
        }
    }

    fn build(
        &self,
        request: RequestBuilder,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<Request<Full<Bytes>>, Failure> {
        let mut uri = format!("{}v1{}", self.base_url, request.path);
        if let Some(query) = request.query {
            uri.push('?');
            uri.push_str(&query);
        }
        let mut builder = Request::builder()
            .method(match request.method {
                StripeMethod::Get => Method::GET,
                StripeMethod::Post => Method::POST,
                StripeMethod::Delete => Method::DELETE,
            })
            .uri(uri)
            .header(AUTHORIZATION, self.authorization.clone())
            .header(USER_AGENT, USER_AGENT_VALUE)
            .header(STRIPE_VERSION, stripe_client_core::VERSION.as_str());
        // Sent with every attempt, so a retried POST is the same request to Stripe.
        if let Some(key) = idempotency {
            builder = builder.header(IDEMPOTENCY_KEY, key.as_str());
        }
        let body = match request.body {
            Some(body) => {
                builder = builder.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
                Bytes::from(body)
            }
            None => Bytes::new(),
        };
        builder
            .body(Full::new(body))
            .map_err(|e| Failure::Unreachable(chain(&e)))
    }

    async fn attempt(&self, request: Request<Full<Bytes>>) -> Result<Answer, Failure> {
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| Failure::Unreachable(chain(&e)))?;
            let header = |name: &HeaderName| {
                response
                    .headers()
                    .get(name)
                    .and_then(|value| value.to_str().ok())
            };
            let refusal = Refusal {
                status: response.status().as_u16(),
                should_retry: header(&STRIPE_SHOULD_RETRY).and_then(back_off::parse_should_retry),
                retry_after: header(&RETRY_AFTER).and_then(back_off::parse_retry_after),
            };
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| Failure::Unreachable(chain(&e)))?
                .to_bytes();
            Ok(Answer { refusal, body })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or(Err(Failure::Timeout))
    }
}

/// A refusal: Stripe's error object and the status, or an unreadable body (never quoted: it
/// may carry what was sent).
fn refused(answer: &Answer) -> Failure {
    let status = answer.refusal.status;
    serde_json::from_slice::<ErrorBody>(&answer.body).map_or(
        Failure::Unreadable { status },
        |body| Failure::Refused {
            error: Box::new(body.error),
            status,
        },
    )
}

/// An error and its causes ("client error (Connect): tcp connect error: Connection
/// refused"): the outermost alone rarely says what went wrong.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
