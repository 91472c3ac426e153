"""Sweep runner: resume, exactly-once under driver and worker kills, local cluster = in-process."""

import json
import os
import random
import signal
import threading
import time
from pathlib import Path

import polars as pl
import pytest

from livemarket.config import ConfigError
from livemarket.sweeps import store
from livemarket.sweeps.runner import SlurmOptions, SweepError, run_experiment, run_sweep
from livemarket.sweeps.spec import Experiment

ROOT = Path(__file__).resolve().parents[1]
VOLATILE = ["chunk", "seconds", "worker"]  # how the work was spread, not what it computed


def _spec(replicates=2, days=6, consumers=300, **kw) -> Experiment:
    factors = {"ban": {"path": "platforms.video.link_ban", "values": [False, True]},
               "ad": {"path": "platforms.video.ad_load", "values": [0.05, 0.3]}}  # fmt: skip
    metrics = ["gmv_rmb:sum", "video.gmv_share:last", "video.live_own_shop.gmv_rmb:daily", "*.returns:sum",
               {"metric": "hhi", "window": [2, 5], "name": "hhi_mid"}]  # fmt: skip
    base = dict(name="unit", scenario="minimal", days=days, consumers=consumers, replicates=replicates,
                root_seed=42, factors=factors, metrics=metrics)  # fmt: skip
    return Experiment(**(base | kw))


def _rows(out) -> pl.DataFrame:
    return store.results(out).drop(VOLATILE).sort("run_id")


def test_in_process_sweep_resume_and_reading(tmp_path):
    spec = _spec()
    report = run_sweep(spec, tmp_path, workers=0, progress=False, chunk_size=3)
    assert (report.runs, report.ok, report.failed) == (8, 8, 0)
    frame = store.results(tmp_path)
    assert frame.height == 8 and frame["run_id"].n_unique() == 8
    assert {"ban", "ad", "gmv_rmb_sum", "video_gmv_share_last", "any_returns_sum", "hhi_mid"} <= set(frame.columns)
    assert frame.schema["video_live_own_shop_gmv_rmb_daily"] == pl.List(pl.Float64)
    assert frame["video_live_own_shop_gmv_rmb_daily"].list.len().to_list() == [6] * 8
    daily = store.daily(tmp_path)
    assert daily.height == 8 * 6 and set(daily.columns) >= {"run_id", "ban", "ad", "step", "metric", "value"}
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["n_runs"] == 8 and manifest["chunk_size"] == 3 and len(manifest["design"]) == 4
    assert manifest["versions"]["livemarket"] and "git_commit" in manifest
    # the per-run summary equals the metric computed from the model's own table
    from livemarket import LiveCommerceModel, load_scenario

    run = spec.plan().runs[5]
    import numpy as np

    config = load_scenario("minimal", run.overrides, consumers=300, days=6)
    table = LiveCommerceModel(config, rng=np.random.SeedSequence(42, spawn_key=run.spawn_key)).run(6)
    gmv = table.filter(pl.col("platform") == "all", pl.col("metric") == "gmv_rmb")["value"].sum()
    assert frame.filter(pl.col("run_id") == run.run_id)["gmv_rmb_sum"].item() == pytest.approx(gmv, rel=1e-12)
    # re-running the same spec does nothing and changes nothing
    again = run_sweep(spec, tmp_path, workers=0, progress=False)
    assert again.skipped == 8 and _rows(tmp_path).equals(frame.drop(VOLATILE).sort("run_id"))
    lines = [json.loads(x) for x in (tmp_path / "status.jsonl").read_text().splitlines()]
    assert lines[0]["event"] == "start" and lines[-1]["event"] == "done" and lines[-1]["runs_done"] == 8


