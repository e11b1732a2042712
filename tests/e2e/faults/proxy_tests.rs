//! The fault proxy itself, in front of a tiny upstream of the test's own that counts what it
//! processed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::io::BufReader;
use tokio::net::TcpListener;

use super::proxy::{Fault, FaultProxy, Side};
use super::wire::{Response, read_request, write_response};

/// An upstream answering every request 200 with `METHOD TARGET BODY`, counting them.
async fn echo_upstream() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let processed = Arc::new(AtomicUsize::new(0));
    let counter = processed.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut reader = BufReader::new(read);
                while let Ok(Some(request)) = read_request(&mut reader).await {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let body = format!(
                        "{} {} {}",
                        request.method,
                        request.target,
                        String::from_utf8_lossy(&request.body)
                    );
                    let response = Response {
                        status: 200,
                        headers: vec![("x-upstream".into(), "echo".into())],
                        body: body.into_bytes(),
                    };
                    if write_response(&mut write, &response).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, processed)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap()
}

/// What a client saw: the status and body, or that the answer never came.
#[derive(Debug, PartialEq)]
enum Seen {
    Answer(u16, String),
    NoAnswer { timed_out: bool },
}

async fn send(request: reqwest::RequestBuilder) -> Seen {
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            match response.text().await {
                Ok(body) => Seen::Answer(status, body),
                Err(e) => Seen::NoAnswer {
                    timed_out: e.is_timeout(),
                },
            }
        }
        Err(e) => Seen::NoAnswer {
            timed_out: e.is_timeout(),
        },
    }
}

/// The n-th request of a mixed Stripe-like sequence.
fn stripe_request(client: &reqwest::Client, base: &str, n: usize) -> reqwest::RequestBuilder {
    match n % 3 {
        0 => client.get(format!("{base}/v1/payment_intents/pi_{n}")),
        1 => client
            .post(format!("{base}/v1/payment_intents"))
            .header("idempotency-key", format!("invoice-{n}"))
            .body(format!("amount={n}")),
        _ => client
            .post(format!("{base}/v1/payment_methods/pm_{n}/attach"))
            .body("customer=cus_1"),
    }
}

#[tokio::test]
async fn a_fault_rate_of_zero_is_transparent() {
    let (upstream, processed) = echo_upstream().await;
    let proxy = FaultProxy::start(&upstream, Side::Stripe, 7, 0).await;
    let client = client();

    let mut seen = Vec::new();
    for n in 0..60 {
        seen.push(send(stripe_request(&client, proxy.url(), n)).await);
    }

    for (n, seen) in seen.iter().enumerate() {
        let direct = send(stripe_request(&client, &upstream, n)).await;
        assert_eq!(
            seen, &direct,
            "request {n} answered as the upstream answers it"
        );
    }
    assert_eq!(processed.load(Ordering::SeqCst), 120);
    let exchanges = proxy.exchanges();
    assert_eq!(exchanges.len(), 60);
    assert!(exchanges.iter().all(|e| e.fault.is_none()));
}

#[tokio::test]
async fn the_same_seed_gives_the_same_faults_and_another_seed_others() {
    let (upstream, _) = echo_upstream().await;
    let run = |seed| {
        let upstream = upstream.clone();
        async move {
            let proxy = FaultProxy::with_hold(
                &upstream,
                Side::Stripe,
                seed,
                300,
                Duration::from_millis(600),
            )
            .await;
            let client = client();
            for n in 0..90 {
                send(stripe_request(&client, proxy.url(), n)).await;
            }
            proxy
                .exchanges()
                .into_iter()
                .map(|e| (e.operation, e.fault))
                .collect::<Vec<_>>()
        }
    };

    let (first, again, other) = (run(42).await, run(42).await, run(43).await);

    let faulted = first.iter().filter(|(_, f)| f.is_some()).count();
    assert!((10..=50).contains(&faulted), "about 30% of 90: {faulted}");
    assert_eq!(first, again);
    assert_ne!(first, other);
}

#[tokio::test]
async fn every_stripe_fault_is_produced_with_its_meaning() {
    let (upstream, processed) = echo_upstream().await;
    let proxy =
        FaultProxy::with_hold(&upstream, Side::Stripe, 1, 1000, Duration::from_millis(800)).await;
    let client = client();

    let mut outcomes = Vec::new();
    for n in 0..60 {
        let before = processed.load(Ordering::SeqCst);
        let seen = send(stripe_request(&client, proxy.url(), n)).await;
        // A held answer is processed before the hold: wait for the upstream's count to settle.
        tokio::time::sleep(Duration::from_millis(5)).await;
        outcomes.push((seen, processed.load(Ordering::SeqCst) - before));
    }

    let exchanges = proxy.exchanges();
    let faults: Vec<Fault> = exchanges.iter().map(|e| e.fault.unwrap()).collect();
    for kind in [
        Fault::StripeLost,
        Fault::StripeLostKeyedPost,
        Fault::StripeTimeout,
        Fault::StripeServerError,
        Fault::StripeRateLimitedShouldRetry,
        Fault::StripeRateLimited,
    ] {
        assert!(faults.contains(&kind), "{kind:?} produced");
    }
    for ((fault, exchange), (seen, upstream_saw)) in faults.iter().zip(&exchanges).zip(&outcomes) {
        match fault {
            Fault::StripeLost | Fault::StripeLostKeyedPost => {
                assert_eq!(seen, &Seen::NoAnswer { timed_out: false });
                assert_eq!(*upstream_saw, 1, "processed before the answer was lost");
                assert_eq!(
                    *fault == Fault::StripeLostKeyedPost,
                    exchange.operation == "POST /v1/payment_intents"
                );
            }
            Fault::StripeTimeout => {
                assert_eq!(seen, &Seen::NoAnswer { timed_out: true });
                assert_eq!(*upstream_saw, 1);
            }
            Fault::StripeServerError => {
                let Seen::Answer(500, body) = seen else {
                    panic!("{seen:?}")
                };
                let body: Value = serde_json::from_str(body).unwrap();
                assert_eq!(body["error"]["type"], "api_error");
                assert_eq!(*upstream_saw, 0);
            }
            Fault::StripeRateLimitedShouldRetry | Fault::StripeRateLimited => {
                assert!(matches!(seen, Seen::Answer(429, _)), "{seen:?}");
                assert_eq!(*upstream_saw, 0);
            }
            other => panic!("{other:?} is not a Stripe fault"),
        }
    }
}

