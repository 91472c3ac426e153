"""A placebo arm at experiment 01's quick size: no metric moves by two standard errors.

The placebo raises JD's consumer protection from 0.50 to 0.501 on the ban date, a change too small
to matter: what it does to the outcomes is noise (refund draws of JD orders), carried by the
per-process random streams only into what JD's refunds touch. The checks' standard error (of the
paired differences over replicates) must cover it: |z| < 2 on every metric of the experiment.
"""

import math

import pytest

from livemarket.sweeps import store
from livemarket.sweeps.checks import check_expectations
from livemarket.sweeps.runner import run_sweep
from livemarket.sweeps.spec import Expectation, Factor, load_experiment

PLACEBO = "policies+=[{platform='jd', date=2020-10-09, set={protection=0.501}}]"


@pytest.fixture(scope="module")
def placebo_checks(tmp_path_factory):
    from importlib import resources

    path = resources.files("livemarket") / "experiments" / "01-douyin-link-ban.toml"
    spec = load_experiment(str(path)).effective(quick=True)
    spec = spec.model_copy(update={
        "name": "placebo", "factors": {"policy": Factor(levels={"none": [], "placebo": [PLACEBO]})},
        "expect": [Expectation(metric=m.name, factor="policy", low="none", high="placebo", direction="higher")
                   for m in spec.metrics],
    })  # fmt: skip
    out = tmp_path_factory.mktemp("placebo")
    run_sweep(spec, out, workers=0, progress=False)
    return spec, check_expectations(spec, store.results(out))


def test_the_placebo_moves_no_metric_by_two_standard_errors(placebo_checks):
    spec, table = placebo_checks
    assert table.height == len(spec.metrics) >= 5
    z = dict(zip(table["metric"], table["z"], strict=True))
    loud = {m: v for m, v in z.items() if math.isfinite(v) and abs(v) >= 2}
    assert loud == {}, f"placebo |z| >= 2 on {loud}"
    assert table["n"].min() == spec.replicates  # every replicate paired


def test_the_placebo_is_not_a_no_op(placebo_checks):
    _, table = placebo_checks
    moved = [m for m, e in zip(table["metric"], table["effect"], strict=True) if e != 0]
    assert moved, "the placebo changed nothing: the test above would pass vacuously"
