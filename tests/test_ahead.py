"""Work started ahead: a stream's uniforms drawn in pieces are the stream's uniforms; a deferred call runs once."""

import numpy as np
import pytest

from livemarket.core.ahead import Deferred, UniformsAhead, now


def _stream():
    return np.random.default_rng(np.random.SeedSequence(7, spawn_key=(3, 5)))


@pytest.fixture(params=["none", "now", "thread"])
def beside(request, monkeypatch):
    """No function (at once), the serial form, or ``kernels.beside`` on a second thread."""
    if request.param == "thread":
        monkeypatch.setenv("LIVEMARKET_THREADS", "2")
        return pytest.importorskip("livemarket.agents.kernels").beside
    return {"none": None, "now": now}[request.param]


@pytest.mark.parametrize("ahead", [0, 1, 399, 400, 401, 5000])
def test_uniforms_drawn_ahead_are_the_streams_first_uniforms(beside, ahead):
    expected = _stream().random((100, 4))
    got = UniformsAhead(_stream(), ahead, beside).take(400).reshape(100, 4)
    assert np.array_equal(got, expected)


def test_a_deferred_call_runs_once_and_gives_its_result_or_error(beside):
    calls = []
    job = Deferred(beside or now, lambda x: calls.append(x) or 2 * x, 21)
    assert calls == []  # nothing before start() or result()
    job.start()
    job.start()
    assert job.result() == 42 and calls == [21]
    assert Deferred(beside or now, lambda: 5).result() == 5  # result() begins it if nothing did

    def failing():
        raise KeyError("settlement failed")

    with pytest.raises(KeyError, match="settlement failed"):
        Deferred(beside or now, failing).result()
