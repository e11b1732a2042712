"""Every public function and constructor, fed bad input: each refusal is a BillingError
subclass (InvalidType is also a TypeError, InvalidValue also a ValueError) whose `field` and
message name the argument, with no Rust debug text. Then the exact examples of issue 12."""

import re
from array import array
from datetime import date, datetime, timedelta, timezone

import pytest

import billing_rules as br

UTC = timezone.utc
WHEN = datetime(2026, 10, 15, 12, tzinfo=UTC)
TODAY = date(2026, 11, 25)
GOOD_CARD = {"funding": "credit", "exp_month": 12, "exp_year": 2030,
             "checks": {"cvc_check": "pass", "address_line1_check": "pass",
                        "address_postal_code_check": "pass"}}
# Rust's `{:?}` of an Option, a Result or an escaped string, which no message may show.
RUST_DEBUG = re.compile(r'Some\(|\bNone\)|Ok\(|Err\(|\\"|Bound<|PyErr')

# Bad values by what the argument expects.
NOT_INTS = [("None", None, br.InvalidType), ("str", "10", br.InvalidType),
            ("float", 10.0, br.InvalidType), ("bool", True, br.InvalidType)]
NOT_MONEY = NOT_INTS + [("2**70", 2**70, br.MoneyOverflow), ("-2**70", -(2**70), br.MoneyOverflow)]
NOT_INSTANTS = [
    ("None", None, br.InvalidType),
    ("epoch seconds", 1_760_529_600, br.InvalidType),
    ("epoch millis", 1_760_529_600_000, br.InvalidType),
    ("float", 1_760_529_600.0, br.InvalidType),
    ("bool", True, br.InvalidType),
    ("str", "2026-10-15T12:00:00Z", br.InvalidType),
    ("date", date(2026, 10, 15), br.InvalidType),
    ("naive datetime", datetime(2026, 10, 15, 12), br.InvalidType),
    ("before 1970", datetime(1969, 12, 31, 23, 59, tzinfo=UTC), br.InvalidValue),
    ("after 9998", datetime(9999, 12, 5, tzinfo=UTC), br.InvalidValue),
    ("year 1 at +05:00", datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))), br.InvalidValue),
]
NOT_DAYS = [("None", None, br.InvalidType), ("aware datetime", WHEN, br.InvalidType),
            ("str", "2026-11-25", br.InvalidType), ("int", 20261125, br.InvalidType)]
NOT_PERIODS = [("None", None, br.InvalidType), ("int", 202610, br.InvalidType),
               ("tuple", (2026, 10), br.InvalidType), ("2026-13", "2026-13", br.ParseError),
               ("2026-1", "2026-1", br.ParseError), ("2026-10-01", "2026-10-01", br.ParseError)]
NOT_STRS = [("None", None, br.InvalidType), ("int", 5, br.InvalidType),
            ("bytes", b"usd", br.InvalidType)]
CHECK_CASES = [("FAIL", "FAIL"), ("failed", "failed"), ("Pass", "Pass"), ("empty", "")]
# A packed or list column the batch functions get right, to vary one column at a time.
ONE_CARD = (["credit"], [12], [2030])
ONE_LEDGER = ([1], ["usage"], [-1], [WHEN])


def case(name, call, error, field):
    return pytest.param(call, error, field, id=name)


