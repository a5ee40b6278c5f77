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
