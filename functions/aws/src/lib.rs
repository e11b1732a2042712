//! # billing-aws
//!
//! The production adapters of billing-core's ports: [`DynamoStore`] (the store on one
//! DynamoDB table), [`SesMailer`] (SES v2) and [`SqsQueue`] (SQS). Each takes clients built
//! once from an [`aws_types::SdkConfig`], so a Lambda builds them in `main`, outside the
//! handler. The table layout is written down in this crate's README.

pub mod mailer;
pub mod queue;
pub mod store;

pub use mailer::SesMailer;
pub use queue::SqsQueue;
pub use store::DynamoStore;

use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// The HTTPS client to put in the [`aws_types::SdkConfig`] the adapters are built from: the
/// SDK's own hyper and rustls client with the system's root certificates (and
/// `SSL_CERT_FILE`), over ring rather than the SDK's default aws-lc, several megabytes
/// smaller in every Lambda binary. The AWS crates here have no default client (their
/// `default-https-client` feature is off), so a config without this one cannot send.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}