def table():
    """(call, expected class, field) for every public function and constructor."""
    rows = []
    for label, bad, error in NOT_INTS:
        rows.append(case(f"BillingPeriod year {label}", lambda b=bad: br.BillingPeriod(b, 10),
                         error, "year"))
        rows.append(case(f"BillingPeriod month {label}",
                         lambda b=bad: br.BillingPeriod(2026, b), error, "month"))
    for label, year, month, field in (("year 2**40", 2**40, 1, "year"),
                                      ("year -2**70", -(2**70), 1, "year"),
                                      ("year 1969", 1969, 1, "year"),
                                      ("year 9999", 9999, 1, "year"),
                                      ("month 0", 2026, 0, "month"),
                                      ("month 13", 2026, 13, "month"),
                                      ("month -1", 2026, -1, "month")):
        rows.append(case(f"BillingPeriod {label}",
                         lambda y=year, m=month: br.BillingPeriod(y, m), br.InvalidValue, field))
    for label, bad, error in NOT_STRS:
        rows.append(case(f"BillingPeriod.parse {label}", lambda b=bad: br.BillingPeriod.parse(b),
                         error, "raw"))
    rows.append(case("BillingPeriod.parse 2026-13", lambda: br.BillingPeriod.parse("2026-13"),
                     br.ParseError, "period"))
    rows.append(case("BillingPeriod.next after 9998-12",
                     lambda: br.BillingPeriod(9998, 12).next(), br.InvalidValue, "period"))
    rows.append(case("BillingPeriod.previous before 1970-01",
                     lambda: br.BillingPeriod(1970, 1).previous(), br.InvalidValue, "period"))
    october = br.BillingPeriod(2026, 10)
    for label, bad, error in NOT_INSTANTS:
        for name, call in (
            ("BillingPeriod.containing", lambda b=bad: br.BillingPeriod.containing(b)),
            ("BillingPeriod.charged_by", lambda b=bad: br.BillingPeriod.charged_by(b)),
            ("BillingPeriod.contains", lambda b=bad: october.contains(b)),
        ):
            rows.append(case(f"{name} {label}", call, error, "at"))
        rows.append(case(f"next_charge_at {label}", lambda b=bad: br.next_charge_at(b),
                         error, "now"))
        rows.append(case(f"purchase_gate now {label}", lambda b=bad: br.purchase_gate(None, b),
                         error, "now"))
        rows.append(case(f"purchase_gate created_at {label}",
                         lambda b=bad: br.purchase_gate(("processing", b), WHEN),
                         error, "latest.created_at"))
        rows.append(case(f"close_period effective_at {label}",
                         lambda b=bad: br.close_period([("usage", -1, b)], "2026-10"),
                         error, "entries[0].effective_at"))
        rows.append(case(f"balance effective_at {label}",
                         lambda b=bad: br.balance([("usage", -1, WHEN), ("usage", -1, b)]),
                         error, "entries[1].effective_at"))
        rows.append(case(f"close_periods effective_at {label}",
                         lambda b=bad: br.close_periods("2026-10", [2], ["usage"] * 2, [-1, -1],
                                                        [WHEN, b]),
                         error, "effective_at[1]"))
        for cls, at_name in ((br.Usage, "occurred_at"), (br.CreditPurchase, "settled_at"),
                             (br.Invoiced, "at"), (br.Adjustment, "at")):
            rows.append(case(f"{cls.__name__} {at_name} {label}",
                             lambda c=cls, b=bad: c(1, b), error, at_name))
    for label, bad, error in NOT_MONEY:
        rows.append(case(f"split_cents {label}", lambda b=bad: br.split_cents(b), error, "micros"))
        rows.append(case(f"balance_view {label}", lambda b=bad: br.balance_view(b),
                         error, "balance"))
        rows.append(case(f"check_amount amount {label}", lambda b=bad: br.check_amount(b),
                         error, "amount"))
        rows.append(case(f"close_period amount {label}",
                         lambda b=bad: br.close_period([("adjustment", b, WHEN)], "2026-10"),
                         error, "entries[0].amount_micros"))
        rows.append(case(f"balance dict amount {label}",
                         lambda b=bad: br.balance([{"kind": "adjustment", "amount_micros": b,
                                                    "effective_at": WHEN}]),
                         error, "entries[0].amount_micros"))
        for cls, amount_name in ((br.Usage, "cost_micros"), (br.CreditPurchase, "amount_micros"),
                                 (br.Invoiced, "amount_micros"), (br.Adjustment, "amount_micros")):
            rows.append(case(f"{cls.__name__} {amount_name} {label}",
                             lambda c=cls, b=bad: c(b, WHEN), error, amount_name))
        if bad is not None:  # None means "the default" for the optional limits
            rows.append(case(f"check_amount minimum {label}",
                             lambda b=bad: br.check_amount(1_000, minimum=b), error, "minimum"))
            rows.append(case(f"check_amount maximum {label}",
                             lambda b=bad: br.check_amount(1_000, maximum=b), error, "maximum"))
            rows.append(case(f"close_period minimum_charge {label}",
                             lambda b=bad: br.close_period([], "2026-10", b),
                             error, "minimum_charge"))
            rows.append(case(f"close_periods minimum_charge {label}",
                             lambda b=bad: br.close_periods("2026-10", *ONE_LEDGER, b),
                             error, "minimum_charge"))
    for label, call, field in (
        ("check_amount minimum -1", lambda: br.check_amount(1_000, minimum=-1), "minimum"),
        ("check_amount maximum -1", lambda: br.check_amount(1_000, maximum=-1), "maximum"),
        ("check_amount minimum above maximum",
         lambda: br.check_amount(1_000, minimum=5_000, maximum=100), "minimum"),
        ("close_period minimum_charge -1",
         lambda: br.close_period([], "2026-10", minimum_charge=-1), "minimum_charge"),
        ("close_periods minimum_charge -1",
         lambda: br.close_periods("2026-10", *ONE_LEDGER, minimum_charge=-1), "minimum_charge"),
    ):
        rows.append(case(label, call, br.InvalidValue, field))
    for label, bad, error in NOT_PERIODS:
        rows.append(case(f"close_period period {label}", lambda b=bad: br.close_period([], b),
                         error, "period"))
        rows.append(case(f"close_periods period {label}",
                         lambda b=bad: br.close_periods(b, *ONE_LEDGER), error, "period"))
    for label, bad, error in NOT_STRS:
        rows.append(case(f"parse_currency {label}", lambda b=bad: br.parse_currency(b),
                         error, "code"))
        if bad is not None:  # None is "no code", read as generic_decline
            rows.append(case(f"decline_advice {label}", lambda b=bad: br.decline_advice(b),
                             error, "code"))
        rows.append(case(f"purchase_gate status {label}",
                         lambda b=bad: br.purchase_gate((b, WHEN), WHEN), error, "latest.status"))
        rows.append(case(f"close_period kind {label}",
                         lambda b=bad: br.close_period([(b, -1, WHEN)], "2026-10"),
                         error, "entries[0].kind"))
    for label, bad in (("Processing", "Processing"), ("pending", "pending")):
        rows.append(case(f"purchase_gate status {label}",
                         lambda b=bad: br.purchase_gate((b, WHEN), WHEN),
                         br.InvalidValue, "latest.status"))
    rows.append(case("purchase_gate latest not a pair", lambda: br.purchase_gate("processing", WHEN),
                     br.InvalidType, "latest"))
    # Ledger entries: shapes, exact kinds, sign rules.
    for label, entries, error, field in (
        ("entries None", None, br.InvalidType, "entries"),
        ("entries str", "usage", br.InvalidType, "entries"),
        ("entries int", 5, br.InvalidType, "entries"),
        ("entry int", [5], br.InvalidType, "entries[0]"),
        ("entry 2-tuple", [("usage", -1)], br.InvalidType, "entries[0]"),
        ("entry dict without kind", [{"amount_micros": -1, "effective_at": WHEN}],
         br.InvalidType, "entries[0].kind"),
        ("kind Usage", [("Usage", -1, WHEN)], br.InvalidValue, "entries[0].kind"),
        ("kind USAGE", [("USAGE", -1, WHEN)], br.InvalidValue, "entries[0].kind"),
        ("kind refund", [("refund", 1, WHEN)], br.InvalidValue, "entries[0].kind"),
        ("positive usage", [("usage", 10_000_000, WHEN)], br.InvalidValue,
         "entries[0].amount_micros"),
        ("negative credit", [("credit_purchase", -1, WHEN)], br.InvalidValue,
         "entries[0].amount_micros"),
        ("negative invoiced", [("credit_purchase", 5, WHEN), ("invoiced", -1, WHEN)],
         br.InvalidValue, "entries[1].amount_micros"),
    ):
        rows.append(case(f"close_period {label}",
                         lambda e=entries: br.close_period(e, "2026-10"), error, field))
        rows.append(case(f"balance {label}", lambda e=entries: br.balance(e), error, field))
    for label, call, field in (
        ("Usage negative cost", lambda: br.Usage(-1, WHEN), "cost_micros"),
        ("CreditPurchase negative", lambda: br.CreditPurchase(-1, WHEN), "amount_micros"),
        ("Invoiced negative", lambda: br.Invoiced(-1, WHEN), "amount_micros"),
    ):
        rows.append(case(label, call, br.InvalidValue, field))
    # close_periods: the columns this binding reads itself (kinds, effective_at, signs).
    for label, kinds, error in (("Usage", ["Usage"], br.InvalidValue),
                                ("None", [None], br.InvalidType)):
        rows.append(case(f"close_periods kinds {label}",
                         lambda k=kinds: br.close_periods("2026-10", [1], k, [-1], [WHEN]),
                         error, "kinds"))
    rows.append(case("close_periods positive usage",
                     lambda: br.close_periods("2026-10", [1], ["usage"], [5], [WHEN]),
                     br.InvalidValue, "amounts_micros[0]"))
    rows.append(case("close_periods packed epoch micros out of range",
                     lambda: br.close_periods("2026-10", [1], ["usage"], [-1],
                                              array("q", [-1]).tobytes()),
                     br.InvalidValue, "effective_at[0]"))
    closes = br.close_periods("2026-10", *ONE_LEDGER)
    for label, bad in (("str", "0"), ("float", 0.0), ("None", None), ("bool", False)):
        rows.append(case(f"PeriodCloses[{label}]", lambda b=bad: closes[b], br.InvalidType,
                         "index"))
    # Cards, one at a time.
    for label, bad, error in NOT_DAYS:
        for one in (br.accept_card, br.card_refusal):
            rows.append(case(f"{one.__name__} today {label}",
                             lambda b=bad, one=one: one(GOOD_CARD, b), error, "today"))
        rows.append(case(f"accept_cards today {label}",
                         lambda b=bad: br.accept_cards(b, *ONE_CARD), error, "today"))
        rows.append(case(f"accept_cards_packed today {label}",
                         lambda b=bad: br.accept_cards_packed(b, *ONE_CARD), error, "today"))
    for label, card, error, field in (
        ("None", None, br.InvalidType, "card"),
        ("str", "pm_123", br.InvalidType, "card"),
        ("list", [GOOD_CARD], br.InvalidType, "card"),
        ("card not a mapping", {"card": "pm_123"}, br.InvalidType, "card.card"),
        ("checks not a mapping", {**GOOD_CARD, "checks": "pass"}, br.InvalidType, "card.checks"),
        ("exp_month missing", {"funding": "credit", "exp_year": 2030}, br.InvalidType,
         "card.exp_month"),
        ("exp_month 0", {**GOOD_CARD, "exp_month": 0}, br.InvalidValue, "card.exp_month"),
        ("exp_month 13", {**GOOD_CARD, "exp_month": 13}, br.InvalidValue, "card.exp_month"),
        ("exp_month -1", {**GOOD_CARD, "exp_month": -1}, br.InvalidValue, "card.exp_month"),
        ("exp_month True", {**GOOD_CARD, "exp_month": True}, br.InvalidType, "card.exp_month"),
        ("exp_month 12.0", {**GOOD_CARD, "exp_month": 12.0}, br.InvalidType, "card.exp_month"),
        ("exp_month '12'", {**GOOD_CARD, "exp_month": "12"}, br.InvalidType, "card.exp_month"),
        ("exp_year True", {**GOOD_CARD, "exp_year": True}, br.InvalidType, "card.exp_year"),
        ("exp_year 2**40", {**GOOD_CARD, "exp_year": 2**40}, br.InvalidValue, "card.exp_year"),
        ("exp_year 2**70", {**GOOD_CARD, "exp_year": 2**70}, br.InvalidValue, "card.exp_year"),
        ("funding CREDIT", {**GOOD_CARD, "funding": "CREDIT"}, br.InvalidValue, "card.funding"),
        ("funding charge", {**GOOD_CARD, "funding": "charge"}, br.InvalidValue, "card.funding"),
        ("funding int", {**GOOD_CARD, "funding": 1}, br.InvalidType, "card.funding"),
    ):
        for one in (br.accept_card, br.card_refusal):
            rows.append(case(f"{one.__name__} {label}", lambda c=card, one=one: one(c, TODAY),
                             error, field))
    for check in ("cvc_check", "address_line1_check", "address_postal_code_check"):
        for label, bad in CHECK_CASES + [("int", 0)]:
            error = br.InvalidType if label == "int" else br.InvalidValue
            card = {**GOOD_CARD, "checks": {**GOOD_CARD["checks"], check: bad}}
            for one in (br.accept_card, br.card_refusal):
                rows.append(case(f"{one.__name__} {check} {label}",
                                 lambda c=card, one=one: one(c, TODAY), error,
                                 f"card.checks.{check}"))
    # Cards in batches: the enumerations and months this binding reads itself.
    for batch in (br.accept_cards, br.accept_cards_packed):
        name = batch.__name__
        rows.append(case(f"{name} funding CREDIT",
                         lambda b=batch: b(TODAY, ["CREDIT"], [12], [2030]),
                         br.InvalidValue, "funding"))
        for label, bad in CHECK_CASES:
            rows.append(case(f"{name} cvc_check {label}",
                             lambda b=batch, v=bad: b(TODAY, *ONE_CARD, [v]),
                             br.InvalidValue, "cvc_check"))
        for month in (0, 13):
            rows.append(case(f"{name} exp_month {month}",
                             lambda b=batch, m=month: b(TODAY, ["credit"], [m], [2030]),
                             br.InvalidValue, "exp_month"))
    rows += finance_table()
    return rows


