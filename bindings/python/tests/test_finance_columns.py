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
OCT_20 = datetime(2026, 10, 20, 12, tzinfo=UTC)


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
    with pytest.raises(br.InvalidValue, match=r"datetime64\[s\], which says otherwise") as refused:
        br.close_periods("2026-10", *columns, times, effective_at_unit="us")
    assert refused.value.field == "effective_at_unit"


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
               datetime(1970, 1, 1, tzinfo=UTC),  # the first instant taken
               datetime(9998, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)]  # the last
    micros = [(at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
              for at in moments]
    columns = ("2026-10", [1] * 4, ["usage"] * 4, [-1_000_000] * 4)

    by_datetimes = br.close_periods(*columns, moments)
    by_packed_micros = br.close_periods(*columns, array("q", micros).tobytes())
    by_int64_array = br.close_periods(*columns, array("q", micros), effective_at_unit="us")

    assert list(by_datetimes) == list(by_packed_micros) == list(by_int64_array)
    assert [close.owed for close in by_datetimes] == [1_000_000, 1_000_000, 1_000_000, 0]


def test_packed_and_array_instants_outside_1970_to_9998_are_refused_by_row():
    too_late = 253_370_764_800_000_000  # 9999-01-01T00:00Z in micros
    columns = ("2026-10", [3], ["usage"] * 3, [-1] * 3)

    for effective_at, unit, row in (
        (array("q", [0, -1, 0]).tobytes(), None, 1),
        (array("q", [0, 0, too_late]).tobytes(), None, 2),
        (array("q", [0, 0, too_late // 1_000_000]), "s", 2),
        (array("q", [0, 2**62, 0]), "ms", 1),  # beyond int64 once in micros
    ):
        with pytest.raises(br.InvalidValue, match=r"out of range \(1970-01-01 to 9998") as refused:
            br.close_periods(*columns, effective_at, effective_at_unit=unit)
        assert refused.value.field == f"effective_at[{row}]"


def test_numpy_datetime64_before_1970_is_refused_by_row():
    np = pytest.importorskip("numpy")
    times = np.array(["2026-10-05", "1969-12-31T23:59:59"], dtype="datetime64[us]")

    with pytest.raises(br.InvalidValue, match="1969-12-31 23:59:59") as refused:
        br.close_periods("2026-10", [2], ["usage"] * 2, [-1, -1], times)
    assert refused.value.field == "effective_at[1]"


def test_a_bool_in_an_int_list_column_is_refused_naming_its_row():
    with pytest.raises(br.InvalidType, match="got bool") as refused:
        br.close_periods("2026-10", [2], ["usage"] * 2, [-1, True], [OCT_20, OCT_20])
    assert refused.value.field == "amounts_micros[1]"
    with pytest.raises(br.InvalidType) as refused:
        br.close_periods("2026-10", [False, 2], ["usage"] * 2, [-1, -1], [OCT_20, OCT_20])
    assert refused.value.field == "lengths[0]"


def test_the_unit_is_exactly_one_of_four_strings():
    columns = ("2026-10", [1], ["usage"], [-1], array("q", [SECONDS[0]]))

    for bad, error in (("S", br.InvalidValue), ("sec", br.InvalidValue), (1, br.InvalidType),
                       (b"s", br.InvalidType)):
        with pytest.raises(error) as refused:
            br.close_periods(*columns, effective_at_unit=bad)  # type: ignore[arg-type]
        assert refused.value.field == "effective_at_unit"
    with pytest.raises(br.InvalidValue, match="a list holds aware datetimes") as refused:
        br.close_periods("2026-10", [1], ["usage"], [-1], [OCT_20], effective_at_unit="us")
    assert refused.value.field == "effective_at_unit"


def test_strided_numpy_columns_are_read_like_contiguous_ones():
    np = pytest.importorskip("numpy")
    lengths = np.array([[len(ledger), 0] for ledger in LEDGERS], dtype=np.int64)[:, 0]
    amounts = np.repeat(np.array([amount for _, amount, _ in ENTRIES], dtype=np.int64), 2)[::2]
    kinds = np.repeat(np.array([KIND[kind] for kind, _, _ in ENTRIES], dtype=np.uint8), 2)[::2]
    times = np.repeat(np.array(SECONDS, dtype="datetime64[s]"), 3)[::3]
    assert not any(column.flags.c_contiguous for column in (lengths, kinds, amounts, times))

    assert list(br.close_periods("2026-10", lengths, kinds, amounts, times)) == EXPECTED


def test_bad_column_shapes_name_the_column():
    for call, error, field in (
        (lambda: br.close_periods("2026-10", [1], ["usage"], "-1", [OCT_20]), br.InvalidType,
         "amounts_micros"),
        (lambda: br.close_periods("2026-10", [1], ["usage"], [-1, -1], [OCT_20]), br.InvalidValue,
         "amounts_micros"),
        (lambda: br.close_periods("2026-10", [1], bytes([7]), [-1], [OCT_20]), br.InvalidValue,
         "kinds[0]"),
        (lambda: br.close_periods("2026-10", [1], [5], [-1], [OCT_20]), br.InvalidType,
         "kinds[0]"),
        (lambda: br.close_periods("2026-10", [1], ["usage"], [2**70], [OCT_20]), br.InvalidValue,
         "amounts_micros[0]"),
        (lambda: br.close_periods("2026-10", [1], ["usage"], [-1.0], [OCT_20]), br.InvalidType,
         "amounts_micros[0]"),
        (lambda: br.close_periods("2026-10", [1], ["usage"], b"1234567", [OCT_20]),
         br.InvalidValue, "amounts_micros"),
    ):
        with pytest.raises(error) as refused:
            call()
        assert refused.value.field == field, str(refused.value)
        assert str(refused.value).startswith(field)


def test_a_naive_datetime_in_a_list_column_is_refused():
    with pytest.raises(br.InvalidInput, match="naive"):
        br.close_periods("2026-10", [1], ["usage"], [-1], [datetime(2026, 10, 5)])
