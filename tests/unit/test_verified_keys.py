"""Verified API keys are remembered for at most `ttl` seconds, never when refused."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from billing.api.verified_keys import VerifiedKeys


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Store:
    """A fake key table: which keys are active, and how often it was read."""

    def __init__(self, active: dict[str, str]) -> None:
        self.active = active
        self.reads = 0

    def owner(self, key: str) -> str | None:
        self.reads += 1
        return self.active.get(key)


def test_a_verified_key_is_read_once_per_ttl_and_a_revoked_one_is_refused_after_it() -> None:
    clock, store = Clock(), Store({"k1": "shop"})
    keys = VerifiedKeys(ttl=5, clock=clock)
    assert [keys.owner("k1", store.owner) for _ in range(3)] == ["shop"] * 3
    assert store.reads == 1
    del store.active["k1"]  # revoked
    clock.now += 4.999
    assert keys.owner("k1", store.owner) == "shop"
    clock.now += 0.001
    assert keys.owner("k1", store.owner) is None
    assert keys.owner("k1", store.owner) is None
    assert store.reads == 3  # refusals are read every time


def test_an_unknown_key_is_never_remembered() -> None:
    clock, store = Clock(), Store({})
    keys = VerifiedKeys(ttl=5, clock=clock)
    assert keys.owner("k2", store.owner) is None
    store.active["k2"] = "late"  # created right after
    assert keys.owner("k2", store.owner) == "late"


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.booleans(), st.floats(0, 10)), max_size=40))
def test_a_key_is_never_accepted_more_than_ttl_seconds_after_its_revocation(
    steps: list[tuple[str, bool, float]],
) -> None:
    """Each step: a key asked for, whether it is active in the store from now on, time moved."""
    clock, store = Clock(), Store({})
    keys = VerifiedKeys(ttl=5, clock=clock)
    revoked_at: dict[str, float] = {}
    for key, active, elapsed in steps:
        if active:
            store.active[key] = key.upper()
            revoked_at.pop(key, None)
        elif key in store.active:
            del store.active[key]
            revoked_at[key] = clock.now
        owner = keys.owner(key, store.owner)
        if key in store.active:
            assert owner == key.upper()
        elif owner is not None:
            assert clock.now - revoked_at[key] < 5
        clock.now += elapsed