# --- Finance tools (issue 12, item 3): preview_charge and reconcile -------------------------

def stripe_row(**fields):
    """A PaymentIntent as csv.DictReader gives a Stripe export row, with `fields` replaced."""
    return {"id": "pi_1", "amount": "20.00", "currency": "usd", "status": "succeeded",
            "created": "2026-11-03 10:00:00",
            "metadata": '{"account_id": "acct_1", "reference": "cp_1"}', **fields}


def ledger_row(**fields):
    """A ledger export row, with `fields` replaced."""
    return {"account_id": "acct_1", "reference": "cp_1", "amount": "2000", "currency": "usd",
            **fields}


def finance_table():
    """(call, expected class, field) for preview_charge and reconcile."""
    rows = []
    for label, bad, error in NOT_PERIODS:
        rows.append(case(f"preview_charge period {label}",
                         lambda b=bad: br.preview_charge([], b), error, "period"))
    for label, bad, error in NOT_MONEY:
        if bad is not None:  # None means "the default minimum"
            rows.append(case(f"preview_charge minimum_charge {label}",
                             lambda b=bad: br.preview_charge([], "2026-10", b), error,
                             "minimum_charge"))
        rows.append(case(f"preview_charge amount {label}",
                         lambda b=bad: br.preview_charge([("adjustment", b, WHEN)], "2026-10"),
                         error, "entries[0].amount_micros"))
    rows.append(case("preview_charge minimum_charge -1",
                     lambda: br.preview_charge([], "2026-10", -1), br.InvalidValue,
                     "minimum_charge"))
    for label, bad, error in NOT_INSTANTS:
        rows.append(case(f"preview_charge effective_at {label}",
                         lambda b=bad: br.preview_charge([("usage", -1, b)], "2026-10"),
                         error, "entries[0].effective_at"))
    for label, entries, error, field in (
        ("entries None", None, br.InvalidType, "entries"),
        ("entries str", "usage", br.InvalidType, "entries"),
        ("kind Usage", [("Usage", -1, WHEN)], br.InvalidValue, "entries[0].kind"),
        ("positive usage", [("usage", 1, WHEN)], br.InvalidValue, "entries[0].amount_micros"),
    ):
        rows.append(case(f"preview_charge {label}",
                         lambda e=entries: br.preview_charge(e, "2026-10"), error, field))
    # reconcile: the arguments, then every field of a row, as csv or the API gives it.
    for label, bad, error in (("None", None, br.InvalidType), ("str", "pi_1", br.InvalidType),
                              ("int", 5, br.InvalidType)):
        rows.append(case(f"reconcile ledger_rows {label}", lambda b=bad: br.reconcile(b, []),
                         error, "ledger_rows"))
        rows.append(case(f"reconcile stripe_rows {label}", lambda b=bad: br.reconcile([], b),
                         error, "stripe_rows"))
    for label, row, error, field in (
        ("row a tuple", ("pi_1", 2000), br.InvalidType, "stripe_rows[0]"),
        ("row None", None, br.InvalidType, "stripe_rows[0]"),
        ("id missing", {k: v for k, v in stripe_row().items() if k != "id"}, br.InvalidType,
         "stripe_rows[0].id"),
        ("id int", stripe_row(id=5), br.InvalidType, "stripe_rows[0].id"),
        ("amount missing", stripe_row(amount=""), br.InvalidType, "stripe_rows[0].amount"),
        ("amount None", stripe_row(amount=None), br.InvalidType, "stripe_rows[0].amount"),
        ("amount float", stripe_row(amount=20.0), br.InvalidType, "stripe_rows[0].amount"),
        ("amount bool", stripe_row(amount=True), br.InvalidType, "stripe_rows[0].amount"),
        ("amount 2**70", stripe_row(amount=2**70), br.MoneyOverflow, "stripe_rows[0].amount"),
        ("amount -1", stripe_row(amount=-1), br.InvalidValue, "stripe_rows[0].amount"),
        ("amount '-20.00'", stripe_row(amount="-20.00"), br.InvalidValue, "stripe_rows[0].amount"),
        ("amount '20.5'", stripe_row(amount="20.5"), br.InvalidValue, "stripe_rows[0].amount"),
        ("amount '20.001'", stripe_row(amount="20.001"), br.InvalidValue,
         "stripe_rows[0].amount"),
        ("amount '2e3'", stripe_row(amount="2e3"), br.InvalidValue, "stripe_rows[0].amount"),
        ("amount '1,000.00'", stripe_row(amount="1,000.00"), br.InvalidValue,
         "stripe_rows[0].amount"),
        ("amount huge digits", stripe_row(amount="9" * 30), br.InvalidValue,
         "stripe_rows[0].amount"),
        ("currency missing", stripe_row(currency=""), br.InvalidType, "stripe_rows[0].currency"),
        ("currency dollars", stripe_row(currency="dollars"), br.InvalidValue,
         "stripe_rows[0].currency"),
        ("status Succeeded", stripe_row(status="Succeeded"), br.InvalidValue,
         "stripe_rows[0].status"),
        ("status paid", stripe_row(status="paid"), br.InvalidValue, "stripe_rows[0].status"),
        ("status None", stripe_row(status=None), br.InvalidType, "stripe_rows[0].status"),
        ("metadata not JSON", stripe_row(metadata="{not json"), br.InvalidValue,
         "stripe_rows[0].metadata"),
        ("metadata a JSON list", stripe_row(metadata="[1]"), br.InvalidType,
         "stripe_rows[0].metadata"),
        ("metadata an int", stripe_row(metadata=5), br.InvalidType, "stripe_rows[0].metadata"),
        ("metadata reference int", stripe_row(metadata={"account_id": "acct_1", "reference": 5}),
         br.InvalidType, "stripe_rows[0].metadata.reference"),
        ("metadata columns disagree", stripe_row(**{"reference (metadata)": "cp_2",
                                                    "account_id (metadata)": "acct_1"}),
         br.InvalidValue, "stripe_rows[0].metadata"),
    ):
        rows.append(case(f"reconcile stripe {label}", lambda r=row: br.reconcile([], [r]),
                         error, field))
    for label, row, error, field in (
        ("row a list", ["acct_1", "cp_1"], br.InvalidType, "ledger_rows[0]"),
        ("account_id missing", {k: v for k, v in ledger_row().items() if k != "account_id"},
         br.InvalidType, "ledger_rows[0].account_id"),
        ("account_id None", ledger_row(account_id=None), br.InvalidType,
         "ledger_rows[0].account_id"),
        ("reference missing", ledger_row(reference=""), br.InvalidType,
         "ledger_rows[0].reference"),
        ("reference pi_", ledger_row(reference="pi_1"), br.InvalidValue,
         "ledger_rows[0].reference"),
        ("id usage:", ledger_row(reference="", id="usage:ev_1"), br.InvalidValue,
         "ledger_rows[0].id"),
        ("id and reference disagree", ledger_row(id="purchase:cp_2"), br.InvalidValue,
         "ledger_rows[0].reference"),
        ("kind Credit_purchase", ledger_row(kind="Credit_purchase"), br.InvalidValue,
         "ledger_rows[0].kind"),
        ("kind invoiced with cp_", ledger_row(kind="invoiced"), br.InvalidValue,
         "ledger_rows[0].reference"),
        ("no amount", {k: v for k, v in ledger_row().items() if k != "amount"}, br.InvalidType,
         "ledger_rows[0]"),
        ("both amounts", ledger_row(amount_micros="20000000"), br.InvalidValue, "ledger_rows[0]"),
        ("amount float", ledger_row(amount=20.0), br.InvalidType, "ledger_rows[0].amount"),
        ("amount bool", ledger_row(amount=False), br.InvalidType, "ledger_rows[0].amount"),
        ("amount '20.00'", ledger_row(amount="20.00"), br.InvalidValue, "ledger_rows[0].amount"),
        ("amount 2**70", ledger_row(amount=2**70), br.MoneyOverflow, "ledger_rows[0].amount"),
        ("amount -5", ledger_row(amount="-5"), br.InvalidValue, "ledger_rows[0].amount"),
        ("amount_micros part of a cent", ledger_row(amount="", amount_micros=1), br.InvalidValue,
         "ledger_rows[0].amount_micros"),
        ("currency int", ledger_row(currency=840), br.InvalidType, "ledger_rows[0].currency"),
    ):
        rows.append(case(f"reconcile ledger {label}", lambda r=row: br.reconcile([r], []),
                         error, field))
    return rows


