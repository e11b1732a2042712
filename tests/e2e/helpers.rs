//! Starting `billing-local` for a test and talking to it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use billing_api::jwt::{Claims, sign};
use serde_json::Value;
use tokio::process::{Child, Command};

/// The secret the servers under test sign tokens with.
pub const SECRET: &str = "e2e-secret";

/// The `billing-local` binary the test command built (`cargo build -p billing-local`).
pub fn binary() -> PathBuf {
    if let Ok(path) = std::env::var("BILLING_LOCAL_BIN") {
        return PathBuf::from(path);
    }
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    let path = target.join("debug/billing-local");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p billing-local` first",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `billing-local`, stopped when dropped.
pub struct LocalServer {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    client: reqwest::Client,
}

impl LocalServer {
    /// Starts a server on a free port with its data in `data_dir`, and waits until it answers.
    pub async fn start(data_dir: &Path) -> Self {
        // The banner (with its token) is on stderr; these tests read none of it.
        Self::start_with_output(
            data_dir,
            &[("RUST_LOG", "warn")],
            Stdio::null(),
            Stdio::null(),
        )
        .await
    }

    /// Starts a server as [`LocalServer::start`] does, with the variables `env` added (a log
    /// level, other secrets) and its output into `stdout` and `stderr` (for the tests that
    /// read what it prints and logs).
    pub async fn start_with_output(
        data_dir: &Path,
        env: &[(&str, &str)],
        stdout: Stdio,
        stderr: Stdio,
    ) -> Self {
        let port = free_port();
        let child = Command::new(binary())
            .args(["--port", &port.to_string(), "--data-dir"])
            .arg(data_dir)
            .env("BILLING_LOCAL_JWT_SECRET", SECRET)
            .envs(env.iter().copied())
            .stdout(stdout)
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .expect("billing-local starts");
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            client: unpooled_client(),
        };
        for _ in 0..100 {
            if server
                .client
                .get(format!("{}/_local/clock", server.base))
                .send()
                .await
                .is_ok()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("billing-local did not answer on port {port}");
    }

    /// Stops the server and waits for it to exit.
    pub async fn stop(mut self) {
        self.child.kill().await.expect("kill");
    }

    /// A request to a path, with a bearer token for `account` when given.
    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        account: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let builder = self.client.request(method, format!("{}{path}", self.base));
        match account {
            Some(sub) => builder.bearer_auth(token(sub)),
            None => builder,
        }
    }
}

/// A client that opens a connection per request: the server closes a connection after
/// refusing a body it did not read (413), and a pooled client could pick that one up again.
fn unpooled_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("HTTP client")
}

/// A local token for an account.
pub fn token(sub: &str) -> String {
    let claims = Claims {
        sub: sub.into(),
        email: Some(format!("{sub}@example.com")),
        exp: None,
    };
    sign(&claims, SECRET.as_bytes())
}

/// Sends and returns status and JSON body.
pub async fn call(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// The body of a scheduled-event control: an EventBridge scheduled event fired at `time`.
pub fn scheduled_event(time: &str) -> Value {
    serde_json::json!({"version": "0", "id": "e2e", "detail-type": "Scheduled Event",
                       "source": "aws.scheduler", "time": time, "detail": {}})
}

/// The controls and reads the recovery tests drive a server with; each asserts the request
/// was answered with success, so a test reads as its steps.
impl LocalServer {
    /// Sets the local clock.
    pub async fn set_clock(&self, now: &str) {
        let body = serde_json::json!({ "now": now });
        let (status, answer) = call(
            self.request(reqwest::Method::POST, "/_local/clock", None)
                .json(&body),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
    }

    /// `PUT /v1/billing/card`: status and answer.
    pub async fn put_card(&self, account: &str, card: &str) -> (u16, Value) {
        let body = serde_json::json!({ "payment_method": card });
        call(
            self.request(reqwest::Method::PUT, "/v1/billing/card", Some(account))
                .json(&body),
        )
        .await
    }

    /// Records one usage event that occurred at `occurred_at`.
    pub async fn usage(&self, account: &str, id: &str, micros: i64, occurred_at: &str) {
        let event = serde_json::json!({"id": id, "account_id": account, "amount_micros": micros,
                                       "occurred_at": occurred_at, "description": "tokens"});
        let (status, body) = call(
            self.request(reqwest::Method::POST, "/_local/usage", None)
                .json(&event),
        )
        .await;
        assert_eq!(
            (status, &body["recorded"]),
            (200, &serde_json::json!(1)),
            "{body}"
        );
    }

    /// Fires the scheduled event `name` (`monthly-charge`, `sweep`) at `time`: status and
    /// answer.
    pub async fn fire(&self, name: &str, time: &str) -> (u16, Value) {
        let path = format!("/_local/events/{name}");
        call(
            self.request(reqwest::Method::POST, &path, None)
                .json(&scheduled_event(time)),
        )
        .await
    }

    /// Runs the monthly charge of the trigger fired at `time`; its summary.
    pub async fn monthly_charge(&self, time: &str) -> Value {
        let (status, body) = self.fire("monthly-charge", time).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Moves the local clock to `now` and runs the sweep then; its summary.
    pub async fn sweep_at(&self, now: &str) -> Value {
        self.set_clock(now).await;
        let (status, body) = self.fire("sweep", now).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// A JSON resource of the API, read as `account`; it must exist.
    pub async fn get_json(&self, path: &str, account: &str) -> Value {
        let (status, body) = call(self.request(reqwest::Method::GET, path, Some(account))).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    /// The emails sent to an account, newest first.
    pub async fn mails_to(&self, account: &str) -> Vec<Value> {
        let (status, outbox) =
            call(self.request(reqwest::Method::GET, "/_local/outbox", None)).await;
        assert_eq!(status, 200, "{outbox}");
        let to = format!("{account}@example.com");
        outbox
            .as_array()
            .expect("the outbox is a list")
            .iter()
            .filter(|m| m["to"] == to.as_str())
            .cloned()
            .collect()
    }
}

/// Account deletion and what the network holds afterwards, for the deletion tests.
impl LocalServer {
    /// `DELETE /v1/account` as `account`, confirming with `confirm`: status and answer.
    pub async fn delete_account(&self, account: &str, confirm: &str) -> (u16, Value) {
        let body = serde_json::json!({ "confirm": confirm });
        call(
            self.request(reqwest::Method::DELETE, "/v1/account", Some(account))
                .json(&body),
        )
        .await
    }

    /// `GET /_local/accounts/{account}/network`: what the simulated card network holds for
    /// the account (its customer, the default and every attached card).
    pub async fn network(&self, account: &str) -> Value {
        let path = format!("/_local/accounts/{account}/network");
        let (status, body) = call(self.request(reqwest::Method::GET, &path, None)).await;
        assert_eq!(status, 200, "{body}");
        body
    }
}
