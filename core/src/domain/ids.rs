//! Identifiers parsed at the edge into types that cannot hold a bad value.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ParseError;

/// Characters allowed in an identifier that comes from outside: letters, digits and `_-.:@|`.
/// `#` and `/` are kept out because stores and URLs use them as separators.
fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '@' | '|')
}

fn parse_token(field: &'static str, raw: &str, max_len: usize) -> Result<String, ParseError> {
    if raw.is_empty() {
        return Err(ParseError::new(field, "must not be empty"));
    }
    if raw.len() > max_len {
        return Err(ParseError::new(
            field,
            format!("must be at most {max_len} characters"),
        ));
    }
    if !raw.chars().all(is_id_char) {
        return Err(ParseError::new(
            field,
            "may contain only letters, digits and _ - . : @ |",
        ));
    }
    Ok(raw.to_owned())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:literal $(, prefix = $prefix:literal)?) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses an identifier received from outside.
            pub fn parse(raw: &str) -> Result<Self, ParseError> {
                let token = parse_token($field, raw, $max)?;
                $(
                    if !token.starts_with($prefix) {
                        return Err(ParseError::new($field, concat!("must start with `", $prefix, "`")));
                    }
                )?
                Ok(Self(token))
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = ParseError;
            fn try_from(raw: String) -> Result<Self, ParseError> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// The platform account: the JWT `sub`.
    AccountId, "account_id", 128
);
id_type!(
    /// A Stripe PaymentMethod id (`pm_…`). The only card reference this system ever sees.
    PaymentMethodId, "payment_method", 255, prefix = "pm_"
);
id_type!(
    /// A Stripe Customer id (`cus_…`).
    CustomerId, "customer", 255, prefix = "cus_"
);
id_type!(
    /// A Stripe PaymentIntent id (`pi_…`): one payment attempt on the card network.
    PaymentId, "payment", 255, prefix = "pi_"
);
id_type!(
    /// A credit purchase (`cp_…`).
    PurchaseId, "id", 64, prefix = "cp_"
);
id_type!(
    /// An invoice (`in_…`).
    InvoiceId, "id", 64, prefix = "in_"
);
id_type!(
    /// A usage event's unique id, as metering sends it.
    UsageEventId, "id", 128
);
id_type!(
    /// A client-chosen `Idempotency-Key` header value.
    IdempotencyKey, "Idempotency-Key", 255
);

/// A PaymentIntent's client secret (`pi_…_secret_…`): what Stripe.js needs to let the
/// cardholder complete a payment. Never empty. It lets whoever holds it complete that one
/// payment, so `Debug` shows only the payment it belongs to; serializing gives it whole (the
/// dashboard needs it).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientSecret(String);

impl ClientSecret {
    /// Parses a client secret received from the network: `<object id>_secret_<token>`, in
    /// identifier characters, at most 255 of them.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let token = parse_token("client_secret", raw, 255)?;
        match token.split_once("_secret_") {
            Some((owner, secret)) if !owner.is_empty() && !secret.is_empty() => Ok(Self(token)),
            _ => Err(ParseError::new(
                "client_secret",
                "must look like `<id>_secret_<token>`",
            )),
        }
    }

    /// The secret as text, for Stripe.js.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let owner = self.0.split_once("_secret_").map_or("", |(owner, _)| owner);
        write!(f, "ClientSecret({owner}_secret_…)")
    }
}

impl TryFrom<String> for ClientSecret {
    type Error = ParseError;
    fn try_from(raw: String) -> Result<Self, ParseError> {
        Self::parse(&raw)
    }
}

impl From<ClientSecret> for String {
    fn from(secret: ClientSecret) -> String {
        secret.0
    }
}