@pytest.mark.parametrize("call, error, field", table())
def test_every_bad_input_is_a_billing_error_that_names_its_field(call, error, field):
    with pytest.raises(br.BillingError) as raised:
        call()
    refusal = raised.value
    assert type(refusal) is error, f"{type(refusal).__name__}: {refusal}"
    assert refusal.field == field
    assert field in str(refusal)
    assert not RUST_DEBUG.search(str(refusal)), str(refusal)
    if isinstance(refusal, br.InvalidInput):
        assert isinstance(refusal, (TypeError, ValueError))


def test_the_table_covers_every_public_function_and_class():
    ids = " ".join(p.id for p in table())
    callables = {name for name in br.__all__ if callable(getattr(br, name))
                 and not (isinstance(getattr(br, name), type)
                          and issubclass(getattr(br, name), BaseException))}
    results = {"CentSplit", "PeriodClose", "PeriodCloses", "BalanceView", "PurchaseGate",
               "DeclineAdvice",
               "ChargePreview", "InvoiceLine", "Difference"}  # returned, never built by a caller
    assert not (callables - results) - {name for name in callables if name in ids}


# The exact examples of issue 12.

def test_an_epoch_in_seconds_is_not_read_as_microseconds_of_1970():
    nov15 = datetime(2026, 11, 15, tzinfo=UTC)
    with pytest.raises(br.InvalidType, match="pass a timezone-aware datetime") as refused:
        br.close_period([("usage", -10_000_000, int(nov15.timestamp()))], "2026-10")
    assert refused.value.field == "entries[0].effective_at"
    assert isinstance(refused.value, TypeError)


