"""The small value records that stand in for dataclasses on the hot path."""

from __future__ import annotations

import pytest

from rewrite.backend import Timings
from rewrite.cache import ModelInfo
from rewrite.engine import RewriteResult
from rewrite.hosts import Host


def test_equality_is_by_type_and_fields() -> None:
    assert Host("http", "a", 1) == Host("http", "a", 1)
    assert Host("http", "a", 1) != Host("http", "a", 2)
    assert Host("http", "a", 1) != ("http", "a", 1, "")


def test_replace_changes_only_what_it_names() -> None:
    host = Host("http", "a", 1, "/p")
    moved = host.replace(port=2)
    assert (moved.port, moved.host, moved.path) == (2, "a", "/p")
    assert host.port == 1
    with pytest.raises(TypeError):
        host.replace(nonsense=1)


def test_as_dict_nests_records() -> None:
    result = RewriteResult("t", "m", "fix", timings=Timings(wall_ms=1.5))
    data = result.as_dict()
    assert data["timings"]["wall_ms"] == 1.5
    assert set(data) == {"text", "model", "action", "host", "cached", "timings"}


def test_repr_names_the_fields() -> None:
    info = ModelInfo(("completion",), "abc")
    assert repr(info) == "ModelInfo(capabilities=('completion',), digest='abc')"


def test_a_hosts_repr_and_dict_leave_its_password_out() -> None:
    host = Host("http", "a", 1, credentials=("bob", "s3cret"))
    assert "s3cret" not in repr(host)
    assert "s3cret" not in str(host.as_dict())
    assert "bob" in repr(host)


def test_records_are_not_hashable_keys() -> None:
    with pytest.raises(TypeError):
        hash(Host("http", "a", 1))
