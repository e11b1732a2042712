"""preview_charge and reconcile: what finance and support run, on the same core rules."""

import csv
import io
import json
from datetime import datetime, timezone

import pytest

import billing_rules as br

UTC = timezone.utc
OCT_1 = datetime(2026, 10, 1, 12, tzinfo=UTC)
OCT_20 = datetime(2026, 10, 20, 12, tzinfo=UTC)
NOV_2 = datetime(2026, 11, 2, 12, tzinfo=UTC)


# --- preview_charge -------------------------------------------------------------------------

def test_a_preview_invoices_what_close_period_invoices_with_the_lines_the_close_writes():
    entries = [("credit_purchase", 5_000_000, OCT_1), ("usage", -12_345_678, OCT_20)]

    preview = br.preview_charge(entries, "2026-10")

    close = br.close_period(entries, "2026-10")
    assert (preview.invoice, preview.owed, preview.carried) == (close.invoice, close.owed, close.carried)
    assert preview.invoice == 734
    assert preview.reason is None
    assert preview.charge_at == datetime(2026, 11, 3, 3, tzinfo=UTC)
    assert [(line.description, line.amount_micros) for line in preview.lines] == [
        ("Usage in October 2026", 12_345_678),
        ("Credits and earlier balance", -5_000_000),
        ("Carried over to November 2026 (less than a cent, or under the minimum charge)", -5_678),
    ]
    assert sum(line.amount_micros for line in preview.lines) == preview.invoice * br.MICROS_PER_CENT


def test_usage_after_the_period_is_not_in_its_preview():
    preview = br.preview_charge([("usage", -1_000_000, OCT_20), ("usage", -9_000_000, NOV_2)],
                                br.BillingPeriod(2026, 10))

    assert preview.invoice == 100
    assert [line.description for line in preview.lines] == ["Usage in October 2026"]


def test_an_account_in_credit_is_charged_nothing_because_nothing_is_owed():
    preview = br.preview_charge([("credit_purchase", 5_000_000, OCT_1),
                                 ("usage", -1_000_000, OCT_20)], "2026-10")

    assert (preview.invoice, preview.owed, preview.reason) == (0, 0, "nothing_owed")


def test_an_amount_under_the_minimum_charge_carries_over_and_says_why():
    preview = br.preview_charge([("usage", -490_000, OCT_20)], "2026-10")

    assert (preview.invoice, preview.carried, preview.reason) == (0, 490_000, "under_minimum_charge")
    assert sum(line.amount_micros for line in preview.lines) == 0


def test_the_minimum_charge_can_be_lowered_and_is_checked():
    entries = [("usage", -490_000, OCT_20)]

    assert br.preview_charge(entries, "2026-10", minimum_charge=1).invoice == 49
    for bad in (-1, True, 1.0, "50"):
        with pytest.raises(br.InvalidInput, match="minimum_charge"):
            br.preview_charge(entries, "2026-10", minimum_charge=bad)  # type: ignore[arg-type]


def test_a_preview_is_frozen_and_compares_by_value():
    entries = [("usage", -12_345_678, OCT_20)]
    preview = br.preview_charge(entries, "2026-10")

    assert preview == br.preview_charge(entries, "2026-10")
    assert repr(preview) == "ChargePreview(invoice=1234, owed=12345678, carried=5678, reason=None)"
    with pytest.raises(AttributeError):
        preview.invoice = 1  # type: ignore[misc]


# --- reconcile ------------------------------------------------------------------------------

def credit(reference, amount="2000", account="acct_1", currency="usd"):
    return {"account_id": account, "reference": reference, "amount": amount, "currency": currency}


def payment(pi, reference, amount="2000", status="succeeded", account="acct_1", currency="usd"):
    metadata = json.dumps({"account_id": account, "reference": reference})
    return {"id": pi, "amount": amount, "currency": currency, "status": status,
            "created": "2026-10-01 12:00:00", "metadata": metadata}


def kinds(differences):
    return [(d.kind, d.account_id, d.reference) for d in differences]


def test_a_ledger_that_matches_stripe_has_no_difference():
    ledger = [credit("cp_1"), credit("in_202610", amount="734")]
    stripe = [payment("pi_1", "cp_1"), payment("pi_2", "in_202610", amount="7.34"),
              payment("pi_3", "in_202610", amount="734", status="requires_payment_method")]

    assert br.reconcile(ledger, stripe) == []


