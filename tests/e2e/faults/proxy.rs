//! A seeded fault-injecting reverse proxy on 127.0.0.1 in front of one stand-in (localstripe
//! or moto). Each request is either forwarded untouched or given one fault, decided by the
//! seed, the request itself (method, target, `X-Amz-Target`, `Idempotency-Key`, body) and how
//! many times that same request was seen before: the same seed gives the same faults for the
//! same requests whatever order concurrent clients send them in, and a client that sends a
//! request again draws again. Every request and every fault is recorded.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::BufReader;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::wire::{Request, Response, is_hop_by_hop, read_request, write_response};

/// How long the Stripe adapter waits for one attempt (`REQUEST_TIMEOUT` in
/// functions/stripe/src/gateway.rs); a timeout fault holds the answer longer than this.
pub const STRIPE_CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// Which stand-in is behind the proxy: it decides which faults make sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// localstripe with our compatibility layer.
    Stripe,
    /// moto: DynamoDB, SQS (AWS JSON protocol, told apart by `X-Amz-Target`) and SES v2.
    Aws,
}

/// A fault the proxy injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// Stripe processed the request; the connection closed without an answer.
    StripeLost,
    /// The same, on a POST carrying an `Idempotency-Key` (a charge, a customer).
    StripeLostKeyedPost,
    /// Stripe processed the request; the answer came after the client's timeout.
    StripeTimeout,
    /// 500 `api_error`, not processed.
    StripeServerError,
    /// 429 with `Stripe-Should-Retry: true`, not processed.
    StripeRateLimitedShouldRetry,
    /// 429 without `Stripe-Should-Retry`, not processed.
    StripeRateLimited,
    /// 400 `ProvisionedThroughputExceededException`, not processed.
    DynamoThroughputExceeded,
    /// 400 `ThrottlingException`, not processed.
    DynamoThrottling,
    /// 400 `TransactionCanceledException` with a `TransactionConflict` reason (only for
    /// TransactWriteItems), not processed.
    DynamoTransactionConflict,
    /// 500 `InternalServerError`, not processed.
    DynamoServerError,
    /// DynamoDB processed the request; the connection closed without an answer.
    DynamoLost,
    /// SQS 500, not processed.
    QueueServerError,
    /// SES 500, not processed.
    MailServerError,
}

impl Fault {
    /// Whether the upstream processed the request before the fault.
    pub fn processed(self) -> bool {
        matches!(
            self,
            Self::StripeLost | Self::StripeLostKeyedPost | Self::StripeTimeout | Self::DynamoLost
        )
    }
}

/// One request the proxy received.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// `POST /v1/payment_intents`, `DynamoDB TransactWriteItems`, `SQS SendMessageBatch`,
    /// `SES POST /v2/email/outbound-emails`.
    pub operation: String,
    /// The fault injected, if any.
    pub fault: Option<Fault>,
}

/// How long the upstream took, over the requests forwarded to it.
#[derive(Debug, Clone, Copy, Default)]
pub struct UpstreamTime {
    /// Requests forwarded.
    pub forwarded: u64,
    /// Their total time at the upstream, in milliseconds.
    pub total_ms: u64,
}

struct Shared {
    upstream: String,
    side: Side,
    seed: u64,
    rate_per_mille: AtomicU32,
    hold: Duration,
    seen: Mutex<HashMap<u64, u32>>,
    log: Mutex<Vec<Exchange>>,
    upstream_time: Mutex<UpstreamTime>,
    client: reqwest::Client,
}

/// The proxy; stops when dropped.
pub struct FaultProxy {
    url: String,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// A proxy in front of `upstream` (a base URL) injecting faults into `rate_per_mille` of
    /// the requests, decided by `seed`. A timeout fault holds its answer for `hold`.
    pub async fn start(upstream: &str, side: Side, seed: u64, rate_per_mille: u32) -> Self {
        Self::with_hold(
            upstream,
            side,
            seed,
            rate_per_mille,
            STRIPE_CLIENT_TIMEOUT + Duration::from_secs(1),
        )
        .await
    }

    /// As [`FaultProxy::start`], with the time a timeout fault holds its answer.
    pub async fn with_hold(
        upstream: &str,
        side: Side,
        seed: u64,
        rate_per_mille: u32,
        hold: Duration,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let address: SocketAddr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            side,
            seed,
            rate_per_mille: AtomicU32::new(rate_per_mille),
            hold,
            seen: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
            upstream_time: Mutex::new(UpstreamTime::default()),
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
        });
        let accepting = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, accepting.clone()));
            }
        });
        Self {
            url: format!("http://{address}"),
            shared,
            task,
        }
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Changes the fault rate from now on (0 makes the proxy transparent).
    pub fn set_rate(&self, rate_per_mille: u32) {
        self.shared
            .rate_per_mille
            .store(rate_per_mille, Ordering::SeqCst);
    }

    /// Every request received so far, in arrival order.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.shared.log.lock().unwrap().clone()
    }

    /// The upstream's time over every request forwarded so far.
    pub fn upstream_time(&self) -> UpstreamTime {
        *self.shared.upstream_time.lock().unwrap()
    }

    /// Faults injected so far, by kind.
    pub fn faults(&self) -> BTreeMap<Fault, usize> {
        let mut counts = BTreeMap::new();
        for fault in self.exchanges().into_iter().filter_map(|e| e.fault) {
            *counts.entry(fault).or_default() += 1;
        }
        counts
    }
}