def test_a_positive_usage_amount_is_refused_not_read_as_a_credit():
    with pytest.raises(br.InvalidValue, match="usage lowers the balance") as refused:
        br.close_period([("usage", 10_000_000, datetime(2026, 10, 5, tzinfo=UTC))], "2026-10")
    assert refused.value.field == "entries[0].amount_micros"
    assert br.close_period([br.Usage(10_000_000, datetime(2026, 10, 5, tzinfo=UTC))],
                           "2026-10").invoice == 1_000


@pytest.mark.parametrize("call, error, field", [
    (lambda: br.BillingPeriod("2026", 10), br.InvalidType, "year"),  # type: ignore[arg-type]
    (lambda: br.split_cents(1.0), br.InvalidType, "micros"),  # type: ignore[arg-type]
    (lambda: br.check_amount(None), br.InvalidType, "amount"),  # type: ignore[arg-type]
    (lambda: br.decline_advice(5), br.InvalidType, "code"),  # type: ignore[arg-type]
    (lambda: br.BillingPeriod(2**40, 1), br.InvalidValue, "year"),
    (lambda: br.next_charge_at(date(9999, 12, 5)), br.InvalidType, "now"),  # type: ignore
    (lambda: br.next_charge_at(datetime(9999, 12, 5, tzinfo=UTC)), br.InvalidValue, "now"),
], ids=["period str year", "split_cents float", "check_amount None", "decline_advice int",
        "period year 2**40", "next_charge_at date 9999", "next_charge_at datetime 9999"])
