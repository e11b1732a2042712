//! Settings from the environment, one struct per port, so that each function reads only the
//! variables of the ports it builds (the usage function never asks for `SENDER_EMAIL`).

use billing_core::rules::retry::RetrySchedule;

/// A setting missing or unusable at cold start; the function cannot serve without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(String);

impl ConfigError {
    /// A setting problem described for the person reading the function's log.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Where settings come from: the process environment in production, a map in tests.
pub trait Env {
    /// The value of a variable, `None` when unset or empty.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

pub(crate) fn required(env: &impl Env, name: &str) -> Result<String, ConfigError> {
    env.var(name)
        .ok_or_else(|| ConfigError(format!("environment variable {name} is not set")))
}

/// `TABLE_NAME`: the DynamoDB table of records and ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSettings {
    /// The table's name.
    pub table: String,
}

impl TableSettings {
    /// Reads `TABLE_NAME`.
    pub fn from(env: &impl Env) -> Result<Self, ConfigError> {
        Ok(Self {
            table: required(env, "TABLE_NAME")?,
        })
    }
}

/// How to reach Stripe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeSettings {
    /// `STRIPE_SECRET_PARAMETER`: the SSM SecureString holding the Stripe secret key (the key
    /// itself is never in the template or the environment).
    pub secret_parameter: String,
    /// `STRIPE_API_BASE`: a Stripe stand-in's URL, for tests only; unset in production.
    pub api_base: Option<String>,
}

impl StripeSettings {
    /// Reads `STRIPE_SECRET_PARAMETER` and `STRIPE_API_BASE`.
    pub fn from(env: &impl Env) -> Result<Self, ConfigError> {
        Ok(Self {
            secret_parameter: required(env, "STRIPE_SECRET_PARAMETER")?,
            api_base: env.var("STRIPE_API_BASE"),
        })
    }
}

/// `SENDER_EMAIL`: the verified SES identity billing mail is sent from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// The sender address.
    pub sender: String,
}

impl MailSettings {
    /// Reads `SENDER_EMAIL`.
    pub fn from(env: &impl Env) -> Result<Self, ConfigError> {
        Ok(Self {
            sender: required(env, "SENDER_EMAIL")?,
        })
    }
}

/// What the card function reads: its table, how to reach Stripe, and what a card put needs to
/// charge the invoices waiting for a card: the sender of their emails and the authorization
/// page's links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardsSettings {
    /// The table.
    pub table: TableSettings,
    /// Stripe.
    pub stripe: StripeSettings,
    /// Invoice emails (receipt, decline, authorization link).
    pub mail: MailSettings,
    /// The authorization page's links.
    pub links: LinkSettings,
}

impl CardsSettings {
    /// Reads the card function's variables, and no other.
    pub fn from(env: &impl Env) -> Result<Self, ConfigError> {
        Ok(Self {
            table: TableSettings::from(env)?,
            stripe: StripeSettings::from(env)?,
            mail: MailSettings::from(env)?,
            links: LinkSettings::from(env)?,
        })
    }
}

/// What the account function reads: the card function's settings, for the same reasons. A
/// deletion charges what is owed on a final invoice (its receipt or decline is mailed, and a
/// charge the bank wants authorized answers with a link to the authorization page), then
/// mails the confirmation.
pub type AccountSettings = CardsSettings;

/// What the usage function reads: its table, and nothing else (no Stripe, no mail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageSettings {
    /// The table.
    pub table: TableSettings,
}

impl UsageSettings {
    /// Reads the usage function's variables, and no other.
    pub fn from(env: &impl Env) -> Result<Self, ConfigError> {
        Ok(Self {
            table: TableSettings::from(env)?,
        })
    }
}

/// The authorization page's links: `LINK_SECRET_PARAMETER` (the SSM SecureString holding the
/// key links are signed with) and `PUBLIC_BASE_URL` (where the pages are served: the API's URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSettings {
    /// The SSM parameter's name.
    pub secret_parameter: String,
    /// The base of every link, e.g. `https://billing.example.com`.
    pub base_url: String,
}

