"""The Pythonic surface: exceptions, reprs, immutability, time and money conventions, batches."""

import random
from array import array
from datetime import date, datetime, timedelta, timezone

import pytest

import billing_rules as br
from billing_rules import _billing_rules as native

UTC = timezone.utc
GOOD_CARD = {"funding": "credit", "exp_month": 12, "exp_year": 2030,
             "checks": {"cvc_check": "pass", "address_line1_check": "pass",
                        "address_postal_code_check": "pass"}}


def test_the_package_re_exports_the_private_native_module():
    assert br.accept_card is native.accept_card
    assert set(br.__all__) == set(native.__all__)


def test_every_error_kind_is_its_own_subclass_of_billing_error():
    kinds = [br.InvalidInput, br.InvalidType, br.InvalidValue, br.ParseError, br.MoneyOverflow,
             br.UnsupportedCurrency, br.CardRefused, br.AmountRefused]
    assert len(set(kinds)) == len(kinds)
    for kind in kinds:
        assert issubclass(kind, br.BillingError)
        assert kind is not br.BillingError
        assert kind.__module__ == "billing_rules"
    assert issubclass(br.InvalidType, br.InvalidInput) and issubclass(br.InvalidType, TypeError)
    assert issubclass(br.InvalidValue, br.InvalidInput) and issubclass(br.InvalidValue, ValueError)
    assert issubclass(br.ParseError, br.InvalidValue)
    assert not issubclass(br.InvalidInput, (TypeError, ValueError))
    assert issubclass(br.BillingError, Exception)


def test_a_refused_card_raises_card_refused_with_code_and_message():
    with pytest.raises(br.CardRefused) as refused:
        br.accept_card({**GOOD_CARD, "funding": "prepaid"}, date(2026, 11, 25))
    assert refused.value.code == "card_prepaid_not_supported"
    assert "Prepaid cards are not supported" in refused.value.message
    assert str(refused.value) == refused.value.message
    assert refused.value.code in br.CARD_REFUSAL_CODES


def test_an_accepted_card_returns_none_and_a_full_payment_method_is_accepted_too():
    assert br.accept_card(GOOD_CARD, date(2026, 11, 25)) is None
    assert br.accept_card({"id": "pm_1", "card": GOOD_CARD}, date(2026, 11, 25)) is None


def test_missing_checks_count_as_unchecked_and_missing_expiry_is_invalid_input():
    assert br.accept_card({"funding": "debit", "exp_month": 1, "exp_year": 2030},
                          date(2026, 1, 1)) is None
    with pytest.raises(br.InvalidInput, match="exp_month"):
        br.accept_card({"funding": "debit", "exp_year": 2030}, date(2026, 1, 1))


def test_a_datetime_is_refused_where_a_calendar_day_is_expected():
    with pytest.raises(br.InvalidInput, match="expected a date"):
        br.accept_card(GOOD_CARD, datetime(2026, 1, 1, tzinfo=UTC))


def test_naive_datetimes_are_refused_with_a_clear_error():
    naive = datetime(2026, 11, 3, 3)
    for call in (lambda: br.next_charge_at(naive),
                 lambda: br.BillingPeriod.containing(naive),
                 lambda: br.purchase_gate(None, naive),
                 lambda: br.close_period([("usage", -1, naive)], "2026-10")):
        with pytest.raises(br.InvalidInput, match="naive datetime"):
            call()


def test_aware_datetimes_in_any_offset_are_read_as_the_same_instant_and_returned_in_utc():
    paris = timezone(timedelta(hours=1))
    local = datetime(2026, 11, 1, 0, 30, tzinfo=paris)  # 2026-10-31 23:30 UTC
    assert str(br.BillingPeriod.containing(local)) == "2026-10"
    out = br.next_charge_at(local)
    assert out.tzinfo is not None and out.utcoffset() == timedelta(0)
    assert out == datetime(2026, 11, 3, 3, tzinfo=UTC)


def test_billing_period_is_frozen_hashable_ordered_and_reads_well():
    period = br.BillingPeriod(2026, 12)
    assert repr(period) == "BillingPeriod(2026, 12)"
    assert str(period) == "2026-12"
    assert period == br.BillingPeriod.parse("2026-12")
    assert {period, br.BillingPeriod.parse("2026-12")} == {period}
    assert period.previous() < period < period.next()
    assert str(period.next()) == "2027-01"
    assert period.contains(datetime(2026, 12, 31, 23, 59, tzinfo=UTC))
    with pytest.raises(AttributeError):
        period.year = 2027  # type: ignore[misc]