def test_the_issues_type_overflow_and_value_errors_are_billing_errors(call, error, field):
    with pytest.raises(error) as refused:
        call()
    assert refused.value.field == field and field in str(refused.value)


@pytest.mark.parametrize("checks, field", [
    ({"cvc_check": "FAIL"}, "card.checks.cvc_check"),
    ({"cvc_check": "failed"}, "card.checks.cvc_check"),
    ({"address_line1_check": "Fail"}, "card.checks.address_line1_check"),
])
def test_a_check_spelt_otherwise_than_fail_is_refused_never_read_as_passing(checks, field):
    with pytest.raises(br.InvalidValue) as refused:
        br.accept_card({**GOOD_CARD, "checks": {**GOOD_CARD["checks"], **checks}}, TODAY)
    assert refused.value.field == field
    with pytest.raises(br.CardRefused):  # the exact spelling still refuses the card
        br.accept_card({**GOOD_CARD, "checks": {"cvc_check": "fail"}}, TODAY)


def test_an_impossible_expiry_month_is_invalid_input_not_card_expired():
    for month in (0, 13):
        with pytest.raises(br.InvalidValue, match="not a month") as refused:
            br.accept_card({**GOOD_CARD, "exp_month": month}, TODAY)
        assert refused.value.field == "card.exp_month"
        assert not isinstance(refused.value, br.CardRefused)