impl LinkSettings {
    /// Reads `LINK_SECRET_PARAMETER` and `PUBLIC_BASE_URL`.
    pub fn from(env: &impl Env) -> Result<Self, ConfigError> {
        let base_url = required(env, "PUBLIC_BASE_URL")?;
        // The link carries a capability to a cardholder's browser: over plain HTTP the token
        // would travel in the clear.
        if !base_url.starts_with("https://") {
            return Err(ConfigError(format!(
                "PUBLIC_BASE_URL must be an https:// URL, not {base_url}"
            )));
        }
        Ok(Self {
            secret_parameter: required(env, "LINK_SECRET_PARAMETER")?,
            base_url: base_url.trim_end_matches('/').to_owned(),
        })
    }
}

/// What the credits function reads: its table, Stripe, the receipts' sender, the
/// authorization page's links and `STRIPE_PUBLISHABLE_KEY` (public by design, so a plain
/// variable, for Stripe.js on the page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditsSettings {
    /// The table.
    pub table: TableSettings,
    /// Stripe.
    pub stripe: StripeSettings,
    /// Receipts.
    pub mail: MailSettings,
    /// The authorization page's links.
    pub links: LinkSettings,
    /// Stripe's publishable key (`pk_live_…`).
    pub publishable_key: String,
}

impl CreditsSettings {
    /// Reads the credits function's variables, and no other.
    pub fn from(env: &impl Env) -> Result<Self, ConfigError> {
        Ok(Self {
            table: TableSettings::from(env)?,
            stripe: StripeSettings::from(env)?,
            mail: MailSettings::from(env)?,
            links: LinkSettings::from(env)?,
            publishable_key: required(env, "STRIPE_PUBLISHABLE_KEY")?,
        })
    }
}

/// What the webhook function reads: its table, Stripe (an event is checked against the
/// PaymentIntent itself), the receipts' sender, and `STRIPE_WEBHOOK_SECRET_PARAMETER` (the SSM
/// SecureString holding the endpoint's `whsec_…` signing secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// The table.
    pub table: TableSettings,
    /// Stripe.
    pub stripe: StripeSettings,
    /// Receipts.
    pub mail: MailSettings,
    /// The SSM parameter holding the signing secret.
    pub webhook_secret_parameter: String,
    /// The authorization page's links, for the emails of invoices an event settles.
    pub links: LinkSettings,
}

impl WebhookSettings {
    /// Reads the webhook function's variables, and no other.
    pub fn from(env: &impl Env) -> Result<Self, ConfigError> {
        Ok(Self {
            table: TableSettings::from(env)?,
            stripe: StripeSettings::from(env)?,
            mail: MailSettings::from(env)?,
            webhook_secret_parameter: required(env, "STRIPE_WEBHOOK_SECRET_PARAMETER")?,
            links: LinkSettings::from(env)?,
        })
    }
}

/// What the sweep function reads: its table, Stripe (asked about every stuck purchase), the
/// receipts' sender (a purchase it settles is owed one) and `CHARGE_QUEUE_URL` (the charge
/// queue it sends the invoices due a collection visit to). No links, no webhook secret: the
/// charge worker charges the invoices and sends their emails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepSettings {
    /// The table.
    pub table: TableSettings,
    /// Stripe.
    pub stripe: StripeSettings,
    /// Receipts.
    pub mail: MailSettings,
    /// The charge queue's URL.
    pub queue_url: String,
}

impl SweepSettings {
    /// Reads the sweep function's variables, and no other.
    pub fn from(env: &impl Env) -> Result<Self, ConfigError> {
        Ok(Self {
            table: TableSettings::from(env)?,
            stripe: StripeSettings::from(env)?,
            mail: MailSettings::from(env)?,
            queue_url: required(env, "CHARGE_QUEUE_URL")?,
        })
    }
}