def test_a_payment_never_credited_and_a_credit_never_paid_are_both_reported():
    ledger = [credit("cp_credited")]
    stripe = [payment("pi_paid", "cp_paid"), payment("pi_failed", "cp_credited", status="canceled")]

    differences = br.reconcile(ledger, stripe)

    assert kinds(differences) == [("credited_not_paid", "acct_1", "cp_credited"),
                                  ("paid_not_credited", "acct_1", "cp_paid")]
    assert differences[0].payment_ids == ["pi_failed"]
    assert (differences[1].stripe_amount, differences[1].ledger_amount) == (2000, None)


def test_invoice_ids_repeat_across_accounts_so_rows_match_on_the_account_too():
    ledger = [credit("in_202610", account="acct_a")]
    stripe = [payment("pi_1", "in_202610", account="acct_b")]

    assert kinds(br.reconcile(ledger, stripe)) == [("credited_not_paid", "acct_a", "in_202610"),
                                                  ("paid_not_credited", "acct_b", "in_202610")]


def test_amounts_and_currencies_that_differ_are_reported_with_both_sides():
    ledger = [credit("cp_1", amount="2000"), credit("cp_2", currency="usd"),
              {"account_id": "acct_1", "reference": "cp_3", "amount_micros": "20000000",
               "currency": "usd"}]
    stripe = [payment("pi_1", "cp_1", amount="1999"), payment("pi_2", "cp_2", currency="EUR"),
              payment("pi_3", "cp_3", amount=2000)]

    differences = br.reconcile(ledger, stripe)

    assert kinds(differences) == [("amount_differs", "acct_1", "cp_1"),
                                  ("currency_differs", "acct_1", "cp_2")]
    assert (differences[0].ledger_amount, differences[0].stripe_amount) == (2000, 1999)
    assert (differences[1].ledger_currency, differences[1].stripe_currency) == ("usd", "eur")


def test_duplicates_on_either_side_and_payments_without_our_metadata_are_reported():
    ledger = [credit("cp_1"), credit("cp_2"), credit("cp_2")]
    stripe = [payment("pi_1", "cp_1"), payment("pi_1b", "cp_1"), payment("pi_2", "cp_2"),
              {"id": "pi_foreign", "amount": "500", "currency": "usd", "status": "succeeded",
               "metadata": ""}]

    differences = br.reconcile(ledger, stripe)

    assert kinds(differences) == [("payment_without_reference", None, None),
                                  ("duplicate_payment", "acct_1", "cp_1"),
                                  ("duplicate_credit", "acct_1", "cp_2")]
    assert differences[1].payment_ids == ["pi_1", "pi_1b"]
    assert (differences[1].ledger_amount, differences[1].stripe_amount) == (2000, 4000)
    assert differences[2].ledger_amount == 4000


def test_an_unpaid_invoice_row_of_zero_is_nothing_to_match():
    assert br.reconcile([credit("in_202610", amount="0")], []) == []


def test_a_dashboard_csv_and_api_dicts_of_the_same_payments_reconcile_alike():
    dashboard = io.StringIO(
        "id,amount,currency,status,created,account_id (metadata),reference (metadata)\n"
        "pi_1,20.00,USD,succeeded,2026-10-01 12:00:00,acct_1,cp_1\n"
        "pi_2,7.34,usd,succeeded,2026-11-03 03:00:00,acct_1,in_202610\n"
        "pi_3,5.00,usd,canceled,2026-10-09 08:30:00,acct_1,cp_2\n"
        "pi_4,1.00,usd,succeeded,2026-10-09 08:30:00,,\n")
    api = [{"id": "pi_1", "object": "payment_intent", "amount": 2000, "currency": "usd",
            "status": "succeeded", "created": 1790856000,
            "metadata": {"account_id": "acct_1", "reference": "cp_1"}},
           {"id": "pi_2", "amount": 734, "currency": "usd", "status": "succeeded",
            "metadata": {"account_id": "acct_1", "reference": "in_202610", "note": "x"}},
           {"id": "pi_3", "amount": 500, "currency": "usd", "status": "canceled",
            "metadata": {"account_id": "acct_1", "reference": "cp_2"}},
           {"id": "pi_4", "amount": 100, "currency": "usd", "status": "succeeded",
            "metadata": {}}]
    ledger = [credit("cp_1"), credit("in_202610", amount=734), credit("cp_2", amount=500)]

    from_csv = br.reconcile(ledger, csv.DictReader(dashboard))
    from_api = br.reconcile(ledger, api)

    assert from_csv == from_api
    assert kinds(from_csv) == [("payment_without_reference", None, None),
                               ("credited_not_paid", "acct_1", "cp_2")]
    assert from_csv[1].payment_ids == ["pi_3"]


