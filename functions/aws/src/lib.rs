//! # billing-aws
//!
//! The production adapters of billing-core's ports: [`DynamoStore`] (the store on one
//! DynamoDB table), [`SesMailer`] (SES v2) and [`SqsQueue`] (SQS). Each takes clients built
//! once from an [`aws_config::SdkConfig`], so a Lambda builds them in `main`, outside the
//! handler. The table layout is written down in this crate's README.

pub mod mailer;
pub mod queue;
pub mod store;

pub use mailer::SesMailer;
pub use queue::SqsQueue;
pub use store::DynamoStore;