def test_bad_periods_raise_parse_error_or_invalid_input():
    with pytest.raises(br.ParseError) as bad:
        br.BillingPeriod.parse("2026-13")
    assert bad.value.field == "period"
    with pytest.raises(br.InvalidInput):
        br.BillingPeriod(2026, 0)
    with pytest.raises(br.ParseError):
        br.close_period([], "October")


def test_result_classes_are_frozen_with_readable_reprs():
    close = br.close_period([("usage", -12_345_678, datetime(2026, 10, 5, tzinfo=UTC))],
                            br.BillingPeriod(2026, 10))
    assert repr(close) == "PeriodClose(owed=12345678, invoice=1234, carried=5678)"
    assert close.has_invoice
    assert repr(br.split_cents(1_234_567)) == "CentSplit(cents=123, remainder=4567)"
    assert repr(br.balance_view(-1_239_999)) == "BalanceView(credits=0, uninvoiced=123)"
    assert repr(br.purchase_gate(None, datetime(2026, 1, 1, tzinfo=UTC))) == \
        "PurchaseGate(decision='open')"
    assert repr(br.decline_advice("lost_card")) == \
        "DeclineAdvice(code='lost_card', advice='use_another_card', retry='never')"
    for obj, attr in ((close, "invoice"), (br.split_cents(1), "cents"),
                      (br.decline_advice(None), "code")):
        with pytest.raises(AttributeError):
            setattr(obj, attr, 0)


def test_split_cents_unpacks_and_loses_nothing():
    for micros in (0, 9_999, -1_234_567, 2**63 - 1, -(2**63)):
        cents, remainder = br.split_cents(micros)
        assert cents * br.MICROS_PER_CENT + remainder == micros


def test_money_is_int_only_and_overflow_is_its_own_error():
    with pytest.raises(TypeError):
        br.split_cents(1.5)  # type: ignore[arg-type]
    with pytest.raises(br.MoneyOverflow):
        br.balance_view(-(2**63))
    when = datetime(2026, 10, 5, tzinfo=UTC)
    with pytest.raises(br.MoneyOverflow) as overflow:
        br.balance([("adjustment", 2**63 - 1, when), ("adjustment", 1, when)])
    assert overflow.value.field is None  # no one argument is wrong: the sum overflowed


def test_ledger_entries_may_be_typed_tuples_or_dicts_and_all_read_the_same():
    when = datetime(2026, 10, 5, tzinfo=UTC)
    as_tuples = [("credit_purchase", 5_000_000, when), ("usage", -7_000_000, when),
                 ("invoiced", 1_000_000, when), ("adjustment", -500_000, when)]
    as_dicts = [{"kind": k, "amount_micros": a, "effective_at": t} for k, a, t in as_tuples]
    typed = [br.CreditPurchase(5_000_000, when), br.Usage(7_000_000, when),
             br.Invoiced(1_000_000, when), br.Adjustment(-500_000, when)]
    expected = br.close_period(as_tuples, "2026-10")
    assert br.close_period(as_dicts, "2026-10") == expected
    assert br.close_period(typed, "2026-10") == expected
    assert br.close_period(iter(typed), "2026-10") == expected
    assert br.balance(as_dicts) == br.balance(typed) == -1_500_000
    with pytest.raises(br.InvalidValue, match="ENTRY_KINDS"):
        br.balance([("refund", 1, when)])


def test_typed_entries_are_frozen_values_that_carry_the_signed_movement():
    when = datetime(2026, 10, 5, 12, 30, tzinfo=UTC)
    usage = br.Usage(cost_micros=7_000_000, occurred_at=when)
    assert (usage.kind, usage.amount_micros, usage.effective_at) == ("usage", -7_000_000, when)
    assert usage == br.Usage(7_000_000, when) and usage != br.Usage(7_000_001, when)
    assert repr(usage) == "Usage(cost_micros=7000000, occurred_at=2026-10-05T12:30:00Z)"
    credit = br.CreditPurchase(amount_micros=5_000_000, settled_at=when)
    assert (credit.kind, credit.amount_micros) == ("credit_purchase", 5_000_000)
    assert repr(credit) == "CreditPurchase(amount_micros=5000000, settled_at=2026-10-05T12:30:00Z)"
    assert br.Invoiced(1, when).kind == "invoiced" and br.Adjustment(-1, when).amount_micros == -1
    with pytest.raises(AttributeError):
        usage.amount_micros = 0  # type: ignore[misc]


