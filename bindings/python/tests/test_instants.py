"""UTC datetimes are read from their fields (a fast path); every other zone through
`utcoffset()`. Both must give the same instant, at every date the package accepts."""

import random
from datetime import datetime, timedelta, timezone

import pytest

import billing_rules as br

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LAST = datetime(9998, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)


def read(at: datetime) -> datetime:
    """The instant as the package read it (a Usage keeps it, in UTC)."""
    return br.Usage(0, at).effective_at


def random_instants(n: int):
    rng = random.Random(12)
    span = (LAST - EPOCH) // timedelta(microseconds=1)
    return [EPOCH + timedelta(microseconds=rng.randrange(span)) for _ in range(n)]


EDGES = [EPOCH, LAST, datetime(2000, 2, 29, 12, tzinfo=UTC), datetime(2100, 3, 1, tzinfo=UTC),
         datetime(2026, 10, 31, 23, 59, 59, 999_999, tzinfo=UTC),
         datetime(2026, 11, 1, tzinfo=UTC), datetime(1972, 12, 31, 23, 59, 59, tzinfo=UTC)]


@pytest.mark.parametrize("at", EDGES + random_instants(2_000), ids=str)
def test_a_utc_datetime_is_the_same_instant_as_in_any_other_zone(at):
    plus_five = at.astimezone(timezone(timedelta(hours=5, minutes=30)))
    minus_eleven = at.astimezone(timezone(timedelta(hours=-11)))

    assert read(at) == at
    assert read(plus_five) == at
    assert read(minus_eleven) == at
    assert read(at).tzinfo is UTC


@pytest.mark.parametrize("at", [EPOCH - timedelta(microseconds=1),
                                LAST + timedelta(microseconds=1),
                                datetime(1, 1, 1, tzinfo=UTC),
                                datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)], ids=str)
def test_a_utc_datetime_outside_1970_to_9998_is_refused(at):
    with pytest.raises(br.InvalidValue, match="outside 1970-01-01 to 9998-12-31") as refused:
        read(at)
    assert refused.value.field == "occurred_at"


def test_a_datetime_subclass_in_utc_is_read_from_its_fields_too():
    class Stamp(datetime):
        pass

    at = Stamp(2026, 10, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    assert read(at) == datetime(2026, 10, 31, 23, 59, 59, 999_999, tzinfo=UTC)
