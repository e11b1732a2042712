"""COMPARISON BASELINE ONLY: the card acceptance rule and the period close rule in plain Python.

Written for bench.py to measure the binding against; nothing imports it, and it is not the
rule. The rule is billing-core (core/src/rules/card.rs, core/src/rules/ledger.rs); bench.py
checks that these functions give the same answers on the benchmark data.
"""

from datetime import date, datetime, timezone

MICROS_PER_CENT = 10_000


def accept_card(card: dict, today: date):
    """Refusal code or None, for a Stripe `card` object."""
    funding = card.get("funding")
    if funding == "prepaid":
        return "card_prepaid_not_supported"
    if funding != "credit" and funding != "debit":
        return "card_funding_unsupported"
    month, year = card["exp_month"], card["exp_year"]
    if not 1 <= month <= 12 or (year, month) < (today.year, today.month):
        return "card_expired"
    checks = card.get("checks") or {}
    if checks.get("cvc_check") == "fail":
        return "card_cvc_check_failed"
    if checks.get("address_line1_check") == "fail" or checks.get("address_postal_code_check") == "fail":
        return "card_address_check_failed"
    return None


def accept_card_columns(funding, month, year, cvc_check, line1_check, postal_check, today: date):
    """`accept_card` for one card given as column values (for the list-columns comparison row)."""
    if funding == "prepaid":
        return "card_prepaid_not_supported"
    if funding != "credit" and funding != "debit":
        return "card_funding_unsupported"
    if not 1 <= month <= 12 or (year, month) < (today.year, today.month):
        return "card_expired"
    if cvc_check == "fail":
        return "card_cvc_check_failed"
    if line1_check == "fail" or postal_check == "fail":
        return "card_address_check_failed"
    return None


def period_end(year: int, month: int) -> datetime:
    return datetime(year + month // 12, month % 12 + 1, 1, tzinfo=timezone.utc)


def close_period(entries, end: datetime, minimum_charge: int = 50):
    """(owed micros, invoice cents, carried micros) for (kind, amount_micros, at) entries."""
    balance = 0
    usage_after_end = 0
    for kind, amount, at in entries:
        balance += amount
        if kind == "usage" and at >= end:
            usage_after_end -= amount
    owed = max(-(balance + usage_after_end), 0)
    cents = owed // MICROS_PER_CENT  # owed >= 0, so this is truncation toward zero
    invoice = cents if cents >= minimum_charge and cents > 0 else 0
    return owed, invoice, owed - invoice * MICROS_PER_CENT


def close_period_columns(lengths, kinds, amounts, times, end: datetime, minimum_charge: int = 50):
    """`close_period` for every ledger of flat columns (for the list-columns comparison row)."""
    closes, start = [], 0
    for length in lengths:
        stop = start + length
        closes.append(close_period(zip(kinds[start:stop], amounts[start:stop], times[start:stop]),
                                   end, minimum_charge))
        start = stop
    return closes