def test_changed_spec_or_busy_folder_is_refused(tmp_path):
    run_sweep(_spec(), tmp_path, workers=0, progress=False)
    with pytest.raises(SweepError, match=r"replicates: 2 -> 3.*new --out"):
        run_sweep(_spec(replicates=3), tmp_path, workers=0, progress=False)
    with pytest.raises(SweepError, match="days: 6 -> 7"):
        run_sweep(_spec(days=7), tmp_path, workers=0, progress=False)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    store.write_manifest(tmp_path, manifest | {"model_version": "0.0.1+old"})  # checksummed: as if written by it
    with pytest.raises(SweepError, match="model versions would mix"):
        run_sweep(_spec(), tmp_path, workers=0, progress=False)
    import fcntl

    with open(tmp_path / ".lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(SweepError, match="another sweep is running"):
            run_sweep(_spec(), tmp_path, workers=0, progress=False)


def test_failing_run_is_recorded_and_does_not_sink_its_chunk(tmp_path):
    # runs of 3 days cannot fill a window of days 4-6: those runs fail inside the worker
    spec = _spec(days=None, factors={"length": {"path": "days", "values": [8, 3]}}, replicates=3,
                 metrics=["gmv_rmb:sum", {"metric": "hhi", "window": [4, 6], "name": "hhi_late"}])  # fmt: skip
    report = run_sweep(spec, tmp_path, workers=0, progress=False, chunk_size=4)
    assert (report.ok, report.failed) == (3, 3)
    failed, ok = store.failures(tmp_path), store.results(tmp_path)
    assert failed["length"].to_list() == [3, 3, 3] and ok["length"].to_list() == [8, 8, 8]
    assert failed["error"].str.contains("selects no day").all() and failed["traceback"].str.contains("Traceback").all()
    assert failed["chunk"].to_list() == [0, 1, 1]  # chunk 0 and 1 mix ok and failed runs, both written
    # --retry-failed runs only the failed runs again; they fail again; nothing is duplicated
    again = run_sweep(spec, tmp_path, workers=0, progress=False, retry_failed=True)
    assert (again.ok, again.failed) == (3, 3)
    check = store.verify(tmp_path)
    assert not check["missing"] and not check["duplicated"]
    assert _rows(tmp_path).equals(ok.drop(VOLATILE).sort("run_id"))


def test_bad_metric_is_refused_before_any_run(tmp_path):
    with pytest.raises(ConfigError, match="unknown platform 'nosuch'"):
        run_sweep(_spec(metrics=["nosuch.gmv_rmb:sum"]), tmp_path / "sweep", workers=0, progress=False)
    assert not (tmp_path / "sweep").exists()  # refused before the folder is made


def test_slurm_options_render_a_job_script():
    from dask_jobqueue import SLURMCluster

    opts = SlurmOptions(queue="short", account="abm", walltime="00:30:00", cores=4, memory="8GB", jobs=2)
    with SLURMCluster(**opts.cluster_kwargs(), scheduler_options={"dashboard_address": ":0"}) as cluster:
        script = cluster.job_script()
    assert "#SBATCH -p short" in script and "#SBATCH -A abm" in script and "#SBATCH -t 00:30:00" in script
    assert "--nworkers 4" in script and "--nthreads 1" in script
    assert "DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL=1s" in script and "POLARS_MAX_THREADS=1" in script
    assert "LIVEMARKET_THREADS=1" in script


def _threads_setting() -> str | None:
    import os

    return os.environ.get("LIVEMARKET_THREADS")


def test_local_workers_run_the_kernels_on_one_thread():
    """One worker per core: the model's row-parallel kernels must not add threads of their own."""
    from livemarket.sweeps.cluster import open_client

    with open_client(1) as client:
        assert list(client.run(_threads_setting).values()) == ["1"]


def test_slurm_command_line_options_reach_the_job_script(tmp_path):
    """--walltime, --interface, --log-dir and --job-extra, from the command line to SLURMCluster.job_script()."""
    from typer.testing import CliRunner

    from livemarket.cli import app

    spec = tmp_path / "s.toml"
    spec.write_text('name = "s"\nscenario = "minimal"\nmetrics = ["hhi"]\n')
    args = ["sweep", str(spec), "--slurm", "--walltime", "00:10:00", "--interface", "lo", "--cores", "2",
            "--memory", "4GB", "--log-dir", str(tmp_path / "logs"), "--job-extra=--qos=short",
            "--job-extra", "constraint=cpu", "--job-script"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    script = result.output
    assert "#SBATCH -t 00:10:00" in script and "01:00:00" not in script
    assert "--interface lo" in script and "tcp://127.0.0.1:" in script
    assert f"#SBATCH -o {tmp_path / 'logs'}/dask-worker-%J.out" in script
    assert "#SBATCH --qos=short" in script and "#SBATCH --constraint=cpu" in script
    assert not (tmp_path / "s").exists()  # nothing was run


@pytest.mark.parametrize(("args", "message"), [
    (["--slurm", "--walltime", "1h"], "--walltime: '1h' is not a SLURM time limit"),
    (["--slurm", "--interface", "nosuch0"], "no network interface 'nosuch0'"),
    (["--log-dir", "logs"], "are SLURM options: add --slurm"),
    (["--job-script"], "add --slurm"),
])  # fmt: skip
def test_bad_slurm_options_exit_2(tmp_path, args, message):
    from typer.testing import CliRunner

    from livemarket.cli import app

    spec = tmp_path / "s.toml"
    spec.write_text('name = "s"\nscenario = "minimal"\nmetrics = ["hhi"]\n')
    result = CliRunner().invoke(app, ["sweep", str(spec), *args])
    assert result.exit_code == 2 and message in result.output, result.output


# ------------------------------------------------------------------ on a real LocalCluster
@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        with Client(cluster) as c:
            yield c


def test_200_runs_on_two_workers_exactly_once_and_equal_to_in_process(tmp_path, client):
    spec = _spec(replicates=50, days=8)
    started = time.perf_counter()
    report = run_sweep(spec, tmp_path / "dask", client=client, progress=False)
    seconds = time.perf_counter() - started
    print(f"\n200-run sweep on 2 local workers: {seconds:.1f} s ({report.chunk_size} runs per chunk)")
    frame = store.results(tmp_path / "dask")
    assert report.runs == 200 and frame.height == 200 and frame["run_id"].n_unique() == 200
    assert set(frame["run_id"]) == {r.run_id for r in spec.plan().runs}
    assert frame.group_by("ban", "ad").len()["len"].to_list() == [50] * 4
    assert frame["worker"].n_unique() == 2
    # same spec and root seed through the local cluster and in this process: identical results
    run_sweep(spec, tmp_path / "local", workers=0, progress=False)
    assert _rows(tmp_path / "dask").equals(_rows(tmp_path / "local"))


def test_attach_to_running_scheduler_and_python_api(tmp_path, client):
    spec = _spec(replicates=1)
    frame = run_experiment(spec, tmp_path, scheduler=client.scheduler.address, progress=False)
    assert frame.height == 4 and set(frame["run_id"]) == {r.run_id for r in spec.plan().runs}
    assert run_experiment(spec, tmp_path, workers=0, progress=False).drop(VOLATILE).equals(frame.drop(VOLATILE))


def test_killed_worker_does_not_lose_or_duplicate_runs(tmp_path):
    from distributed import Client, LocalCluster

    spec = _spec(replicates=15, days=30, consumers=300)  # 60 runs
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        with Client(cluster) as c:
            pids = list(c.run(os.getpid).values())
            victim = random.choice(pids)

            def kill_when_half_done():
                runs = tmp_path / "runs"
                while len(list(runs.glob("chunk-*.parquet"))) < 4:
                    time.sleep(0.05)
                os.kill(victim, signal.SIGKILL)

            killer = threading.Thread(target=kill_when_half_done, daemon=True)
            killer.start()
            report = run_sweep(spec, tmp_path, client=c, progress=False, chunk_size=3)
            killer.join(timeout=5)
            assert victim not in c.run(os.getpid).values()  # the worker really died (and was replaced)
    check = store.verify(tmp_path)
    assert report.ok == 60 and not check["missing"] and not check["duplicated"] and not check["temporary_files"]


def test_local_workers_whose_runs_do_not_fit_side_by_side_are_refused(tmp_path, monkeypatch):
    from livemarket import sizing

    one_run = sizing.memory_estimate_bytes(_spec().resolve(_spec().overrides))
    monkeypatch.setattr(sizing, "machine_memory_bytes", lambda: int(2.5 * one_run))  # room for two runs
    with pytest.raises(SweepError, match="3 local workers .* accepted: at most 2 workers"):
        run_sweep(_spec(), tmp_path / "s", workers=3, progress=False)
    assert not (tmp_path / "s").exists()
    run_sweep(_spec(replicates=1), tmp_path / "ok", workers=0, progress=False)  # in this process: one run at a time
