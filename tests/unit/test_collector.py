"""The collector's pause over one chunk's drafting: off inside, as it was after."""

from __future__ import annotations

import gc

import pytest

from billing.services.collector import collector_paused


def test_off_inside_and_on_again_after():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_on_again_after_an_error():
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("drafting failed")
    assert gc.isenabled()


def test_a_nested_pause_leaves_the_outer_one_in_force():
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_already_off_stays_off():
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_what_the_pause_made_is_left_out_of_the_scans_and_freed_by_reference_counting():
    """The drafts of a chunk are not collected once for nothing when the pause ends: they are
    out of every generation the collector scans, and freed by reference counting when dropped."""
    with collector_paused():
        made = [[n] for n in range(10_000)]
    scanned = {id(o) for generation in range(3) for o in gc.get_objects(generation)}
    assert id(made) not in scanned and id(made[0]) not in scanned
    frozen = gc.get_freeze_count()
    assert frozen >= len(made)
    del made
    assert gc.get_freeze_count() <= frozen - 10_000
