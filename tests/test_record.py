"""matcalc/record.py: the classes of the command path, built without the dataclasses module."""
from __future__ import annotations

import pytest

from matcalc.record import factory, record


@record
class Point:
    x: int
    y: int = 0
    tags: list = factory(list)


@record(frozen=True)
class Key:
    name: str
    size: tuple = ()


def test_fields_in_order_or_by_name_with_defaults():
    p = Point(1)
    assert (p.x, p.y, p.tags) == (1, 0, [])
    assert Point(1, y=2) == Point(x=1, y=2, tags=[]) and Point(1) != Point(2)
    assert repr(Point(1, 2)) == "Point(x=1, y=2, tags=[])"


def test_a_factory_default_is_fresh_for_each_record():
    a, b = Point(1), Point(1)
    a.tags.append("t")
    assert b.tags == [] and a.tags is not b.tags


@pytest.mark.parametrize("args, kw", [((), {}), ((1, 2, [], 4), {}), ((1,), {"x": 2}), ((1,), {"z": 3})])
def test_wrong_fields_are_type_errors(args, kw):
    with pytest.raises(TypeError):
        Point(*args, **kw)


def test_frozen_records_hash_by_value_and_refuse_assignment():
    assert hash(Key("n", (2,))) == hash(Key("n", (2,))) and len({Key("n"), Key("n"), Key("m")}) == 2
    with pytest.raises(AttributeError):
        Key("n").name = "m"
    with pytest.raises(TypeError):
        hash(Point(1))          # mutable and compared by value: unhashable, as a dataclass