/// Serves one client connection: requests in turn (keep-alive) until it closes or a fault
/// drops it.
async fn serve(stream: tokio::net::TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    while let Ok(Some(request)) = read_request(&mut reader).await {
        let fault = shared.decide(&request);
        shared.log.lock().unwrap().push(Exchange {
            operation: operation(shared.side, &request),
            fault,
        });
        let response = match fault {
            None => shared.forward(&request).await,
            Some(fault) if fault.processed() => {
                let _ = shared.forward(&request).await;
                if fault == Fault::StripeTimeout {
                    // Past the client's timeout: the client has given up and closed.
                    tokio::time::sleep(shared.hold).await;
                }
                // No byte of the answer: the connection just closes.
                return;
            }
            Some(fault) => refusal(fault, &request, shared.draw(&request, 1)),
        };
        if write_response(&mut write, &response).await.is_err() {
            return;
        }
    }
}

impl Shared {
    /// The fault for this request, if any (see the module docs).
    fn decide(&self, request: &Request) -> Option<Fault> {
        let rate = u64::from(self.rate_per_mille.load(Ordering::SeqCst));
        let occurrence = {
            let mut seen = self.seen.lock().unwrap();
            let count = seen.entry(fingerprint(request)).or_default();
            *count += 1;
            *count
        };
        let draw = self.draw(request, occurrence);
        if draw % 1000 >= rate {
            return None;
        }
        let eligible = eligible(self.side, request);
        let pick = (draw >> 20) % eligible.len() as u64;
        Some(eligible[pick as usize])
    }

    /// A seeded pseudo-random number for the `occurrence`th sighting of this request.
    fn draw(&self, request: &Request, occurrence: u32) -> u64 {
        splitmix64(self.seed ^ fingerprint(request) ^ u64::from(occurrence).wrapping_mul(GOLDEN))
    }

    async fn forward(&self, request: &Request) -> Response {
        let method = reqwest::Method::from_bytes(request.method.as_bytes()).unwrap();
        let mut outgoing = self
            .client
            .request(method, format!("{}{}", self.upstream, request.target))
            .body(request.body.clone());
        for (name, value) in &request.headers {
            if !is_hop_by_hop(name) {
                outgoing = outgoing.header(name, value);
            }
        }
        let started = std::time::Instant::now();
        let answer = match outgoing.send().await {
            Ok(answer) => answer,
            Err(_) => return bad_gateway(),
        };
        let status = answer.status().as_u16();
        let headers = answer
            .headers()
            .iter()
            .filter(|(name, _)| !is_hop_by_hop(name.as_str()))
            .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
            .collect();
        let body = answer.bytes().await;
        {
            let mut time = self.upstream_time.lock().unwrap();
            time.forwarded += 1;
            time.total_ms += started.elapsed().as_millis() as u64;
        }
        match body {
            Ok(body) => Response {
                status,
                headers,
                body: body.to_vec(),
            },
            Err(_) => bad_gateway(),
        }
    }
}

fn bad_gateway() -> Response {
    Response {
        status: 502,
        headers: Vec::new(),
        body: b"upstream unreachable".to_vec(),
    }
}

/// The faults that make sense for this request.
fn eligible(side: Side, request: &Request) -> Vec<Fault> {
    match side {
        Side::Stripe => {
            let keyed_post =
                request.method == "POST" && request.header("idempotency-key").is_some();
            vec![
                if keyed_post {
                    Fault::StripeLostKeyedPost
                } else {
                    Fault::StripeLost
                },
                Fault::StripeTimeout,
                Fault::StripeServerError,
                Fault::StripeRateLimitedShouldRetry,
                Fault::StripeRateLimited,
            ]
        }
        Side::Aws => match request.header("x-amz-target") {
            Some(target) if target.starts_with("DynamoDB_") => {
                let mut faults = vec![
                    Fault::DynamoThroughputExceeded,
                    Fault::DynamoThrottling,
                    Fault::DynamoServerError,
                    Fault::DynamoLost,
                ];
                if target.ends_with(".TransactWriteItems") {
                    faults.push(Fault::DynamoTransactionConflict);
                }
                faults
            }
            Some(target) if target.starts_with("AmazonSQS.") => vec![Fault::QueueServerError],
            _ => vec![Fault::MailServerError],
        },
    }
}