def test_unsupported_currency_names_the_currency():
    assert br.parse_currency("usd") == "usd"
    with pytest.raises(br.UnsupportedCurrency) as bad:
        br.parse_currency("eur")
    assert bad.value.currency == "eur"


def test_amount_refused_carries_code_limit_and_message():
    with pytest.raises(br.AmountRefused) as refused:
        br.check_amount(10, minimum=100)
    assert (refused.value.code, refused.value.limit) == ("amount_too_small", 100)
    assert refused.value.message == "The smallest purchase is 1.00 USD."
    assert br.check_amount(br.PURCHASE_MAXIMUM) == br.PURCHASE_MAXIMUM


def test_purchase_gate_retry_after_opens_the_gate():
    t0 = datetime(2026, 11, 25, 10, tzinfo=UTC)
    gate = br.purchase_gate(("processing", t0), t0 + timedelta(seconds=100))
    assert (gate.is_open, gate.retry_after) == (False, 800)
    later = t0 + timedelta(seconds=100 + gate.retry_after)
    assert br.purchase_gate(("processing", t0), later).is_open
    assert br.SETTLEMENT_WINDOW == timedelta(minutes=15)
    with pytest.raises(br.InvalidInput):
        br.purchase_gate(("pending", t0), t0)


def random_cards(n, seed=7):
    rng = random.Random(seed)
    checks = ["pass", "fail", "unavailable", "unchecked", None]
    return [{"funding": rng.choice(["credit", "debit", "prepaid", "unknown", None]),
             "exp_month": rng.randint(1, 12), "exp_year": rng.randint(2024, 2030),
             "checks": {"cvc_check": rng.choice(checks),
                        "address_line1_check": rng.choice(checks),
                        "address_postal_code_check": rng.choice(checks)}}
            for _ in range(n)]


def per_call_code(card, today):
    try:
        br.accept_card(card, today)
    except br.CardRefused as refused:
        return refused.code
    return None


@pytest.mark.parametrize("n", [0, 1, 1_000, 70_000])  # 70k runs on several threads
def test_accept_cards_equals_accept_card_for_every_card(n):
    today = date(2026, 11, 25)
    cards = random_cards(n)
    col = lambda k: [c[k] for c in cards]  # noqa: E731
    chk = lambda k: [c["checks"][k] for c in cards]  # noqa: E731
    got = br.accept_cards(today, col("funding"), col("exp_month"), col("exp_year"),
                          chk("cvc_check"), chk("address_line1_check"),
                          chk("address_postal_code_check"))
    assert got == [per_call_code(c, today) for c in cards]


def test_accept_cards_reads_packed_bytes_columns_the_same_way():
    today = date(2026, 11, 25)
    cards = [c for c in random_cards(2_000) if c["funding"] is not None]
    code = lambda values, v: values.index("unchecked" if v is None else v)  # noqa: E731
    packed = br.accept_cards(
        today,
        bytes(br.FUNDING_VALUES.index(c["funding"]) for c in cards),
        array("q", [c["exp_month"] for c in cards]).tobytes(),
        array("q", [c["exp_year"] for c in cards]).tobytes(),
        *(bytes(code(br.CHECK_VALUES, c["checks"][k]) for c in cards)
          for k in ("cvc_check", "address_line1_check", "address_postal_code_check")),
    )
    assert packed == [per_call_code(c, today) for c in cards]


def test_batch_columns_must_agree_in_length_and_type():
    with pytest.raises(br.InvalidInput, match="differ in length"):
        br.accept_cards(date(2026, 1, 1), ["credit"], [1, 2], [2030])
    with pytest.raises(br.InvalidInput):
        br.accept_cards(date(2026, 1, 1), "credit", [1], [2030])
    with pytest.raises(br.InvalidInput):
        br.accept_cards(date(2026, 1, 1), bytes([9]), [1], [2030])


SIGNS = {"usage": (-20_000_000, 0), "credit_purchase": (0, 5_000_000),
         "invoiced": (0, 5_000_000), "adjustment": (-5_000_000, 5_000_000)}


def random_entry(rng, start):
    kind = rng.choice(br.ENTRY_KINDS)
    return (kind, rng.randint(*SIGNS[kind]),
            start + timedelta(seconds=rng.randint(0, 40 * 86_400)))


