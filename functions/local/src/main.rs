//! `billing-local [--port N] [--data-dir DIR]`: serves the API on 127.0.0.1.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use billing_api::jwt::{Claims, sign};
use billing_local::{LocalConfig, RetrySchedule, build};

const USAGE: &str = "usage: billing-local [--port N] [--data-dir DIR]";

struct Args {
    port: u16,
    data_dir: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        port: 3000,
        data_dir: PathBuf::from("data"),
    };
    let mut iter = std::env::args().skip(1);
    while let Some(flag) = iter.next() {
        let mut value = || {
            iter.next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--port" => {
                args.port = value()?
                    .parse()
                    .map_err(|_| format!("--port takes a number from 0 to 65535\n{USAGE}"))?
            }
            "--data-dir" => args.data_dir = PathBuf::from(value()?),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    billing_api::telemetry::init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let secret =
        std::env::var("BILLING_LOCAL_JWT_SECRET").unwrap_or_else(|_| "local-dev-secret".to_owned());
    // Known by default, so tests and people can sign links for the local pages themselves.
    let link_secret = std::env::var("BILLING_LOCAL_LINK_SECRET")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "local-link-secret".to_owned());
    let retries = match std::env::var("BILLING_LOCAL_RETRY_DAYS") {
        Err(_) => RetrySchedule::default(),
        Ok(days) => match RetrySchedule::parse(&days) {
            Ok(schedule) => schedule,
            Err(error) => {
                eprintln!("BILLING_LOCAL_RETRY_DAYS: {error}");
                return ExitCode::from(2);
            }
        },
    };
    let listener =
        match tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, args.port)))
            .await
        {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("cannot listen on 127.0.0.1:{}: {e}", args.port);
                return ExitCode::FAILURE;
            }
        };
    let port = listener.local_addr().map_or(args.port, |a| a.port());
    let base_url = format!("http://127.0.0.1:{port}");
    let config = LocalConfig {
        data_dir: args.data_dir.clone(),
        base_url: base_url.clone(),
        jwt_secret: secret.clone(),
        link_secret,
        webhook_secret: std::env::var("BILLING_LOCAL_STRIPE_WEBHOOK_SECRET")
            .unwrap_or_else(|_| "whsec_local".to_owned()),
        retries,
    };
    let app = match build(&config) {
        Ok(app) => app,
        Err(message) => {
            eprintln!("cannot start: {message}");
            return ExitCode::FAILURE;
        }
    };
    tokio::spawn(app.deliver_events);

    let claims = Claims {
        sub: "local-user".into(),
        email: Some("local-user@example.com".into()),
        exp: None,
    };
    let token = sign(&claims, secret.as_bytes());
    // On stderr: stdout carries only the JSON log lines, so a log collector reading it never
    // gets the banner (or the token in it).
    eprintln!(
        "billing-local listening on {base_url}\n\
         data folder: {data}\n\
         \n\
         Differs from production:\n\
         - auth: HS256 tokens signed with BILLING_LOCAL_JWT_SECRET instead of the API Gateway authorizer\n\
         - cards: a simulated card network that plays Stripe's test PaymentMethod ids (pm_card_visa, ...)\n\
         - e-mail: written to {data}/outbox, readable at GET {base_url}/_local/outbox\n\
         - time: a local clock, moved with POST {base_url}/_local/clock\n\
         - webhooks: the simulated network's events are posted to POST {base_url}/v1/webhooks/stripe,\n\
           signed with BILLING_LOCAL_STRIPE_WEBHOOK_SECRET (default whsec_local), as Stripe would\n\
         - the sweep runs when asked: POST {base_url}/_local/events/sweep\n\
         - the monthly charge runs when asked, to completion: POST {base_url}/_local/events/monthly-charge\n\
         \n\
         Token for account `local-user`:\n{token}\n\
         \n\
         Try: curl -H \"Authorization: Bearer $TOKEN\" {base_url}/v1/billing",
        data = args.data_dir.display(),
    );

    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    if let Err(e) = axum::serve(listener, app.router)
        .with_graceful_shutdown(shutdown)
        .await
    {
        eprintln!("server error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