/// The answer of a fault that does not reach the upstream, shaped as the real service sends it.
fn refusal(fault: Fault, request: &Request, draw: u64) -> Response {
    let stripe_json = ("content-type".to_owned(), "application/json".to_owned());
    let amz_json = (
        "content-type".to_owned(),
        "application/x-amz-json-1.0".to_owned(),
    );
    let request_id = ("x-amzn-requestid".to_owned(), format!("fault-{draw:016x}"));
    let (status, headers, body) = match fault {
        Fault::StripeServerError => (
            500,
            vec![stripe_json],
            json!({"error": {"type": "api_error", "message": "An unknown error occurred."}}),
        ),
        Fault::StripeRateLimitedShouldRetry | Fault::StripeRateLimited => {
            let mut headers = vec![stripe_json];
            if fault == Fault::StripeRateLimitedShouldRetry {
                headers.push(("stripe-should-retry".to_owned(), "true".to_owned()));
            }
            (
                429,
                headers,
                json!({"error": {"type": "invalid_request_error", "code": "rate_limit",
                    "message": "Too many requests hit the API too quickly."}}),
            )
        }
        Fault::DynamoThroughputExceeded => (
            400,
            vec![amz_json, request_id],
            json!({"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                "message": "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API."}),
        ),
        Fault::DynamoThrottling => (
            400,
            vec![amz_json, request_id],
            json!({"__type": "com.amazon.coral.availability#ThrottlingException",
                "message": "Rate of requests exceeds the allowed throughput."}),
        ),
        Fault::DynamoTransactionConflict => {
            let items = serde_json::from_slice::<Value>(&request.body)
                .ok()
                .and_then(|body| body["TransactItems"].as_array().map(Vec::len))
                .unwrap_or(1)
                .max(1);
            let conflicted = (draw >> 40) as usize % items;
            let reasons: Vec<Value> = (0..items)
                .map(|n| {
                    if n == conflicted {
                        json!({"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"})
                    } else {
                        json!({"Code": "None"})
                    }
                })
                .collect();
            let codes: Vec<&str> = (0..items)
                .map(|n| {
                    if n == conflicted {
                        "TransactionConflict"
                    } else {
                        "None"
                    }
                })
                .collect();
            (
                400,
                vec![amz_json, request_id],
                json!({"__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                    "Message": format!("Transaction cancelled, please refer cancellation reasons for specific reasons [{}]", codes.join(", ")),
                    "CancellationReasons": reasons}),
            )
        }
        Fault::DynamoServerError => (
            500,
            vec![amz_json, request_id],
            json!({"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError",
                "message": "Internal server error"}),
        ),
        Fault::QueueServerError => (
            500,
            vec![
                amz_json,
                request_id,
                (
                    "x-amzn-query-error".to_owned(),
                    "InternalError;Receiver".to_owned(),
                ),
            ],
            json!({"__type": "com.amazonaws.sqs#InternalError",
                "message": "We encountered an internal error. Please try again."}),
        ),
        Fault::MailServerError => (
            500,
            vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                request_id,
                ("x-amzn-errortype".to_owned(), "InternalFailure".to_owned()),
            ],
            json!({"message": "An internal error occurred."}),
        ),
        Fault::StripeLost
        | Fault::StripeLostKeyedPost
        | Fault::StripeTimeout
        | Fault::DynamoLost => {
            unreachable!("processed faults are not refusals")
        }
    };
    Response {
        status,
        headers,
        body: body.to_string().into_bytes(),
    }
}

/// How the log names a request.
fn operation(side: Side, request: &Request) -> String {
    let path = request.target.split('?').next().unwrap_or_default();
    match (side, request.header("x-amz-target")) {
        (Side::Stripe, _) => format!("{} {path}", request.method),
        (Side::Aws, Some(target)) => {
            let (service, action) = target.split_once('.').unwrap_or(("", target));
            let service = if service.starts_with("DynamoDB") {
                "DynamoDB"
            } else {
                "SQS"
            };
            format!("{service} {action}")
        }
        (Side::Aws, None) => format!("SES {} {path}", request.method),
    }
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// splitmix64: one well-mixed 64-bit number from another.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(GOLDEN);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a over what identifies a request to its server (not the AWS signature, which carries
/// a timestamp).
fn fingerprint(request: &Request) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let parts: [&[u8]; 5] = [
        request.method.as_bytes(),
        request.target.as_bytes(),
        request
            .header("x-amz-target")
            .unwrap_or_default()
            .as_bytes(),
        request
            .header("idempotency-key")
            .unwrap_or_default()
            .as_bytes(),
        &request.body,
    ];
    for part in parts {
        for byte in part.iter().chain(&[0xff]) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// A seeded sequence of numbers (splitmix64), for the tests' own choices.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        splitmix64(self.0)
    }

    /// A number below `n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}
