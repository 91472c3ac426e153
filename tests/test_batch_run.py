"""mesa.batch_run: iterations without rng are different replicates, the same on every call."""

import warnings

import mesa
import pandas as pd

from livemarket import LiveCommerceModel
from livemarket.batch import default_seed, iteration_seed

PARAMS = {"scenario": "minimal", "consumers": 300}


def batch(**kw) -> pd.DataFrame:
    with warnings.catch_warnings():  # Mesa 3.5 deprecates iterations= in favour of rng=[...]
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        rows = mesa.batch_run(LiveCommerceModel, PARAMS, max_steps=8, number_processes=1, display_progress=False, **kw)
    frame = pd.DataFrame(rows)
    return frame[frame["Step"] == frame["Step"].max()].set_index("iteration")[["gmv_rmb", "share_video"]]


def test_iterations_without_rng_are_different_reproducible_replicates():
    first, again = batch(iterations=3), batch(iterations=3)
    pd.testing.assert_frame_equal(first, again)  # reproducible
    assert first["gmv_rmb"].nunique() == 3  # three different runs, not three copies of one
    plain = LiveCommerceModel("minimal", consumers=300)  # iteration 0 is the scenario's own seed
    for _ in range(8):
        plain.step()
    assert first.loc[0, "gmv_rmb"] == plain.recorder.last("gmv_rmb")


def test_explicit_rng_is_used_as_given():
    seeds = [iteration_seed(1, 2), 5]
    given = batch(rng=seeds)
    iterations = batch(iterations=3)
    assert given.loc[0, "gmv_rmb"] == iterations.loc[2, "gmv_rmb"]  # rng=seed of iteration 2: that run
    assert default_seed(7) == 7 and iteration_seed(7, 0) == 7 and iteration_seed(7, 1) != iteration_seed(7, 2)