def test_a_ledger_export_is_read_by_entry_id_and_kind_with_its_other_rows_skipped():
    export = io.StringIO(
        "account_id,id,kind,amount_micros,effective_at\n"
        "acct_1,purchase:cp_1,credit_purchase,20000000,2026-10-01T12:00:00Z\n"
        "acct_1,usage:ev_9,usage,-1234567,2026-10-02T12:00:00Z\n"
        "acct_1,adjustment:goodwill,adjustment,-5000000,2026-10-03T12:00:00Z\n"
        "acct_1,invoice:in_202610,invoiced,7340000,2026-11-01T00:00:00Z\n")
    stripe = [payment("pi_1", "cp_1", amount="20.00"),
              payment("pi_2", "in_202610", amount="7.35")]

    differences = br.reconcile(csv.DictReader(export), stripe)

    assert kinds(differences) == [("amount_differs", "acct_1", "in_202610")]
    assert (differences[0].ledger_amount, differences[0].stripe_amount) == (734, 735)
    assert differences[0].ledger_currency == "usd"  # the ledger's one currency, when not given


def test_amounts_are_read_as_integer_text_never_through_a_float():
    # 0.29 * 100 is 28.999999999999996 in floating point.
    stripe = [payment("pi_1", "cp_1", amount="0.29"), payment("pi_2", "cp_2", amount="29"),
              payment("pi_3", "cp_3", amount=" 1000000.01 ")]
    ledger = [credit("cp_1", amount="29"), credit("cp_2", amount=29),
              credit("cp_3", amount="100000001")]

    assert br.reconcile(ledger, stripe) == []


def test_a_difference_shows_as_python_values_not_rust_debug_text():
    differences = br.reconcile([], [payment("pi_1", "cp_1"),
                                    {"id": "pi_2", "amount": 5, "currency": "usd",
                                     "status": "succeeded", "metadata": None}])

    assert repr(differences[0]) == (
        "Difference(kind='payment_without_reference', account_id=None, reference=None, "
        "ledger_amount=None, stripe_amount=5, ledger_currency=None, stripe_currency='usd', "
        "payment_ids=['pi_2'])")
    assert "account_id='acct_1'" in repr(differences[1])
    line = br.preview_charge([("usage", -1_000_000, OCT_20)], "2026-10").lines[0]
    assert repr(line) == "InvoiceLine(description='Usage in October 2026', amount_micros=1000000)"
    assert repr(br.preview_charge([], "2026-10")).endswith("reason='nothing_owed')")


@pytest.mark.parametrize("ledger, stripe, field", [
    ([credit("cp_1", amount="20.00")], [], "ledger_rows[0].amount"),
    ([credit("cp_1", amount="-5")], [], "ledger_rows[0].amount"),
    ([credit("cp_1", amount=1.5)], [], "ledger_rows[0].amount"),
    ([credit("pi_1")], [], "ledger_rows[0].reference"),
    ([{"account_id": "a", "reference": "cp_1", "currency": "usd"}], [], "ledger_rows[0]"),
    ([{**credit("cp_1"), "amount_micros": "1"}], [], "ledger_rows[0]"),
    ([{"reference": "cp_1", "amount": "1", "currency": "usd"}], [], "ledger_rows[0].account_id"),
    ([credit("cp_1"), ("cp_2", 1)], [], "ledger_rows[1]"),
    ([], [payment("pi_1", "cp_1", amount="12.3")], "stripe_rows[0].amount"),
    ([], [payment("pi_1", "cp_1", amount=True)], "stripe_rows[0].amount"),
    ([], [{**payment("pi_1", "cp_1"), "metadata": "{not json"}], "stripe_rows[0].metadata"),
    ([], [{**payment("pi_1", "cp_1"), "metadata": "[1]"}], "stripe_rows[0].metadata"),
    ([], [{**payment("pi_1", "cp_1"), "status": None}], "stripe_rows[0].status"),
    ([], "pi_1", "stripe_rows"),
])
def test_a_bad_row_is_refused_naming_the_row_and_field(ledger, stripe, field):
    with pytest.raises(br.InvalidInput) as refused:
        br.reconcile(ledger, stripe)

    assert str(refused.value).startswith(field)