def random_ledgers(n, seed=11):
    rng = random.Random(seed)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    return [[random_entry(rng, start) for _ in range(rng.randint(0, 8))] for _ in range(n)]


@pytest.mark.parametrize("n", [0, 1, 500, 40_000])
def test_close_periods_equals_close_period_for_every_ledger(n):
    ledgers = random_ledgers(n)
    rows = [e for ledger in ledgers for e in ledger]
    got = br.close_periods("2026-10", [len(ledger) for ledger in ledgers],
                           [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                           minimum_charge=50)
    expected = [br.close_period(ledger, "2026-10", 50) for ledger in ledgers]
    assert len(got) == n and list(got) == expected
    assert got.invoice == [c.invoice for c in expected]
    assert got.owed == [c.owed for c in expected] and got.carried == [c.carried for c in expected]
    if n:
        assert got[-1] == expected[-1] and repr(got) == f"PeriodCloses(<{n} ledgers>)"
        with pytest.raises(IndexError):
            got[n]


def test_close_periods_reads_packed_columns_and_epoch_micros():
    ledgers = random_ledgers(300)
    rows = [e for ledger in ledgers for e in ledger]
    micros = [int(r[2].timestamp()) * 1_000_000 for r in rows]
    packed = br.close_periods(
        br.BillingPeriod(2026, 10),
        array("q", [len(ledger) for ledger in ledgers]).tobytes(),
        bytes(br.ENTRY_KINDS.index(r[0]) for r in rows),
        array("q", [r[1] for r in rows]).tobytes(),
        array("q", micros).tobytes(),
    )
    assert list(packed) == [br.close_period(ledger, "2026-10") for ledger in ledgers]
    with pytest.raises(br.InvalidInput, match="out of range"):
        br.close_periods("2026-10", [1], ["usage"], [-1], array("q", [2**63 - 1]).tobytes())


def test_close_periods_refuses_lengths_that_do_not_cover_the_entries():
    when = [datetime(2026, 10, 5, tzinfo=UTC)]
    with pytest.raises(br.InvalidValue, match="lengths") as too_many:
        br.close_periods("2026-10", [2], ["usage"], [-1], when)
    assert too_many.value.field == "lengths[0]"
    with pytest.raises(br.InvalidValue, match="lengths") as too_few:
        br.close_periods("2026-10", [0], ["usage"], [-1], when)
    assert too_few.value.field == "lengths"


def packed_card_columns(cards):
    code = lambda values, v: values.index("unchecked" if v is None else v)  # noqa: E731
    return (
        bytes(br.FUNDING_VALUES.index(c["funding"]) for c in cards),
        array("q", [c["exp_month"] for c in cards]).tobytes(),
        array("q", [c["exp_year"] for c in cards]).tobytes(),
        *(bytes(code(br.CHECK_VALUES, c["checks"][k]) for c in cards)
          for k in ("cvc_check", "address_line1_check", "address_postal_code_check")),
    )


@pytest.mark.parametrize("n", [0, 1, 1_000, 70_000])  # 70k runs on several threads
def test_accept_cards_packed_gives_accept_cards_answers_as_bytes(n):
    today = date(2026, 11, 25)
    cards = [c for c in random_cards(n) if c["funding"] is not None]
    columns = packed_card_columns(cards)
    got = br.accept_cards_packed(today, *columns)
    assert isinstance(got, bytes) and len(got) == len(cards)
    outcomes = (None, *br.CARD_REFUSAL_CODES)
    assert [outcomes[b] for b in got] == br.accept_cards(today, *columns)
    assert [outcomes[b] for b in got] == [per_call_code(c, today) for c in cards]
    # List columns too, and the same checks defaulting to unchecked.
    lists = ([c["funding"] for c in cards], [c["exp_month"] for c in cards],
             [c["exp_year"] for c in cards])
    assert br.accept_cards_packed(today, *lists) == bytes(
        br.CARD_REFUSAL_CODES.index(c) + 1 if c else 0 for c in br.accept_cards(today, *lists))


@pytest.mark.parametrize("batch", [br.accept_cards, br.accept_cards_packed])
def test_card_batches_refuse_a_month_outside_1_to_12_or_a_year_that_is_not_an_int32(batch):
    for month, year, field in ((-1, 2030, "exp_month"), (0, 2030, "exp_month"),
                               (13, 2030, "exp_month"), (2**32, 2030, "exp_month"),
                               (1, 2**31, "exp_year")):
        for columns in ((["credit"] * 2, [1, month], [2030, year]),
                        (bytes(2), array("q", [1, month]).tobytes(),
                         array("q", [2030, year]).tobytes())):
            with pytest.raises(br.InvalidValue, match=f"^{field}: card 1: ") as refused:
                batch(date(2026, 1, 1), *columns)
            assert refused.value.field == field


def test_close_periods_compares_epoch_micros_to_the_period_end_to_the_microsecond():
    end = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp()) * 1_000_000
    ats = [end - 1, end, end + 1, end - 10**9, end + 10**9]
    ledgers = [[("credit_purchase", 1_000_000, end - 10**12), ("usage", -9_000_000, at)]
               for at in ats]
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    as_datetime = lambda micros: epoch + timedelta(microseconds=micros)  # noqa: E731
    expected = [br.close_period([(k, a, as_datetime(at)) for k, a, at in ledger], "2026-10")
                for ledger in ledgers]
    assert [c.owed for c in expected] == [8_000_000, 0, 0, 8_000_000, 0]
    rows = [e for ledger in ledgers for e in ledger]
    for times in ([as_datetime(r[2]) for r in rows], array("q", [r[2] for r in rows]).tobytes()):
        got = br.close_periods("2026-10", [2] * len(ats), [r[0] for r in rows],
                               [r[1] for r in rows], times)
        assert list(got) == expected


