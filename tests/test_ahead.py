"""Work started ahead: a stream's uniforms drawn in pieces are the stream's uniforms; a deferred call runs once."""

import numpy as np
import pytest

from livemarket.core.ahead import Deferred, UniformsAhead, now


def _stream():
    return np.random.default_rng(np.random.SeedSequence(7, spawn_key=(3, 5)))


def _beside(fn, *args):  # a second thread, as kernels.beside (the helpers take any such function)
    import threading

    box = []

    def run():
        try:
            box.append((True, fn(*args)))
        except KeyError as exc:
            box.append((False, exc))

    def wait():
        thread.join()
        ok, value = box[0]
        if not ok:
            raise value
        return value

    thread = threading.Thread(target=run)
    thread.start()
    return wait


@pytest.mark.parametrize("beside", [None, now, _beside])
@pytest.mark.parametrize("ahead", [0, 1, 399, 400, 401, 5000])
def test_uniforms_drawn_ahead_are_the_streams_first_uniforms(beside, ahead):
    expected = _stream().random((100, 4))
    got = UniformsAhead(_stream(), ahead, beside).take(400).reshape(100, 4)
    assert np.array_equal(got, expected)


def test_a_deferred_call_runs_once_and_gives_its_result_or_error():
    calls = []
    job = Deferred(now, lambda x: calls.append(x) or 2 * x, 21)
    assert calls == []  # nothing before start() or result()
    job.start()
    job.start()
    assert job.result() == 42 and calls == [21]
    assert Deferred(now, lambda: 5).result() == 5  # result() begins it if nothing did

    def failing():
        raise KeyError("settlement failed")

    with pytest.raises(KeyError, match="settlement failed"):
        Deferred(_beside, failing).result()