/// An e-mail address, checked for shape only (delivery is the mailer's business).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses an address: one `@`, something on both sides, no spaces or control characters
    /// (an address goes into mail headers and log lines), at most 254 bytes.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let trimmed = raw.trim();
        let valid = trimmed.len() <= 254
            && !trimmed.chars().any(|c| c.is_whitespace() || c.is_control())
            && matches!(trimmed.split_once('@'), Some((local, domain))
                if !local.is_empty() && domain.contains('.') && !domain.contains('@')
                    && !domain.starts_with('.') && !domain.ends_with('.'));
        if valid {
            Ok(Self(trimmed.to_owned()))
        } else {
            Err(ParseError::new("email", "is not a valid e-mail address"))
        }
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = ParseError;
    fn try_from(raw: String) -> Result<Self, ParseError> {
        Self::parse(&raw)
    }
}

impl From<EmailAddress> for String {
    fn from(address: EmailAddress) -> String {
        address.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_method_ids_must_look_like_stripe_ids() {
        assert!(PaymentMethodId::parse("pm_card_visa").is_ok());
        assert_eq!(
            PaymentMethodId::parse("").unwrap_err().reason,
            "must not be empty"
        );
        assert!(PaymentMethodId::parse("card_123").is_err());
        assert!(PaymentMethodId::parse("pm_with space").is_err());
        assert!(PaymentMethodId::parse(&format!("pm_{}", "x".repeat(300))).is_err());
    }

    #[test]
    fn account_ids_refuse_separator_characters() {
        assert!(AccountId::parse("3f2c9a1e-0d4b-4a5e-9c1f-6b7a8d9e0f12").is_ok());
        assert!(AccountId::parse("user#1").is_err());
        assert!(AccountId::parse("a/b").is_err());
    }

    #[test]
    fn email_addresses_need_a_local_part_and_a_domain() {
        assert!(EmailAddress::parse("ada@example.com").is_ok());
        assert!(EmailAddress::parse("ada@localhost").is_err());
        assert!(EmailAddress::parse("@example.com").is_err());
        assert!(EmailAddress::parse("a b@example.com").is_err());
        assert!(EmailAddress::parse("a\u{0}b@example.com").is_err());
        assert!(EmailAddress::parse("a\u{1b}[31mb@example.com").is_err());
        assert!(EmailAddress::parse("ab@example.com\u{7f}").is_err());
    }

    #[test]
    fn payment_ids_must_look_like_payment_intent_ids() {
        assert!(PaymentId::parse("pi_3QxSucceeded01").is_ok());
        assert!(PaymentId::parse("ch_3QxSucceeded01").is_err());
        assert!(PaymentId::parse("").is_err());
        let parsed: Result<PaymentId, _> = serde_json::from_str("\"seti_123\"");
        assert!(parsed.is_err());
    }

    #[test]
    fn a_client_secret_is_never_empty_and_names_its_payment() {
        let secret = ClientSecret::parse("pi_3Qx01_secret_abcDEF").unwrap();
        assert_eq!(secret.expose(), "pi_3Qx01_secret_abcDEF");
        assert!(ClientSecret::parse("").is_err());
        assert!(ClientSecret::parse("pi_3Qx01").is_err());
        assert!(ClientSecret::parse("pi_3Qx01_secret_").is_err());
        assert!(ClientSecret::parse("_secret_abc").is_err());
    }

    #[test]
    fn a_client_secret_does_not_print_its_token() {
        let secret = ClientSecret::parse("pi_3Qx01_secret_abcDEF").unwrap();

        let printed = format!("{secret:?}");

        assert!(!printed.contains("abcDEF"), "{printed}");
        assert!(printed.contains("pi_3Qx01"), "{printed}");
        assert_eq!(
            serde_json::to_string(&secret).unwrap(),
            "\"pi_3Qx01_secret_abcDEF\""
        );
    }

    #[test]
    fn ids_deserialize_through_parse() {
        let parsed: Result<PaymentMethodId, _> = serde_json::from_str("\"nope\"");
        assert!(parsed.is_err());
    }
}
