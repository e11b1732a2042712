//! The account function: `DELETE /v1/account`. A deletion charges what is owed on a final
//! invoice, detaches the cards, deletes the Stripe customer, erases the account's personal data
//! and sends a confirmation, so besides the store, Stripe and the clock it has the SES mailer
//! (the final invoice's receipt or decline, and the confirmation) and the link signer (a final
//! charge the bank wants authorized answers with a link to the authorization page); the Stripe
//! key and the link secret come from SSM in one call at cold start.
//!
//! Its Stripe client has no rate limit of its own, as the card function's: a deletion is a
//! handful of requests (a charge per unpaid invoice, a detach per card, one customer delete),
//! sent one after the other by a person's request, not a batch.

use axum::middleware::map_request;
use billing_api::{account_router, finish};
use billing_lambda::{AccountSettings, Aws, ProcessEnv, init_tracing, with_authorizer_claims};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    init_tracing();
    let settings = AccountSettings::from(&ProcessEnv)?;
    // With the mailer and links: without them the route answers 503 (the final invoice is
    // collected with them).
    let state = Aws::from_env(&ProcessEnv)?
        .collecting_state(settings)
        .await?;
    let router = finish(account_router(), state).layer(map_request(with_authorizer_claims));
    lambda_http::run(router).await
}
