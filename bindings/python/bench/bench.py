"""Benchmark (not a test): billing_rules batched and per call vs a plain-Python baseline.

    python bindings/python/bench/bench.py [--cards 1000000] [--ledgers 100000]

Prints one table; RESULTS.md holds a run. Each figure is the median of --repeat runs. Every
variant's answers are checked against the baseline's (outside the timed calls); every variant
reads the same records, turned into the variant's input layout by the untimed code shown (the
time that conversion takes is printed on its own row).
"""

import argparse
import os
import platform
import random
import statistics
import sys
import time
from array import array
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import baseline  # noqa: E402  (comparison only)

import billing_rules as br  # noqa: E402

UTC = timezone.utc
TODAY = date(2026, 11, 25)
PERIOD = br.BillingPeriod(2026, 10)


def median(repeat, fn):
    """The median wall time of `repeat` calls of fn, and its (last) result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def payment_methods(n, rng):
    funding = ["credit"] * 6 + ["debit"] * 3 + ["prepaid", "unknown"]
    checks = ["pass"] * 8 + ["fail", "unavailable", "unchecked", None]
    return [
        {"id": f"pm_{i}", "object": "payment_method", "type": "card",
         "card": {"brand": "visa", "last4": "4242", "funding": rng.choice(funding),
                  "exp_month": rng.randint(1, 12), "exp_year": rng.randint(2024, 2032),
                  "checks": {"cvc_check": rng.choice(checks),
                             "address_line1_check": rng.choice(checks),
                             "address_postal_code_check": rng.choice(checks)}}}
        for i in range(n)
    ]


def ledgers(n, rng):
    start = datetime(2026, 10, 1, tzinfo=UTC)
    kinds = ["usage"] * 6 + ["credit_purchase", "adjustment", "invoiced"]
    return [
        [(k := rng.choice(kinds),
          -rng.randint(1, 3_000_000) if k == "usage" else rng.randint(1, 50_000_000),
          start + timedelta(seconds=rng.randint(0, 45 * 86_400)))
         for _ in range(rng.randint(1, 10))]
        for _ in range(n)
    ]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--ledgers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(2026)
    rows = []

    def row(name, seconds, n, base=None):
        rows.append((name, seconds, n, base))

    # --- card acceptance over PaymentMethod-shaped records ---
    pms = payment_methods(args.cards, rng)
    t_base, expected = median(args.repeat, lambda: [baseline.accept_card(pm["card"], TODAY) for pm in pms])
    row("cards: plain Python, per record (baseline)", t_base, args.cards)

    def per_call():
        out = []
        for pm in pms:
            try:
                br.accept_card(pm, TODAY)
                out.append(None)
            except br.CardRefused as refused:
                out.append(refused.code)
        return out

    t, got = median(args.repeat, per_call)
    assert got == expected
    row("cards: billing_rules.accept_card, per call (raises CardRefused)", t, args.cards, t_base)
    t, got = median(args.repeat, lambda: [br.card_refusal(pm, TODAY) for pm in pms])
    assert got == expected
    row("cards: billing_rules.card_refusal, per call (returns the code)", t, args.cards, t_base)

    def to_columns():
        cards = [pm["card"] for pm in pms]
        checks = [c.get("checks") or {} for c in cards]
        return ([c["funding"] for c in cards], [c["exp_month"] for c in cards],
                [c["exp_year"] for c in cards], [k.get("cvc_check") for k in checks],
                [k.get("address_line1_check") for k in checks],
                [k.get("address_postal_code_check") for k in checks])

    t_cols, cols = median(args.repeat, to_columns)
    t, got = median(args.repeat, lambda: br.accept_cards(TODAY, *cols))
    assert got == expected
    row("cards: accept_cards, list columns", t, args.cards, t_base)
    row("  (building those columns from the records, Python)", t_cols, args.cards)

    t, got = median(args.repeat, lambda: [baseline.accept_card_columns(*card, TODAY)
                                          for card in zip(*cols)])
    assert got == expected
    row("  (for comparison: plain Python over those list columns)", t, args.cards, t_base)

    fund_code = {v: i for i, v in enumerate(br.FUNDING_VALUES)}
    check_code = {v: i for i, v in enumerate(br.CHECK_VALUES)}
    check_code[None] = check_code["unchecked"]

    def to_packed():
        return (bytes(fund_code[v] for v in cols[0]), array("q", cols[1]).tobytes(),
                array("q", cols[2]).tobytes(),
                *(bytes(check_code[v] for v in col) for col in cols[3:]))

    t_pack, packed = median(args.repeat, to_packed)
    t, got = median(args.repeat, lambda: br.accept_cards(TODAY, *packed))
    assert got == expected
    row("cards: accept_cards, packed bytes columns", t, args.cards, t_base)
    t, got = median(args.repeat, lambda: br.accept_cards_packed(TODAY, *packed))
    outcomes = (None, *br.CARD_REFUSAL_CODES)
    t_decode, decoded = median(args.repeat, lambda: [outcomes[b] for b in got])
    assert isinstance(got, bytes) and decoded == expected
    row("cards: accept_cards_packed, packed columns -> bytes", t, args.cards, t_base)
    row("  (packing the list columns into bytes, Python)", t_pack, args.cards)
    row("  (decoding the bytes answer into a list, Python)", t_decode, args.cards)

    # --- invoice amounts (period close) over ledgers ---
    books = ledgers(args.ledgers, rng)
    end = baseline.period_end(PERIOD.year, PERIOD.month)
    entries = sum(len(b) for b in books)
    t_base, expected = median(args.repeat, lambda: [baseline.close_period(b, end) for b in books])
    row(f"ledgers: plain Python, per ledger (baseline; {entries} entries)", t_base, args.ledgers)

    def as_tuples(closes):
        if isinstance(closes, br.PeriodCloses):
            return list(zip(closes.owed, closes.invoice, closes.carried))
        return [(c.owed, c.invoice, c.carried) for c in closes]

    t, got = median(args.repeat, lambda: [br.close_period(b, PERIOD) for b in books])
    assert as_tuples(got) == expected
    row("ledgers: billing_rules.close_period, per call", t, args.ledgers, t_base)

    flat = [e for b in books for e in b]
    lengths = [len(b) for b in books]
    kinds, amounts, times = [e[0] for e in flat], [e[1] for e in flat], [e[2] for e in flat]
    t, got = median(args.repeat, lambda: br.close_periods(PERIOD, lengths, kinds, amounts, times))
    assert as_tuples(got) == expected
    row("ledgers: close_periods, list columns, datetimes", t, args.ledgers, t_base)

    t, got = median(args.repeat, lambda: baseline.close_period_columns(
        lengths, kinds, amounts, times, end))
    assert got == expected
    row("  (for comparison: plain Python over those list columns)", t, args.ledgers, t_base)

    # A list of bare ints is refused for instants (issue 12): epoch micros go packed, below.
    micros = [int(at.timestamp()) * 1_000_000 for at in times]

    kind_code = {v: i for i, v in enumerate(br.ENTRY_KINDS)}

    def to_packed_ledgers():
        return (array("q", lengths).tobytes(), bytes(kind_code[k] for k in kinds),
                array("q", amounts).tobytes(), array("q", micros).tobytes())

    t_pack, packed = median(args.repeat, to_packed_ledgers)
    t, got = median(args.repeat, lambda: br.close_periods(PERIOD, *packed))
    assert as_tuples(got) == expected
    row("ledgers: close_periods, packed bytes columns", t, args.ledgers, t_base)
    row("  (packing the list columns into bytes, Python; micros given)", t_pack, args.ledgers)

    try:
        import numpy as np
    except ImportError:
        np = None
    if np is not None:
        # Columns as a numpy/pandas/Arrow export holds them: read through the buffer protocol.
        def to_numpy():
            return (np.array(lengths, dtype=np.int64),
                    np.array([kind_code[k] for k in kinds], dtype=np.uint8),
                    np.array(amounts, dtype=np.int64), np.array(micros, dtype=np.int64))

        t_np, (np_lengths, np_kinds, np_amounts, np_micros) = median(args.repeat, to_numpy)
        t, got = median(args.repeat, lambda: br.close_periods(
            PERIOD, np_lengths, np_kinds, np_amounts, np_micros, effective_at_unit="us"))
        assert as_tuples(got) == expected
        row("ledgers: close_periods, numpy int64 columns, epoch micros", t, args.ledgers, t_base)
        for unit in ("us", "ns"):
            np_times = np_micros.astype("datetime64[us]").astype(f"datetime64[{unit}]")
            t, got = median(args.repeat, lambda: br.close_periods(
                PERIOD, np_lengths, np_kinds, np_amounts, np_times))
            assert as_tuples(got) == expected
            row(f"ledgers: close_periods, numpy columns, datetime64[{unit}]", t, args.ledgers,
                t_base)
        row("  (building the numpy columns from the lists, Python)", t_np, args.ledgers)

    print(f"Python {platform.python_version()} on {platform.machine()}, "
          f"{os.cpu_count()} cores; median of {args.repeat} runs\n")
    print(f"| {'what':<62} | {'time':>9} | {'per row':>9} | {'vs baseline':>11} |")
    print(f"|{'-' * 64}|{'-' * 11}|{'-' * 11}|{'-' * 13}|")
    for name, seconds, n, base in rows:
        speedup = f"{base / seconds:.1f}x" if base else ""
        print(f"| {name:<62} | {seconds * 1e3:7.1f}ms | {seconds / n * 1e9:7.0f}ns | {speedup:>11} |")



# --- reconcile over a million-row ledger and Stripe export (issue 12, item 5) ---
#
#     python bindings/python/bench/bench.py reconcile [--rows 1000000] [--repeat 3]
#
# Rows as the two sources give them: csv.DictReader dicts (every value a str, metadata as JSON
# text or the dashboard's "(metadata)" columns) and Stripe API dicts (int amount, metadata
# dict). About 1% of the payments differ from the ledger. The "(Python: ...)" rows time the
# per-row work no reader of these rows can skip, done in plain Python, for comparison.

def export_rows(n, rng):
    """n ledger rows and n Stripe rows (csv-shaped, JSON metadata) that mostly match."""
    ledger, stripe = [], []
    for i in range(n):
        account, reference = f"acct_{i % 50_000}", f"cp_{i:08x}"
        cents = rng.randint(500, 50_000)
        ledger.append({"account_id": account, "reference": reference, "amount": str(cents),
                       "currency": "usd"})
        paid = cents + 1 if rng.random() < 0.01 else cents
        stripe.append({"id": f"pi_{i:08x}", "amount": f"{paid // 100}.{paid % 100:02d}",
                       "currency": "usd", "status": "succeeded",
                       "created": "2026-11-03 10:00:00",
                       "metadata": f'{{"account_id": "{account}", "reference": "{reference}"}}'})
    return ledger, stripe


def reconcile_main(argv):
    import json

    parser = argparse.ArgumentParser(prog="bench.py reconcile")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    ledger, stripe = export_rows(args.rows, random.Random(2026))
    columns = [{**{k: v for k, v in row.items() if k != "metadata"},
                **{f"{k} (metadata)": v for k, v in json.loads(row["metadata"]).items()}}
               for row in stripe]
    api = [{**row, "amount": int(row["amount"].replace(".", "")),
            "metadata": json.loads(row["metadata"])} for row in stripe]
    rows = []
    t, differences = median(args.repeat, lambda: br.reconcile(ledger, stripe))
    expected = len(differences)
    rows.append(("reconcile, csv rows, metadata as JSON text", t))
    for name, payments in (("reconcile, csv rows, dashboard (metadata) columns", columns),
                           ("reconcile, API dicts (int amount, metadata dict)", api)):
        t, got = median(args.repeat, lambda p=payments: br.reconcile(ledger, p))
        assert len(got) == expected
        rows.append((name, t))
    t, _ = median(args.repeat, lambda: [json.loads(row["metadata"]) for row in stripe])
    rows.append(("  (Python: json.loads of every metadata)", t))
    t, _ = median(args.repeat, lambda: [(r["account_id"], r["reference"], int(r["amount"]))
                                        for r in ledger])
    rows.append(("  (Python: reading 3 fields of every ledger row, int())", t))
    print(f"Python {platform.python_version()}, {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.2f}; {args.rows} ledger + {args.rows} Stripe rows, "
          f"{expected} differences; median of {args.repeat} runs\n")
    for name, seconds in rows:
        print(f"| {name:<56} | {seconds * 1e3:8.0f}ms | {seconds / args.rows * 1e9:6.0f}ns/row |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["reconcile"]:
        reconcile_main(sys.argv[2:])
    else:
        main()
