//! The credits function: `POST /v1/billing/credit-purchases`,
//! `GET /v1/billing/credit-purchases/{id}`, `GET /v1/billing/invoices` and
//! `GET /v1/billing/invoices/{id}` behind the JWT authorizer, and the authorization page a 3-D
//! Secure purchase or invoice links to. Store, Stripe gateway, SES mailer, clock and the link
//! signer; the Stripe key and the link secret come from SSM in one call at cold start.

use std::sync::Arc;

use axum::middleware::{from_fn, map_request};
use billing_api::authorize::{
    AuthorizePages, InvoiceAuthorizations, PageMode, PaymentAuthorizations, PurchaseAuthorizations,
    authorize_router,
};
use billing_api::clock::SystemClock;
use billing_api::state::{AuthorizationLinks, PurchaseServices, Services};
use billing_api::{AppState, AuthMode, credits_router, finish, telemetry};
use billing_core::rules::purchase::PurchaseLimits;
use billing_lambda::{Aws, CreditsSettings, ProcessEnv, init_tracing, with_authorizer_claims};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    init_tracing();
    let settings = CreditsSettings::from(&ProcessEnv)?;
    let aws = Aws::from_env(&ProcessEnv)?;
    let (stripe_key, links) = aws
        .stripe_key_and_links(&settings.stripe, settings.links)
        .await?;
    let signer = links.signer.clone();
    let clock = Arc::new(SystemClock);
    let store = aws.store(settings.table);
    let gateway = aws.stripe_gateway(&settings.stripe, stripe_key)?;
    let mailer = aws.mailer(settings.mail);
    let links: Arc<dyn AuthorizationLinks> = Arc::new(links);
    // The page settles through the same ports as the API routes.
    let flow = PaymentAuthorizations {
        purchases: Arc::new(PurchaseAuthorizations {
            store: store.clone(),
            gateway: gateway.clone(),
            mailer: mailer.clone(),
            clock: clock.clone(),
        }),
        invoices: Arc::new(InvoiceAuthorizations {
            store: store.clone(),
            gateway: gateway.clone(),
            mailer: mailer.clone(),
            links: links.clone(),
            clock: clock.clone(),
        }),
    };
    let services = Services {
        store,
        gateway,
        clock: clock.clone(),
    };
    let purchases = PurchaseServices {
        mailer,
        limits: PurchaseLimits::default(),
        links,
    };
    let state = Arc::new(AppState::new(services, AuthMode::ApiGateway).with_purchases(purchases));
    let pages = AuthorizePages {
        signer,
        mode: PageMode::StripeJs {
            publishable_key: settings.publishable_key,
        },
        flow: Arc::new(flow),
        clock,
    };
    // The pages have no JWT (the signed link is the capability), so the authorizer's claims
    // are copied into the API's requests only.
    let pages = authorize_router(Arc::new(pages)).layer(from_fn(telemetry::trace_request));
    let api = finish(credits_router(), state).layer(map_request(with_authorizer_claims));
    lambda_http::run(pages.merge(api)).await
}