def test_true_is_not_an_int_anywhere():
    for call, field in ((lambda: br.accept_card({**GOOD_CARD, "exp_month": True}, TODAY),
                         "card.exp_month"),
                        (lambda: br.split_cents(True), "micros"),
                        (lambda: br.check_amount(True), "amount"),
                        (lambda: br.BillingPeriod(2026, True), "month")):
        with pytest.raises(br.InvalidType) as refused:
            call()
        assert refused.value.field == field


def test_limits_that_cannot_be_limits_are_refused():
    with pytest.raises(br.InvalidValue, match="minimum_charge: -1 cents is negative"):
        br.close_period([], "2026-10", minimum_charge=-1)
    with pytest.raises(br.InvalidValue, match="above the maximum") as refused:
        br.check_amount(1_000, minimum=5_000, maximum=100)
    assert refused.value.field == "minimum"


def test_an_unknown_kind_names_the_kinds_without_rust_debug_text():
    with pytest.raises(br.InvalidValue) as refused:
        br.balance([("refund", 1, WHEN)])
    assert str(refused.value) == (
        "entries[0].kind: 'refund' is not one of 'credit_purchase', 'usage', 'invoiced', "
        "'adjustment' (ENTRY_KINDS; exact, lowercase)")


def test_an_index_past_either_end_of_period_closes_is_an_index_error_however_large():
    closes = br.close_periods("2026-10", *ONE_LEDGER)
    assert closes[0] == closes[-1]
    for index in (1, -2, 2**70, -(2**70)):
        with pytest.raises(IndexError):
            closes[index]


