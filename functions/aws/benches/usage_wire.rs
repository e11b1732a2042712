//! DynamoDB requests and item writes per usage event, counted at the wire: what moto_server
//! received (its request recorder), not what the port was asked. A measurement, never a test:
//! `scripts/with-stand-ins cargo bench -p billing-aws --bench usage_wire`.

use std::collections::BTreeMap;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;
use billing_aws::DynamoStore;
use billing_aws::store::create_table;
use billing_core::usecases::usage::{UsageEvent, UsageOutcome, record_usage_batch};
use billing_core::{AccountId, UsageEventId};
use chrono::{TimeZone, Utc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BATCH: usize = 100;
// moto copies a whole table for every transaction (to undo it if cancelled), so each
// scenario gets its own small table.
const BATCHES: usize = 10;

/// One HTTP/1.0 request to moto's control API; the body of the answer.
async fn moto(method: &str, path: &str) -> String {
    let url = std::env::var("BILLING_TEST_MOTO_URL")
        .expect("run under scripts/with-stand-ins, which sets BILLING_TEST_MOTO_URL");
    let authority = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let request =
        format!("{method} {path} HTTP/1.0\r\nHost: {authority}\r\nContent-Length: 0\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.contains(" 200 "), "{path}: {head}");
    body.to_owned()
}

/// Standard base64 (the recorder stores request bodies that way).
fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let digits: Vec<u8> = text.bytes().filter(|c| *c != b'=').map(value).collect();
    digits
        .chunks(4)
        .flat_map(|chunk| {
            let bits = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (n, d)| acc | (u32::from(*d) << (18 - 6 * n)));
            let bytes = bits.to_be_bytes();
            bytes[1..chunk.len()].to_vec()
        })
        .collect()
}

/// What moto received, by operation: requests, and items written.
#[derive(Default, Debug)]
struct Wire {
    requests: BTreeMap<String, usize>,
    items_written: usize,
    reads: usize,
}

fn count(recording: &str) -> Wire {
    let mut wire = Wire::default();
    for line in recording.lines().filter(|l| !l.trim().is_empty()) {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        let headers = entry["headers"].as_object().unwrap();
        let target = headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("x-amz-target"))
            .and_then(|(_, v)| v.as_str())
            .unwrap_or("?");
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        let raw = entry["body"].as_str().unwrap_or("");
        let body = if entry["body_encoded"].as_bool() == Some(true) {
            base64(raw)
        } else {
            raw.as_bytes().to_vec()
        };
        match operation.as_str() {
            "TransactWriteItems" => {
                let request: serde_json::Value = serde_json::from_slice(&body).unwrap();
                wire.items_written += request["TransactItems"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|item| item.get("ConditionCheck").is_none())
                    .count();
            }
            "PutItem" | "UpdateItem" | "DeleteItem" => wire.items_written += 1,
            "GetItem" | "Query" | "BatchGetItem" | "Scan" => wire.reads += 1,
            _ => {}
        }
        *wire.requests.entry(operation).or_default() += 1;
    }
    wire
}

fn events(account: &AccountId, from: usize) -> Vec<UsageEvent> {
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    (from..from + BATCH)
        .map(|n| UsageEvent {
            id: UsageEventId::parse(&format!("{account}-{n}")).unwrap(),
            account_id: account.clone(),
            amount_micros: 1_234,
            occurred_at: now,
            description: "1k tokens".into(),
        })
        .collect()
}

async fn measure(store: &DynamoStore, label: &str, batches: Vec<Vec<UsageEvent>>) {
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    moto("POST", "/moto-api/recorder/reset-recording").await;
    moto("POST", "/moto-api/recorder/start-recording").await;
    let mut sent = 0;
    for batch in &batches {
        let outcomes = record_usage_batch(store, batch, now).await.unwrap();
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, UsageOutcome::Counted(_)))
        );
        sent += batch.len();
    }
    moto("POST", "/moto-api/recorder/stop-recording").await;
    let wire = count(&moto("GET", "/moto-api/recorder/download-recording").await);
    println!(
        "{label}: {sent} events in {} batches: {} items written ({} per event), {} reads ({} per event), requests {:?}",
        batches.len(),
        wire.items_written,
        ratio(wire.items_written, sent),
        wire.reads,
        ratio(wire.reads, sent),
        wire.requests,
    );
}

/// `a / b` with three decimals, in integers (floats are not used for counts here).
fn ratio(a: usize, b: usize) -> String {
    let thousandths = a * 1_000 / b.max(1);
    format!("{}.{:03}", thousandths / 1_000, thousandths % 1_000)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let url = std::env::var("BILLING_TEST_MOTO_URL")
        .expect("run under scripts/with-stand-ins, which sets BILLING_TEST_MOTO_URL");
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(billing_aws::https_client())
        .endpoint_url(url)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let fresh = |label: &str| {
        let (client, table) = (
            client.clone(),
            format!("usage-wire-{label}-{}", std::process::id()),
        );
        async move {
            create_table(&client, &table).await.unwrap();
            DynamoStore::from_client(client, table)
        }
    };

    let hot = AccountId::parse("acct_hot").unwrap();
    let store = fresh("new").await;
    let first = (0..BATCHES).map(|n| events(&hot, n * BATCH)).collect();
    measure(&store, "one hot account, first batch creates it", first).await;

    let store = fresh("known").await;
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    record_usage_batch(&store, &events(&hot, 0), now)
        .await
        .unwrap();
    let more = (1..=BATCHES).map(|n| events(&hot, n * BATCH)).collect();
    measure(&store, "one hot account, known", more).await;

    let store = fresh("spread").await;
    let spread: Vec<Vec<UsageEvent>> = (0..BATCHES)
        .map(|n| {
            (0..10)
                .flat_map(|a| {
                    let account = AccountId::parse(&format!("acct_{a}")).unwrap();
                    events(&account, n * BATCH).into_iter().take(10)
                })
                .collect()
        })
        .collect();
    measure(&store, "ten accounts per batch of 100", spread).await;
    moto("POST", "/moto-api/recorder/reset-recording").await;
}