def test_packed_epoch_micros_are_refused_exactly_where_close_period_refuses_the_instant():
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    last = datetime(9998, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    last_micros = (last - epoch) // timedelta(microseconds=1)
    for micros in (0, 1, last_micros):
        at = epoch + timedelta(microseconds=micros)
        got = br.close_periods("2026-10", [2], ["usage"] * 2, [-1, -1],
                               array("q", [0, micros]).tobytes())
        assert list(got) == [br.close_period([("usage", -1, epoch), ("usage", -1, at)],
                                             "2026-10")]
    for micros, at in ((-1, epoch - timedelta(microseconds=1)), (last_micros + 1, None),
                       (2**63 - 1, None)):
        with pytest.raises(br.InvalidValue, match=r"effective_at\[1\]: .* out of range"):
            br.close_periods("2026-10", [2], ["usage"] * 2, [-1, -1],
                             array("q", [0, micros]).tobytes())
        if at is not None:
            with pytest.raises(br.InvalidValue, match="outside 1970-01-01"):
                br.close_period([("usage", -1, epoch), ("usage", -1, at)], "2026-10")


def test_close_periods_split_over_threads_matches_close_period_and_names_the_failing_row():
    ledgers = random_ledgers(70_000, seed=3)  # 70k ledgers run as two parts on two cores
    rows = [e for ledger in ledgers for e in ledger]
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    micros = [(r[2] - epoch) // timedelta(microseconds=1) for r in rows]
    columns = [array("q", [len(ledger) for ledger in ledgers]).tobytes(),
               bytes(br.ENTRY_KINDS.index(r[0]) for r in rows),
               array("q", [r[1] for r in rows]).tobytes()]
    got = br.close_periods("2026-10", *columns, array("q", micros).tobytes())
    assert list(got) == [br.close_period(ledger, "2026-10") for ledger in ledgers]
    # An instant out of range in the second part is reported with its entry row.
    bad = len(micros) - 2
    with pytest.raises(br.InvalidValue, match=rf"effective_at\[{bad}\]: .* out of range"):
        br.close_periods("2026-10", *columns,
                         array("q", micros[:bad] + [2**63 - 1] + micros[bad + 1:]).tobytes())
    # An overflow anywhere fails the batch with MoneyOverflow, as close_period would.
    amounts = array("q", [r[1] for r in rows])
    amounts[bad] = -(2**63)
    amounts[bad + 1] = -(2**63)
    kinds = bytearray(columns[1])
    kinds[bad] = kinds[bad + 1] = br.ENTRY_KINDS.index("adjustment")
    with pytest.raises(br.MoneyOverflow):
        br.close_periods("2026-10", columns[0], bytes(kinds), amounts.tobytes(),
                         array("q", micros).tobytes())
    # A usage with a positive amount is refused with its row, never read as a credit.
    kinds[bad] = br.ENTRY_KINDS.index("usage")
    amounts[bad] = 1
    with pytest.raises(br.InvalidValue, match=rf"amounts_micros\[{bad}\]: usage lowers"):
        br.close_periods("2026-10", columns[0], bytes(kinds), amounts.tobytes(),
                         array("q", micros).tobytes())