def test_good_inputs_at_the_edges_are_still_accepted():
    assert str(br.BillingPeriod(1970, 1)) == "1970-01"
    assert str(br.BillingPeriod(9998, 12)) == "9998-12"
    assert br.next_charge_at(datetime(9998, 12, 31, 23, tzinfo=UTC)) == \
        datetime(9999, 1, 3, 3, tzinfo=UTC)
    assert br.check_amount(100, minimum=100, maximum=100) == 100
    assert br.close_period([], "2026-10", minimum_charge=0).invoice == 0
    assert br.decline_advice(None).code == "generic_decline"
    assert br.purchase_gate(None, WHEN).is_open
    assert br.Usage(0, WHEN).amount_micros == 0 and br.Adjustment(0, WHEN).amount_micros == 0


def test_a_numpy_datetime64_with_a_unit_is_an_instant_read_as_utc():
    np = pytest.importorskip("numpy")
    for unit in ("s", "ms", "us", "ns"):
        at = np.datetime64("2026-10-31T23:30:00", unit)
        assert br.next_charge_at(at) == datetime(2026, 11, 3, 3, tzinfo=UTC)
        assert str(br.BillingPeriod.containing(at)) == "2026-10"
    assert br.close_period([br.Usage(1_000_000, np.datetime64("2026-10-15", "D"))],
                           "2026-10").owed == 1_000_000


@pytest.mark.parametrize("make", [
    lambda np: np.datetime64("NaT"),  # no unit: the only generic datetime64 numpy makes
    lambda np: np.datetime64("NaT", "us"),
    lambda np: np.datetime64("1969-12-31T23:59:59", "s"),
    lambda np: np.datetime64("9999-01-01T00:00:00", "us"),
], ids=["generic NaT", "NaT", "before 1970", "after 9998"])
def test_a_numpy_datetime64_without_a_unit_or_out_of_range_is_refused(make):
    np = pytest.importorskip("numpy")
    with pytest.raises(br.InvalidValue) as refused:
        br.next_charge_at(make(np))
    assert refused.value.field == "now"