/// What the monthly-charge planner reads: its table (it lists the due index) and
/// `CHARGE_QUEUE_URL`, the SQS queue it sends charge jobs to. No Stripe, no mail: it charges
/// nothing itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthlyChargeSettings {
    /// The table.
    pub table: TableSettings,
    /// The charge queue's URL.
    pub queue_url: String,
}

impl MonthlyChargeSettings {
    /// Reads the planner's variables, and no other.
    pub fn from(env: &impl Env) -> Result<Self, ConfigError> {
        Ok(Self {
            table: TableSettings::from(env)?,
            queue_url: required(env, "CHARGE_QUEUE_URL")?,
        })
    }
}

/// The share of Stripe's request rate one charge-worker invocation may use.
///
/// The workers hold the total without talking to each other: the queue's event source runs at
/// most `CHARGE_WORKER_CONCURRENCY` invocations at once (its `MaximumConcurrency`, and the
/// function's reserved concurrency), and each sends at most `STRIPE_REQUESTS_PER_SECOND /
/// CHARGE_WORKER_CONCURRENCY` requests a second (README "Monthly charge").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StripeRateSettings {
    /// `STRIPE_REQUESTS_PER_SECOND` (default [`Self::DEFAULT_REQUESTS_PER_SECOND`]): what all
    /// invocations together may send.
    pub requests_per_second: u32,
    /// `CHARGE_WORKER_CONCURRENCY` (default [`Self::DEFAULT_CONCURRENCY`]): how many
    /// invocations may run at once.
    pub concurrency: u32,
}

impl StripeRateSettings {
    /// Under Stripe's live limit of 100 requests a second, with room for the other functions.
    pub const DEFAULT_REQUESTS_PER_SECOND: u32 = 80;
    /// The template's `ChargeWorkerConcurrency` default.
    pub const DEFAULT_CONCURRENCY: u32 = 4;

    /// Reads `STRIPE_REQUESTS_PER_SECOND` and `CHARGE_WORKER_CONCURRENCY`: each a whole number
    /// of at least 1, and no more invocations than requests a second (each needs a whole
    /// request a second, or the shares would add up to more than the total).
    pub fn from(env: &impl Env) -> Result<Self, ConfigError> {
        let requests_per_second = positive(
            env,
            "STRIPE_REQUESTS_PER_SECOND",
            Self::DEFAULT_REQUESTS_PER_SECOND,
        )?;
        let concurrency = positive(env, "CHARGE_WORKER_CONCURRENCY", Self::DEFAULT_CONCURRENCY)?;
        if concurrency > requests_per_second {
            return Err(ConfigError(format!(
                "CHARGE_WORKER_CONCURRENCY ({concurrency}) is more than \
                 STRIPE_REQUESTS_PER_SECOND ({requests_per_second}): each invocation needs at \
                 least one Stripe request a second"
            )));
        }
        Ok(Self {
            requests_per_second,
            concurrency,
        })
    }

    /// The requests a second one invocation may send: the total shared out, rounded down so
    /// the shares never add up to more than the total, and at least 1.
    pub fn per_invocation(&self) -> u32 {
        (self.requests_per_second / self.concurrency.max(1)).max(1)
    }
}

/// A whole number of at least 1 from `name`, `default` when unset.
fn positive(env: &impl Env, name: &str, default: u32) -> Result<u32, ConfigError> {
    let Some(value) = env.var(name) else {
        return Ok(default);
    };
    match value.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(ConfigError(format!(
            "{name} must be a whole number of at least 1, not {value:?}"
        ))),
    }
}

/// What the charge worker reads: its table, Stripe and the share of its request rate, the
/// sender of invoice emails, and the authorization page's links (the email of an invoice the
/// bank wants authorized carries one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeWorkerSettings {
    /// The table.
    pub table: TableSettings,
    /// Stripe.
    pub stripe: StripeSettings,
    /// Stripe's request rate and how it is shared.
    pub rate: StripeRateSettings,
    /// Invoice emails.
    pub mail: MailSettings,
    /// The authorization page's links.
    pub links: LinkSettings,
    /// The retries of the invoices it creates.
    pub retries: RetrySchedule,
}

