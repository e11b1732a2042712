"""The billing platform's rules, from the same Rust code (billing-core) the functions run.

Conventions:

* Money is an ``int``, never a float: **cents** (the minor unit) for charges, invoices and
  purchase amounts; **micros** (millionths of a dollar, ``MICROS_PER_CENT`` per cent) for
  usage, balances, ``owed`` and ``carried``. ``split_cents`` is the one rounding rule between
  the two.
* Time: instants are timezone-aware ``datetime`` objects (any offset; converted to UTC) from
  1970 to 9998; a naive datetime, a ``date`` or a bare int/float (seconds? microseconds?) raises
  ``InvalidType``. Instants returned are aware UTC datetimes. Calendar days (``today``) are
  ``date`` objects, the UTC day.
* Ledger entries: ``Usage(cost_micros, occurred_at)``, ``CreditPurchase``, ``Invoiced``,
  ``Adjustment``, or ``(kind, amount_micros, effective_at)`` tuples; ``amount_micros`` is the
  signed movement of the balance (usage <= 0), checked.
* Errors: every exception raised is a ``BillingError``. Bad input is ``InvalidType`` (also a
  ``TypeError``) or ``InvalidValue`` (also a ``ValueError``), both ``InvalidInput`` with
  ``.field`` naming the argument; enumeration values are exact and lowercase.
* Batch functions (``accept_cards``, ``accept_cards_packed``, ``close_periods``) take
  columns and run the rules outside the GIL, on every core.

Nothing here is implemented in Python: everything below is re-exported from the native module.
"""

from billing_rules._billing_rules import (
    CARD_REFUSAL_CODES,
    DIFFERENCE_KINDS,
    CHARGE_DAY,
    CHARGE_HOUR,
    CHECK_VALUES,
    ENTRY_KINDS,
    FUNDING_VALUES,
    KNOWN_DECLINE_CODES,
    MICROS_PER_CENT,
    PURCHASE_MAXIMUM,
    PURCHASE_MINIMUM,
    PURCHASE_STATUSES,
    SETTLEMENT_WINDOW,
    STRIPE_MINIMUM_CHARGE,
    Adjustment,
    AmountRefused,
    BalanceView,
    BillingError,
    BillingPeriod,
    CardRefused,
    CentSplit,
    ChargePreview,
    CreditPurchase,
    DeclineAdvice,
    Difference,
    InvalidInput,
    InvalidType,
    InvalidValue,
    InvoiceLine,
    Invoiced,
    MoneyOverflow,
    ParseError,
    PeriodClose,
    PeriodCloses,
    PurchaseGate,
    UnsupportedCurrency,
    Usage,
    accept_card,
    card_refusal,
    accept_cards,
    accept_cards_packed,
    balance,
    balance_view,
    check_amount,
    close_period,
    close_periods,
    decline_advice,
    next_charge_at,
    parse_currency,
    preview_charge,
    purchase_gate,
    reconcile,
    split_cents,
)

__all__ = [
    "CARD_REFUSAL_CODES",
    "DIFFERENCE_KINDS",
    "CHARGE_DAY",
    "CHARGE_HOUR",
    "CHECK_VALUES",
    "ENTRY_KINDS",
    "FUNDING_VALUES",
    "KNOWN_DECLINE_CODES",
    "MICROS_PER_CENT",
    "PURCHASE_MAXIMUM",
    "PURCHASE_MINIMUM",
    "PURCHASE_STATUSES",
    "SETTLEMENT_WINDOW",
    "STRIPE_MINIMUM_CHARGE",
    "Adjustment",
    "AmountRefused",
    "BalanceView",
    "BillingError",
    "BillingPeriod",
    "CardRefused",
    "CentSplit",
    "ChargePreview",
    "CreditPurchase",
    "DeclineAdvice",
    "Difference",
    "InvalidInput",
    "InvalidType",
    "InvalidValue",
    "InvoiceLine",
    "Invoiced",
    "MoneyOverflow",
    "ParseError",
    "PeriodClose",
    "PeriodCloses",
    "PurchaseGate",
    "UnsupportedCurrency",
    "Usage",
    "accept_card",
    "card_refusal",
    "accept_cards",
    "accept_cards_packed",
    "balance",
    "balance_view",
    "check_amount",
    "close_period",
    "close_periods",
    "decline_advice",
    "next_charge_at",
    "parse_currency",
    "preview_charge",
    "purchase_gate",
    "reconcile",
    "split_cents",
]
