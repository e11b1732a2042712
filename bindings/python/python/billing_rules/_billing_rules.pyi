"""Type stubs for the native module ``billing_rules._billing_rules``."""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Final, Literal, Optional, Protocol, Tuple, Union, final

from typing_extensions import Buffer

class _ArrayLike(Protocol):
    """A pandas or Arrow column: anything numpy can view as an array."""

    def __array__(self) -> Any: ...

# Columns of a batch: a sequence (one element per row), ``bytes`` in the packed layout, or an
# array read through the buffer protocol (numpy, ``array.array``, ``memoryview``, pandas/Arrow).
_IntColumn = Union[Sequence[int], bytes, Buffer, _ArrayLike]
_CategoryColumn = Union[Sequence[Optional[str]], bytes, Buffer, _ArrayLike]
# Instants: aware datetimes; packed bytes hold int64 microseconds since the Unix epoch;
# arrays are datetime64, or int64 epochs in the unit the call names.
_InstantColumn = Union[Sequence[datetime], bytes, Buffer, _ArrayLike]
# A ledger entry: typed, or (kind, amount_micros, effective_at) as a tuple or a dict.
_Entry = Union[
    Usage, CreditPurchase, Invoiced, Adjustment, Tuple[str, int, datetime], Mapping[str, Any]
]

CARD_REFUSAL_CODES: Final[Tuple[str, ...]]
CHARGE_DAY: Final[int]
CHARGE_HOUR: Final[int]
CHECK_VALUES: Final[Tuple[str, ...]]
ENTRY_KINDS: Final[Tuple[str, ...]]
FUNDING_VALUES: Final[Tuple[str, ...]]
KNOWN_DECLINE_CODES: Final[Tuple[str, ...]]
MICROS_PER_CENT: Final[int]
PURCHASE_MAXIMUM: Final[int]
PURCHASE_MINIMUM: Final[int]
PURCHASE_STATUSES: Final[Tuple[str, ...]]
SETTLEMENT_WINDOW: Final[timedelta]
STRIPE_MINIMUM_CHARGE: Final[int]

class BillingError(Exception):
    """Base class of every error raised by billing_rules."""

class InvalidInput(BillingError):
    """An argument cannot be read as given; raised as ``InvalidType`` or ``InvalidValue``.

    ``field`` names the argument (``"year"``, ``"card.checks.cvc_check"``,
    ``"entries[3].amount_micros"``); None only for a batch whose columns disagree.
    """

    field: Optional[str]

class InvalidType(InvalidInput, TypeError):
    """Wrong type: None/str/float/bool for an int, a bare int or naive datetime for an instant."""

class InvalidValue(InvalidInput, ValueError):
    """Right type, unusable value: inexact enum, month 13, int out of range, wrong sign..."""

class ParseError(InvalidValue):
    """A value did not parse into a domain type."""

    field: str
    reason: str

class MoneyOverflow(BillingError):
    """An amount left the range of a signed 64-bit integer.

    ``field`` names the argument that held it, or is None when a computed sum overflowed.
    """

    field: Optional[str]

class UnsupportedCurrency(BillingError):
    """A currency the platform does not bill in."""

    currency: str

class CardRefused(BillingError):
    """The card acceptance rule refused the card."""

    code: str
    message: str

class AmountRefused(BillingError):
    """A purchase amount is outside the limits."""

    code: Literal["amount_too_small", "amount_too_large"]
    limit: int
    message: str

