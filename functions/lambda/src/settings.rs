//! Settings from the environment, one struct per port, so that each function reads only the
//! variables of the ports it builds (the card function never asks for `SENDER_EMAIL`).

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

fn required(env: &impl Env, name: &str) -> Result<String, ConfigError> {
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

/// What the card function reads: its table and how to reach Stripe. It sends no mail, so it
/// has no sender address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardsSettings {
    /// The table.
    pub table: TableSettings,
    /// Stripe.
    pub stripe: StripeSettings,
}

impl CardsSettings {
    /// Reads the card function's variables, and no other.
    pub fn from(env: &impl Env) -> Result<Self, ConfigError> {
        Ok(Self {
            table: TableSettings::from(env)?,
            stripe: StripeSettings::from(env)?,
        })
    }
}

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
    fn the_card_function_reads_its_table_and_stripe_settings_and_no_sender() {
        let env = Recorded::new(&[
            ("TABLE_NAME", "billing"),
            ("STRIPE_SECRET_PARAMETER", "/billing/stripe/secret-key"),
        ]);

        let settings = CardsSettings::from(&env).expect("settings");

        assert_eq!(settings.table.table, "billing");
        assert_eq!(
            settings.stripe.secret_parameter,
            "/billing/stripe/secret-key"
        );
        assert_eq!(settings.stripe.api_base, None);
        assert_eq!(
            *env.asked.borrow(),
            ["TABLE_NAME", "STRIPE_SECRET_PARAMETER", "STRIPE_API_BASE"]
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
}
