"""Every section of core/tests/vectors/rules.json, the file the Rust tests read too."""

import json
from datetime import date, datetime
from pathlib import Path

import pytest

import billing_rules as br

VECTORS = json.loads(
    (Path(__file__).resolve().parents[3] / "core/tests/vectors/rules.json").read_text()
)


def cases(section):
    found = VECTORS[section]
    assert found, f"section {section} has cases"
    return found


def at(raw):
    return datetime.fromisoformat(raw.replace("Z", "+00:00"))


def stripe_card(flat):
    """The vectors' flat card facts in the shape of Stripe's PaymentMethod."""
    checks = ("cvc_check", "address_line1_check", "address_postal_code_check")
    card = {k: v for k, v in flat.items() if k not in checks}
    card["checks"] = {k: flat[k] for k in checks}
    return {"id": "pm_vector", "type": "card", "card": card}


def entries(case):
    return [(e["kind"], e["amount_micros"], at(e["effective_at"])) for e in case["entries"]]


def test_every_section_of_the_vectors_file_is_checked_here():
    checked = {
        "card_acceptance", "rounding", "periods", "period_bounds", "period_close",
        "balance_view", "purchase_gate", "purchase_limits", "declines",
    }
    assert set(VECTORS) - {"_about"} == checked


def impossible_month(case):
    """The rule counts a month outside 1-12 as expired; the binding refuses it as bad input
    before the rule runs (issue 12: `card_expired` would hide a broken export)."""
    return not 1 <= case["card"]["exp_month"] <= 12


@pytest.mark.parametrize("case", cases("card_acceptance"), ids=lambda c: c["name"])
def test_card_acceptance(case):
    today = date.fromisoformat(case["today"])
    if impossible_month(case):
        with pytest.raises(br.InvalidValue) as refused:
            br.accept_card(stripe_card(case["card"]), today)
        assert refused.value.field == "card.exp_month"
        return
    try:
        br.accept_card(stripe_card(case["card"]), today)
        got = None
    except br.CardRefused as refused:
        got = refused.code
        assert refused.message == str(refused)
    assert got == case["expected"]
    assert br.card_refusal(stripe_card(case["card"]), today) == case["expected"]


def test_card_acceptance_batched_matches_the_vectors():
    for today in {c["today"] for c in cases("card_acceptance")}:
        group = [c for c in cases("card_acceptance")
                 if c["today"] == today and not impossible_month(c)]
        column = lambda key: [c["card"][key] for c in group]  # noqa: E731
        got = br.accept_cards(
            date.fromisoformat(today),
            column("funding"), column("exp_month"), column("exp_year"),
            column("cvc_check"), column("address_line1_check"),
            column("address_postal_code_check"),
        )
        assert got == [c["expected"] for c in group]


@pytest.mark.parametrize("case", cases("rounding"), ids=str)
def test_rounding(case):
    split = br.split_cents(case["micros"])
    assert (split.cents, split.remainder) == (case["cents"], case["remainder"])


@pytest.mark.parametrize("case", cases("periods"), ids=lambda c: c["instant"])
def test_periods(case):
    instant = at(case["instant"])
    assert str(br.BillingPeriod.containing(instant)) == case["containing"]
    assert str(br.BillingPeriod.charged_by(instant)) == case["charged_by"]
    assert br.next_charge_at(instant) == at(case["next_charge_at"])


@pytest.mark.parametrize("case", cases("period_bounds"), ids=lambda c: c["period"])
def test_period_bounds(case):
    period = br.BillingPeriod.parse(case["period"])
    assert period.start == at(case["start"])
    assert period.end == at(case["end"])
    assert period.charge_at == at(case["charge_at"])


@pytest.mark.parametrize("case", cases("period_close"), ids=lambda c: c["name"])
def test_period_close(case):
    close = br.close_period(entries(case), case["period"], case["minimum_charge"])
    assert br.balance(entries(case)) == case["balance"]
    got = {"owed": close.owed, "invoice": close.invoice, "carried": close.carried}
    assert got == case["expected"]


def test_period_close_batched_matches_the_vectors():
    for case in cases("period_close"):
        rows = entries(case)
        [close] = list(br.close_periods(
            case["period"], [len(rows)],
            [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
            minimum_charge=case["minimum_charge"],
        ))
        assert close == br.close_period(rows, case["period"], case["minimum_charge"])
        assert close.invoice == case["expected"]["invoice"]


@pytest.mark.parametrize("case", cases("balance_view"), ids=lambda c: str(c["balance"]))
def test_balance_view(case):
    view = br.balance_view(case["balance"])
    assert (view.credits, view.uninvoiced) == (case["credits"], case["uninvoiced"])


@pytest.mark.parametrize("case", cases("purchase_gate"), ids=lambda c: c["name"])
def test_purchase_gate(case):
    latest = case["latest"]
    if latest is not None:
        latest = (latest["status"], at(latest["created_at"]))
    gate = br.purchase_gate(latest, at(case["now"]))
    expected = case["expected"]
    assert gate.decision == expected["decision"]
    assert gate.retry_after == expected.get("retry_after")
    assert gate.is_open == (expected["decision"] == "open")


@pytest.mark.parametrize("case", cases("purchase_limits"), ids=lambda c: str(c["amount"]))
def test_purchase_limits(case):
    try:
        assert br.check_amount(case["amount"]) == case["amount"]
        got = None
    except br.AmountRefused as refused:
        got = refused.code
    assert got == case["expected"]


@pytest.mark.parametrize("case", cases("declines"), ids=lambda c: str(c["code"]))
def test_declines(case):
    advice = br.decline_advice(case["code"])
    assert advice.code == case["normalised"]
    assert advice.retry == case["retry"]
    assert advice.advice == case["advice"]