@final
class BillingPeriod:
    """One calendar month in UTC, ``[start, end)``."""

    def __new__(cls, year: int, month: int) -> BillingPeriod: ...
    @staticmethod
    def parse(raw: str) -> BillingPeriod: ...
    @staticmethod
    def containing(at: datetime) -> BillingPeriod: ...
    @staticmethod
    def charged_by(at: datetime) -> BillingPeriod: ...
    @property
    def year(self) -> int: ...
    @property
    def month(self) -> int: ...
    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...
    @property
    def charge_at(self) -> datetime: ...
    def next(self) -> BillingPeriod: ...
    def previous(self) -> BillingPeriod: ...
    def contains(self, at: datetime) -> bool: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...
    def __lt__(self, value: BillingPeriod, /) -> bool: ...
    def __le__(self, value: BillingPeriod, /) -> bool: ...
    def __gt__(self, value: BillingPeriod, /) -> bool: ...
    def __ge__(self, value: BillingPeriod, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Usage:
    """Metered usage: ``cost_micros`` (0 or more) lowers the balance; ``amount_micros`` is its negation."""

    def __new__(cls, cost_micros: int, occurred_at: datetime) -> Usage: ...
    @property
    def kind(self) -> Literal["usage"]: ...
    @property
    def amount_micros(self) -> int: ...
    @property
    def effective_at(self) -> datetime: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

@final
class CreditPurchase:
    """A settled credit purchase: ``amount_micros`` is 0 or more."""

    def __new__(cls, amount_micros: int, settled_at: datetime) -> CreditPurchase: ...
    @property
    def kind(self) -> Literal["credit_purchase"]: ...
    @property
    def amount_micros(self) -> int: ...
    @property
    def effective_at(self) -> datetime: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

@final
class Invoiced:
    """Debt moved onto an invoice when a period closed: ``amount_micros`` is 0 or more."""

    def __new__(cls, amount_micros: int, at: datetime) -> Invoiced: ...
    @property
    def kind(self) -> Literal["invoiced"]: ...
    @property
    def amount_micros(self) -> int: ...
    @property
    def effective_at(self) -> datetime: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

@final
class Adjustment:
    """A correction by staff or a write-off: ``amount_micros`` of either sign."""

    def __new__(cls, amount_micros: int, at: datetime) -> Adjustment: ...
    @property
    def kind(self) -> Literal["adjustment"]: ...
    @property
    def amount_micros(self) -> int: ...
    @property
    def effective_at(self) -> datetime: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

@final
class CentSplit:
    """Whole cents (toward zero) and the micros remainder; unpacks as ``(cents, remainder)``."""

    @property
    def cents(self) -> int: ...
    @property
    def remainder(self) -> int: ...
    def __iter__(self) -> Iterator[int]: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

@final
class PeriodClose:
    """What closing a period decides: ``owed`` and ``carried`` in micros, ``invoice`` in cents."""

    @property
    def owed(self) -> int: ...
    @property
    def invoice(self) -> int: ...
    @property
    def carried(self) -> int: ...
    @property
    def has_invoice(self) -> bool: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

@final
class PeriodCloses:
    """The results of ``close_periods``, one ``PeriodClose`` per ledger, stored compactly."""

    def __len__(self) -> int: ...
    def __getitem__(self, index: int, /) -> PeriodClose: ...
    @property
    def owed(self) -> list[int]: ...
    @property
    def invoice(self) -> list[int]: ...
    @property
    def carried(self) -> list[int]: ...

@final
class BalanceView:
    """A balance split for display, in whole cents."""

    @property
    def credits(self) -> int: ...
    @property
    def uninvoiced(self) -> int: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

@final
class PurchaseGate:
    """Whether a new purchase may start."""

    @property
    def decision(self) -> Literal["open", "in_flight"]: ...
    @property
    def is_open(self) -> bool: ...
    @property
    def retry_after(self) -> Optional[int]: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

@final
class DeclineAdvice:
    """What to do about one decline."""

    @property
    def code(self) -> str: ...
    @property
    def advice(self) -> str: ...
    @property
    def retry(self) -> Literal["retry", "never", "after_authentication"]: ...
    @property
    def message(self) -> str: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

def accept_card(card: Mapping[str, Any], today: date) -> None: ...
def card_refusal(card: Mapping[str, Any], today: date) -> Optional[str]: ...
def accept_cards(
    today: date,
    funding: _CategoryColumn,
    exp_month: _IntColumn,
    exp_year: _IntColumn,
    cvc_check: Optional[_CategoryColumn] = None,
    address_line1_check: Optional[_CategoryColumn] = None,
    address_postal_code_check: Optional[_CategoryColumn] = None,
) -> list[Optional[str]]: ...
def accept_cards_packed(
    today: date,
    funding: _CategoryColumn,
    exp_month: _IntColumn,
    exp_year: _IntColumn,
    cvc_check: Optional[_CategoryColumn] = None,
    address_line1_check: Optional[_CategoryColumn] = None,
    address_postal_code_check: Optional[_CategoryColumn] = None,
) -> bytes: ...
def split_cents(micros: int) -> CentSplit: ...
def parse_currency(code: str) -> str: ...
def next_charge_at(now: datetime) -> datetime: ...
def balance(entries: Iterable[_Entry]) -> int: ...
def balance_view(balance: int) -> BalanceView: ...
def close_period(
    entries: Iterable[_Entry],
    period: Union[BillingPeriod, str],
    minimum_charge: Optional[int] = None,
) -> PeriodClose: ...
def close_periods(
    period: Union[BillingPeriod, str],
    lengths: _IntColumn,
    kinds: _CategoryColumn,
    amounts_micros: _IntColumn,
    effective_at: _InstantColumn,
    minimum_charge: Optional[int] = None,
    effective_at_unit: Optional[Literal["s", "ms", "us", "ns"]] = None,
) -> PeriodCloses: ...
def purchase_gate(latest: Optional[Tuple[str, datetime]], now: datetime) -> PurchaseGate: ...
def check_amount(
    amount: int, *, minimum: Optional[int] = None, maximum: Optional[int] = None
) -> int: ...
def decline_advice(code: Optional[str] = None) -> DeclineAdvice: ...

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

# --- Finance and support tools (issue 12, item 3): preview_charge, reconcile ---

DIFFERENCE_KINDS: Final[Tuple[str, ...]]

_DifferenceKind = Literal[
    "payment_without_reference",
    "duplicate_credit",
    "duplicate_payment",
    "paid_not_credited",
    "credited_not_paid",
    "currency_differs",
    "amount_differs",
]

@final
class InvoiceLine:
    """One line of an invoice: what it is, and its amount in micros."""

    @property
    def description(self) -> str: ...
    @property
    def amount_micros(self) -> int: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

@final
class ChargePreview:
    """What the charge on the 3rd will do for one account and period."""

    @property
    def invoice(self) -> int: ...
    @property
    def owed(self) -> int: ...
    @property
    def carried(self) -> int: ...
    @property
    def charge_at(self) -> datetime: ...
    @property
    def lines(self) -> Tuple[InvoiceLine, ...]: ...
    @property
    def reason(self) -> Optional[Literal["nothing_owed", "under_minimum_charge"]]: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

@final
class Difference:
    """One difference between the ledger and a Stripe export; amounts in cents."""

    @property
    def kind(self) -> _DifferenceKind: ...
    @property
    def account_id(self) -> Optional[str]: ...
    @property
    def reference(self) -> Optional[str]: ...
    @property
    def ledger_amount(self) -> Optional[int]: ...
    @property
    def stripe_amount(self) -> Optional[int]: ...
    @property
    def ledger_currency(self) -> Optional[str]: ...
    @property
    def stripe_currency(self) -> Optional[str]: ...
    @property
    def payment_ids(self) -> list[str]: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

def preview_charge(
    entries: Iterable[_Entry],
    period: Union[BillingPeriod, str],
    minimum_charge: Optional[int] = None,
) -> ChargePreview:
    """What the charge on the 3rd will invoice for one account: the close rule on its ledger
    entries (the forms ``close_period`` takes), with the invoice lines and, when nothing is
    charged, the reason."""

# A row of either export: csv.DictReader dicts (every value a str) or API/code dicts (int
# amounts, a metadata dict).
_Row = Mapping[str, Any]

def reconcile(ledger_rows: Iterable[_Row], stripe_rows: Iterable[_Row]) -> list[Difference]:
    """Every difference between the ledger and a Stripe export of PaymentIntents, by account
    and reference.

    ledger_rows: ``account_id``; ``reference`` (cp_/in_) or the entry ``id``
    (purchase:cp_/invoice:in_); ``amount`` (cents) or ``amount_micros``; optional ``kind``
    (usage/adjustment rows skipped) and ``currency`` (default usd).
    stripe_rows: ``id``; ``amount`` (minor units, or "20.00"); ``currency``; ``status`` (an
    exact PaymentIntent status); ``metadata`` (dict or JSON text) or the dashboard's
    ``account_id (metadata)`` / ``reference (metadata)`` columns. Money is read as integer
    text, never through a float. Refusals name the row and field."""