#[tokio::test]
async fn a_429_says_stripe_should_retry_only_when_its_kind_does() {
    let (upstream, _) = echo_upstream().await;
    let proxy = FaultProxy::start(&upstream, Side::Stripe, 3, 1000).await;
    let client = client();

    let mut headers = Vec::new();
    for n in 0..40 {
        let Ok(response) = stripe_request(&client, proxy.url(), n).send().await else {
            continue;
        };
        if response.status() == 429 {
            headers.push(response.headers().get("stripe-should-retry").cloned());
        }
    }

    let rate_limited: Vec<Fault> = proxy
        .exchanges()
        .iter()
        .filter_map(|e| e.fault)
        .filter(|f| {
            matches!(
                f,
                Fault::StripeRateLimited | Fault::StripeRateLimitedShouldRetry
            )
        })
        .collect();
    assert_eq!(headers.len(), rate_limited.len());
    for (header, fault) in headers.iter().zip(&rate_limited) {
        let says_retry = header.as_ref().is_some_and(|v| v == "true");
        assert_eq!(says_retry, *fault == Fault::StripeRateLimitedShouldRetry);
    }
}

/// An AWS JSON request for `target` (`DynamoDB_20120810.GetItem`, `AmazonSQS.SendMessage`).
fn aws_request(
    client: &reqwest::Client,
    base: &str,
    target: &str,
    n: usize,
) -> reqwest::RequestBuilder {
    let body = if target.ends_with("TransactWriteItems") {
        format!(
            r#"{{"TransactItems":[{{"Put":{{}}}},{{"Update":{{}}}},{{"ConditionCheck":{{}}}}],"n":{n}}}"#
        )
    } else {
        format!(r#"{{"n":{n}}}"#)
    };
    client
        .post(format!("{base}/"))
        .header("x-amz-target", target)
        .header("content-type", "application/x-amz-json-1.0")
        .body(body)
}

#[tokio::test]
async fn every_aws_fault_is_produced_as_the_service_sends_it() {
    let (upstream, processed) = echo_upstream().await;
    let proxy = FaultProxy::start(&upstream, Side::Aws, 5, 1000).await;
    let client = client();
    let targets = [
        "DynamoDB_20120810.GetItem",
        "DynamoDB_20120810.TransactWriteItems",
        "AmazonSQS.SendMessageBatch",
    ];

    let mut outcomes = Vec::new();
    for n in 0..80 {
        let before = processed.load(Ordering::SeqCst);
        let seen = if n % 4 == 3 {
            send(
                client
                    .post(format!("{}/v2/email/outbound-emails", proxy.url()))
                    .body("{}"),
            )
            .await
        } else {
            send(aws_request(&client, proxy.url(), targets[n % 4], n)).await
        };
        outcomes.push((seen, processed.load(Ordering::SeqCst) - before));
    }

    let faults: Vec<Fault> = proxy.exchanges().iter().map(|e| e.fault.unwrap()).collect();
    for kind in [
        Fault::DynamoThroughputExceeded,
        Fault::DynamoThrottling,
        Fault::DynamoTransactionConflict,
        Fault::DynamoServerError,
        Fault::DynamoLost,
        Fault::QueueServerError,
        Fault::MailServerError,
    ] {
        assert!(faults.contains(&kind), "{kind:?} produced");
    }
    for (fault, (seen, upstream_saw)) in faults.iter().zip(&outcomes) {
        let expected_type = match fault {
            Fault::DynamoLost => {
                assert_eq!(seen, &Seen::NoAnswer { timed_out: false });
                assert_eq!(*upstream_saw, 1);
                continue;
            }
            Fault::DynamoThroughputExceeded => "ProvisionedThroughputExceededException",
            Fault::DynamoThrottling => "ThrottlingException",
            Fault::DynamoTransactionConflict => "TransactionCanceledException",
            Fault::DynamoServerError => "InternalServerError",
            Fault::QueueServerError => "InternalError",
            Fault::MailServerError => "",
            other => panic!("{other:?} is not an AWS fault"),
        };
        assert_eq!(*upstream_saw, 0, "{fault:?} is not processed");
        let Seen::Answer(status, body) = seen else {
            panic!("{fault:?}: {seen:?}")
        };
        let body: Value = serde_json::from_str(body).unwrap();
        let server_side = matches!(
            fault,
            Fault::DynamoServerError | Fault::QueueServerError | Fault::MailServerError
        );
        assert_eq!(*status, if server_side { 500 } else { 400 }, "{fault:?}");
        let kind = body["__type"].as_str().unwrap_or_default();
        assert!(kind.ends_with(expected_type), "{fault:?}: {body}");
        if *fault == Fault::DynamoTransactionConflict {
            let codes: Vec<&str> = body["CancellationReasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["Code"].as_str().unwrap())
                .collect();
            assert_eq!(codes.len(), 3, "one reason per item");
            assert_eq!(
                codes
                    .iter()
                    .filter(|c| **c == "TransactionConflict")
                    .count(),
                1
            );
        }
    }
}