/// `PAYMENT_RETRY_DAYS`: the days after the charge a declined invoice is retried on, e.g.
/// `2,4,6,10`; `3,5,7` when unset. An empty variable reads as unset ([`ProcessEnv`]), so on
/// Lambda it is the default too, not "no retries": the template's `PaymentRetryDays` requires
/// at least one day, so that nobody deploys "none" and gets three.
pub fn retry_schedule(env: &impl Env) -> Result<RetrySchedule, ConfigError> {
    match env.var("PAYMENT_RETRY_DAYS") {
        None => Ok(RetrySchedule::default()),
        Some(days) => {
            RetrySchedule::parse(&days).map_err(|e| ConfigError(format!("PAYMENT_RETRY_DAYS: {e}")))
        }
    }
}

impl ChargeWorkerSettings {
    /// Reads the charge worker's variables, and no other.
    pub fn from(env: &impl Env) -> Result<Self, ConfigError> {
        Ok(Self {
            table: TableSettings::from(env)?,
            stripe: StripeSettings::from(env)?,
            rate: StripeRateSettings::from(env)?,
            mail: MailSettings::from(env)?,
            links: LinkSettings::from(env)?,
            retries: retry_schedule(env)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    use super::*;

    /// A fixed environment that remembers every variable asked for.
    struct Recorded {
        vars: BTreeMap<&'static str, &'static str>,
        asked: RefCell<Vec<String>>,
    }

    impl Recorded {
        fn new(vars: &[(&'static str, &'static str)]) -> Self {
            Self {
                vars: vars.iter().copied().collect(),
                asked: RefCell::default(),
            }
        }
    }

    impl Env for Recorded {
        fn var(&self, name: &str) -> Option<String> {
            self.asked.borrow_mut().push(name.to_owned());
            self.vars.get(name).map(|v| (*v).to_owned())
        }
    }

    #[test]
    fn the_card_function_reads_table_stripe_sender_and_links_and_no_queue_or_retries() {
        let env = Recorded::new(&[
            ("TABLE_NAME", "billing"),
            ("STRIPE_SECRET_PARAMETER", "/billing/stripe/secret-key"),
            ("SENDER_EMAIL", "billing@example.com"),
            ("PUBLIC_BASE_URL", "https://billing.example.com"),
            ("LINK_SECRET_PARAMETER", "/billing/links/secret"),
        ]);

        let settings = CardsSettings::from(&env).expect("settings");

        assert_eq!(settings.table.table, "billing");
        assert_eq!(
            settings.stripe.secret_parameter,
            "/billing/stripe/secret-key"
        );
        assert_eq!(settings.stripe.api_base, None);
        assert_eq!(settings.mail.sender, "billing@example.com");
        assert_eq!(settings.links.secret_parameter, "/billing/links/secret");
        assert_eq!(
            *env.asked.borrow(),
            [
                "TABLE_NAME",
                "STRIPE_SECRET_PARAMETER",
                "STRIPE_API_BASE",
                "SENDER_EMAIL",
                "PUBLIC_BASE_URL",
                "LINK_SECRET_PARAMETER"
            ]
        );
    }

    #[test]
    fn the_card_function_requires_the_links_it_signs() {
        let env = Recorded::new(&[
            ("TABLE_NAME", "billing"),
            ("STRIPE_SECRET_PARAMETER", "/billing/stripe/secret-key"),
            ("SENDER_EMAIL", "billing@example.com"),
        ]);

        let error = CardsSettings::from(&env).expect_err("no links");

        assert_eq!(
            error.to_string(),
            "environment variable PUBLIC_BASE_URL is not set"
        );
    }

    #[test]
    fn the_account_function_reads_table_stripe_sender_and_links_and_nothing_else() {
        let env = Recorded::new(&[
            ("TABLE_NAME", "billing"),
            ("STRIPE_SECRET_PARAMETER", "/billing/stripe/secret-key"),
            ("SENDER_EMAIL", "billing@example.com"),
            ("PUBLIC_BASE_URL", "https://billing.example.com/"),
            ("LINK_SECRET_PARAMETER", "/billing/links/secret"),
            ("STRIPE_PUBLISHABLE_KEY", "pk_test_123"),
            ("CHARGE_QUEUE_URL", "https://sqs.example/charge"),
        ]);

        let settings = AccountSettings::from(&env).expect("settings");

        assert_eq!(settings.table.table, "billing");
        assert_eq!(settings.mail.sender, "billing@example.com");
        assert_eq!(settings.links.base_url, "https://billing.example.com");
        assert_eq!(
            *env.asked.borrow(),
            [
                "TABLE_NAME",
                "STRIPE_SECRET_PARAMETER",
                "STRIPE_API_BASE",
                "SENDER_EMAIL",
                "PUBLIC_BASE_URL",
                "LINK_SECRET_PARAMETER"
            ]
        );
    }

    #[test]
    fn the_account_function_requires_the_sender_of_its_confirmation() {
        let env = Recorded::new(&[
            ("TABLE_NAME", "billing"),
            ("STRIPE_SECRET_PARAMETER", "/billing/stripe/secret-key"),
            ("PUBLIC_BASE_URL", "https://billing.example.com"),
            ("LINK_SECRET_PARAMETER", "/billing/links/secret"),
        ]);

        let error = AccountSettings::from(&env).expect_err("no sender");

        assert_eq!(
            error.to_string(),
            "environment variable SENDER_EMAIL is not set"
        );
    }

    #[test]
    fn the_usage_function_reads_its_table_and_nothing_else() {
        let env = Recorded::new(&[("TABLE_NAME", "billing")]);

        let settings = UsageSettings::from(&env).expect("settings");

        assert_eq!(settings.table.table, "billing");
        assert_eq!(*env.asked.borrow(), ["TABLE_NAME"]);
    }

    #[test]
    fn a_missing_variable_is_named_in_the_error() {
        let env = Recorded::new(&[("TABLE_NAME", "billing")]);

        let error = CardsSettings::from(&env).expect_err("no Stripe parameter");

        assert_eq!(
            error.to_string(),
            "environment variable STRIPE_SECRET_PARAMETER is not set"
        );
    }

    #[test]
    fn a_function_that_sends_mail_requires_its_sender() {
        let env = Recorded::new(&[]);

        let error = MailSettings::from(&env).expect_err("no sender");

        assert_eq!(
            error.to_string(),
            "environment variable SENDER_EMAIL is not set"
        );
    }

    #[test]
    fn the_credits_function_reads_its_links_and_publishable_key_besides_table_stripe_and_sender() {
        let env = Recorded::new(&[
            ("TABLE_NAME", "billing"),
            ("STRIPE_SECRET_PARAMETER", "/billing/stripe/secret-key"),
            ("SENDER_EMAIL", "billing@example.com"),
            ("PUBLIC_BASE_URL", "https://billing.example.com/"),
            ("LINK_SECRET_PARAMETER", "/billing/links/secret"),
            ("STRIPE_PUBLISHABLE_KEY", "pk_test_123"),
        ]);

        let settings = CreditsSettings::from(&env).expect("settings");

        assert_eq!(settings.mail.sender, "billing@example.com");
        assert_eq!(settings.links.base_url, "https://billing.example.com");
        assert_eq!(settings.links.secret_parameter, "/billing/links/secret");
        assert_eq!(settings.publishable_key, "pk_test_123");
        assert_eq!(
            *env.asked.borrow(),
            [
                "TABLE_NAME",
                "STRIPE_SECRET_PARAMETER",
                "STRIPE_API_BASE",
                "SENDER_EMAIL",
                "PUBLIC_BASE_URL",
                "LINK_SECRET_PARAMETER",
                "STRIPE_PUBLISHABLE_KEY"
            ]
        );
    }

    #[test]
    fn a_link_base_in_plain_http_is_refused() {
        let env = Recorded::new(&[
            ("PUBLIC_BASE_URL", "http://billing.example.com"),
            ("LINK_SECRET_PARAMETER", "/billing/links/secret"),
        ]);

        let error = LinkSettings::from(&env).expect_err("plain http");

        assert_eq!(
            error.to_string(),
            "PUBLIC_BASE_URL must be an https:// URL, not http://billing.example.com"
        );
    }

    #[test]
    fn the_webhook_function_reads_its_signing_secret_and_link_parameters() {
        let env = Recorded::new(&[
            ("TABLE_NAME", "billing"),
            ("STRIPE_SECRET_PARAMETER", "/billing/stripe/secret-key"),
            ("SENDER_EMAIL", "billing@example.com"),
            (
                "STRIPE_WEBHOOK_SECRET_PARAMETER",
                "/billing/stripe/webhook-secret",
            ),
            ("PUBLIC_BASE_URL", "https://billing.example.com"),
            ("LINK_SECRET_PARAMETER", "/billing/link-secret"),
        ]);

        let settings = WebhookSettings::from(&env).expect("settings");

        assert_eq!(
            settings.webhook_secret_parameter,
            "/billing/stripe/webhook-secret"
        );
        assert_eq!(
            *env.asked.borrow(),
            [
                "TABLE_NAME",
                "STRIPE_SECRET_PARAMETER",
                "STRIPE_API_BASE",
                "SENDER_EMAIL",
                "STRIPE_WEBHOOK_SECRET_PARAMETER",
                "PUBLIC_BASE_URL",
                "LINK_SECRET_PARAMETER"
            ]
        );
        assert_eq!(settings.links.base_url, "https://billing.example.com");
    }

    #[test]
    fn the_sweep_function_reads_table_stripe_sender_and_charge_queue_only() {
        let env = Recorded::new(&[
            ("TABLE_NAME", "billing"),
            ("STRIPE_SECRET_PARAMETER", "/billing/stripe/secret-key"),
            ("SENDER_EMAIL", "billing@example.com"),
            ("CHARGE_QUEUE_URL", "https://sqs.example/charge"),
        ]);

        let settings = SweepSettings::from(&env).expect("settings");

        assert_eq!(settings.mail.sender, "billing@example.com");
        assert_eq!(settings.queue_url, "https://sqs.example/charge");
        assert_eq!(
            *env.asked.borrow(),
            [
                "TABLE_NAME",
                "STRIPE_SECRET_PARAMETER",
                "STRIPE_API_BASE",
                "SENDER_EMAIL",
                "CHARGE_QUEUE_URL"
            ]
        );
    }

    #[test]
    fn the_sweep_function_requires_the_charge_queue() {
        let env = Recorded::new(&[
            ("TABLE_NAME", "billing"),
            ("STRIPE_SECRET_PARAMETER", "/billing/stripe/secret-key"),
            ("SENDER_EMAIL", "billing@example.com"),
        ]);

        let error = SweepSettings::from(&env).expect_err("no queue");

        assert_eq!(
            error.to_string(),
            "environment variable CHARGE_QUEUE_URL is not set"
        );
    }

    #[test]
    fn the_planner_reads_its_table_and_queue_and_nothing_else() {
        let env = Recorded::new(&[
            ("TABLE_NAME", "billing"),
            ("CHARGE_QUEUE_URL", "https://sqs.example/charge"),
        ]);

        let settings = MonthlyChargeSettings::from(&env).expect("settings");

        assert_eq!(settings.queue_url, "https://sqs.example/charge");
        assert_eq!(*env.asked.borrow(), ["TABLE_NAME", "CHARGE_QUEUE_URL"]);
    }

    const WORKER: [(&str, &str); 5] = [
        ("TABLE_NAME", "billing"),
        ("STRIPE_SECRET_PARAMETER", "/billing/stripe/secret-key"),
        ("SENDER_EMAIL", "billing@example.com"),
        ("PUBLIC_BASE_URL", "https://billing.example.com"),
        ("LINK_SECRET_PARAMETER", "/billing/links/secret"),
    ];

    #[test]
    fn the_charge_worker_reads_table_stripe_rate_sender_and_links() {
        let env = Recorded::new(&WORKER);

        let settings = ChargeWorkerSettings::from(&env).expect("settings");

        assert_eq!(settings.links.base_url, "https://billing.example.com");
        assert_eq!(
            *env.asked.borrow(),
            [
                "TABLE_NAME",
                "STRIPE_SECRET_PARAMETER",
                "STRIPE_API_BASE",
                "STRIPE_REQUESTS_PER_SECOND",
                "CHARGE_WORKER_CONCURRENCY",
                "SENDER_EMAIL",
                "PUBLIC_BASE_URL",
                "LINK_SECRET_PARAMETER",
                "PAYMENT_RETRY_DAYS"
            ]
        );
    }

    #[test]
    fn the_retry_schedule_defaults_to_3_5_7_days_and_refuses_nonsense() {
        let default = ChargeWorkerSettings::from(&Recorded::new(&WORKER)).expect("settings");
        assert_eq!(default.retries.days(), &[3, 5, 7]);

        let template_default = retry_schedule(&Recorded::new(&[("PAYMENT_RETRY_DAYS", "3,5,7")]));
        assert_eq!(template_default.expect("a schedule").days(), &[3, 5, 7]);
        let custom = retry_schedule(&Recorded::new(&[("PAYMENT_RETRY_DAYS", "1, 2")]));
        assert_eq!(custom.expect("a schedule").days(), &[1, 2]);
        let error = retry_schedule(&Recorded::new(&[("PAYMENT_RETRY_DAYS", "7,3")]))
            .expect_err("not increasing");
        assert!(
            error.to_string().starts_with("PAYMENT_RETRY_DAYS: "),
            "{error}"
        );
    }

    #[test]
    fn the_stripe_rate_defaults_to_80_a_second_shared_by_4_invocations() {
        let env = Recorded::new(&WORKER);

        let rate = ChargeWorkerSettings::from(&env).expect("settings").rate;

        assert_eq!((rate.requests_per_second, rate.concurrency), (80, 4));
        assert_eq!(rate.per_invocation(), 20);
    }

    #[test]
    fn an_uneven_share_is_rounded_down_so_the_total_is_never_exceeded() {
        let env = Recorded::new(&[
            ("STRIPE_REQUESTS_PER_SECOND", "80"),
            ("CHARGE_WORKER_CONCURRENCY", "3"),
        ]);

        let rate = StripeRateSettings::from(&env).expect("rate");

        assert_eq!(rate.per_invocation(), 26);
        assert!(rate.per_invocation() * rate.concurrency <= rate.requests_per_second);
    }

    #[test]
    fn more_invocations_than_requests_a_second_are_refused() {
        let env = Recorded::new(&[
            ("STRIPE_REQUESTS_PER_SECOND", "3"),
            ("CHARGE_WORKER_CONCURRENCY", "4"),
        ]);

        let error = StripeRateSettings::from(&env).expect_err("too many invocations");

        assert!(
            error.to_string().starts_with(
                "CHARGE_WORKER_CONCURRENCY (4) is more than STRIPE_REQUESTS_PER_SECOND (3)"
            ),
            "{error}"
        );
    }

    #[test]
    fn a_rate_that_is_not_a_positive_whole_number_is_refused() {
        for bad in ["0", "-5", "eighty", "2.5"] {
            let env = Recorded::new(&[("STRIPE_REQUESTS_PER_SECOND", bad)]);

            let error = StripeRateSettings::from(&env).expect_err(bad);

            assert_eq!(
                error.to_string(),
                format!(
                    "STRIPE_REQUESTS_PER_SECOND must be a whole number of at least 1, not {bad:?}"
                )
            );
        }
    }
}
