"""close_periods over array columns (buffer protocol): numpy, pandas-like, array.array."""

from array import array
from datetime import datetime, timezone

import pytest

import billing_rules as br

UTC = timezone.utc
KIND = {kind: code for code, kind in enumerate(br.ENTRY_KINDS)}
# Two ledgers: one owing 12.34 in October (and usage in November left out), one in credit.
LEDGERS = [
    [("usage", -12_340_000, datetime(2026, 10, 20, 12, tzinfo=UTC)),
     ("usage", -9_000_000, datetime(2026, 11, 1, 0, 0, 1, tzinfo=UTC))],
    [("credit_purchase", 5_000_000, datetime(2026, 10, 1, tzinfo=UTC)),
     ("usage", -1_000_000, datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC))],
]
ENTRIES = [entry for ledger in LEDGERS for entry in ledger]
EXPECTED = [br.close_period(ledger, "2026-10") for ledger in LEDGERS]
SECONDS = [int(at.timestamp()) for _, _, at in ENTRIES]


def test_array_array_and_memoryview_columns_close_like_lists():
    lengths = array("q", [len(ledger) for ledger in LEDGERS])
    kinds = array("B", [KIND[kind] for kind, _, _ in ENTRIES])
    amounts = memoryview(array("q", [amount for _, amount, _ in ENTRIES]))

    closes = br.close_periods("2026-10", lengths, kinds, amounts, array("q", SECONDS),
                              effective_at_unit="s")

    assert list(closes) == EXPECTED


def test_an_integer_instant_array_without_a_unit_is_refused_not_read_as_1970():
    with pytest.raises(br.InvalidInput, match="effective_at_unit"):
        br.close_periods("2026-10", array("q", [2, 2]), array("B", [1, 1, 0, 1]),
                         array("q", [-1, -1, 1, -1]), array("q", SECONDS))


def test_an_array_of_another_width_is_refused_saying_what_to_pass():
    with pytest.raises(br.InvalidInput, match=r"amounts_micros: expected .*int64"):
        br.close_periods("2026-10", array("q", [4]), array("B", [1, 1, 0, 1]),
                         array("i", [-1, -1, 1, -1]), array("q", SECONDS), effective_at_unit="s")


def test_an_unknown_unit_is_refused():
    with pytest.raises(br.InvalidInput, match="effective_at_unit"):
        br.close_periods("2026-10", [4], ["usage"] * 4, [-1] * 4, array("q", SECONDS),
                         effective_at_unit="seconds")  # type: ignore[arg-type]


def test_numpy_columns_with_datetime64_in_any_unit_close_like_lists():
    np = pytest.importorskip("numpy")
    lengths = np.array([len(ledger) for ledger in LEDGERS], dtype=np.int64)
    kinds = np.array([KIND[kind] for kind, _, _ in ENTRIES], dtype=np.uint8)
    amounts = np.array([amount for _, amount, _ in ENTRIES], dtype=np.int64)
    seconds = np.array(SECONDS, dtype="datetime64[s]")

    for unit in ("s", "ms", "us", "ns"):
        times = seconds.astype(f"datetime64[{unit}]")
        assert list(br.close_periods("2026-10", lengths, kinds, amounts, times)) == EXPECTED
    epoch_ms = seconds.astype("datetime64[ms]").astype(np.int64)
    closes = br.close_periods("2026-10", lengths, kinds, amounts, epoch_ms, effective_at_unit="ms")
    assert list(closes) == EXPECTED


def test_numpy_not_a_time_and_mismatched_units_are_refused():
    np = pytest.importorskip("numpy")
    times = np.array(SECONDS, dtype="datetime64[s]")
    times[2] = np.datetime64("NaT")
    columns = (np.array([2, 2]), np.zeros(4, dtype=np.uint8) + 1, np.array([-1, -1, 1, -1]))

    with pytest.raises(br.InvalidInput, match=r"effective_at\[2\]: .*NaT"):
        br.close_periods("2026-10", *columns, times)
    with pytest.raises(br.InvalidInput, match="effective_at_unit says otherwise"):
        br.close_periods("2026-10", *columns, times, effective_at_unit="us")


def test_a_pandas_like_column_is_read_through_its_array():
    np = pytest.importorskip("numpy")

    class Column:
        """What pandas Series and Arrow arrays offer: no buffer, but `__array__`."""

        def __init__(self, values):
            self.values = values

        def __array__(self, dtype=None, copy=None):
            return self.values

    lengths = Column(np.array([len(ledger) for ledger in LEDGERS]))
    kinds = Column(np.array([KIND[kind] for kind, _, _ in ENTRIES], dtype=np.uint8))
    amounts = Column(np.array([amount for _, amount, _ in ENTRIES]))
    times = Column(np.array(SECONDS, dtype="datetime64[s]"))

    assert list(br.close_periods("2026-10", lengths, kinds, amounts, times)) == EXPECTED


def test_list_datetimes_in_utc_other_zones_and_epoch_micros_are_the_same_instants():
    from datetime import timedelta
    plus_two = timezone(timedelta(hours=2))
    moments = [datetime(2026, 10, 31, 23, 59, 59, 999_999, tzinfo=UTC),
               datetime(2026, 11, 1, 1, 0, 0, 0, tzinfo=plus_two),  # 23:00 UTC on Oct 31
               datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)]
    as_micros = [(at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
                 for at in moments]

    by_datetimes = br.close_periods("2026-10", [1] * 4, ["usage"] * 4, [-1_000_000] * 4, moments)
    by_micros = br.close_periods("2026-10", [1] * 4, ["usage"] * 4, [-1_000_000] * 4, as_micros)

    assert list(by_datetimes) == list(by_micros)
    assert [close.owed for close in by_datetimes] == [1_000_000, 1_000_000, 1_000_000, 0]


def test_a_naive_datetime_in_a_list_column_is_refused():
    with pytest.raises(br.InvalidInput, match="naive"):
        br.close_periods("2026-10", [1], ["usage"], [-1], [datetime(2026, 10, 5)])
