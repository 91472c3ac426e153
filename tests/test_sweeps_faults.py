"""Sweep faults on a real LocalCluster: driver killed again and again, a run that raises, a
run that hangs past its time limit, a disk that fills up while a chunk is written.

The faults are made from this file only: worker functions patched through ``client.run``
(the workers import this module: spawned processes inherit pytest's ``sys.path``).
"""

import errno
import fcntl
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import psutil
import pytest
from test_sweeps_runner import ROOT, VOLATILE, _rows, _spec
from typer.testing import CliRunner

from livemarket.cli import app
from livemarket.sweeps import store
from livemarket.sweeps.runner import HANG_GRACE_S, RunTimeLimitExceeded, SweepError, run_sweep
from livemarket.sweeps.spec import load_experiment

KILL_CYCLES = 20  # every fourth on a local cluster (--workers 2), the others in the driver (--workers 0)


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        with Client(cluster) as c:
            yield c


def _events(out) -> list[dict]:
    return [json.loads(line) for line in (Path(out) / store.STATUS).read_text().splitlines()]


# ------------------------------------------------------------------ worker-side fault hooks
def _hang(run_id: str | None) -> None:
    """On a worker: the model run ``run_id`` sleeps for good (None: undo)."""
    from livemarket.models.market import LiveCommerceModel

    original = LiveCommerceModel.__dict__.get("_unpatched_run", LiveCommerceModel.run)
    LiveCommerceModel._unpatched_run = original
    if run_id is None:
        LiveCommerceModel.run = original
        return

    def run(self, *args, **kwargs):
        if self.run_id == run_id:
            time.sleep(1e6)
        return original(self, *args, **kwargs)

    LiveCommerceModel.run = run


#: what polars itself raises when the disk fills up under ``write_parquet`` (not an OSError)
POLARS_ENOSPC = "parquet: No space left on device (os error 28)"


def _disk_full(chunks: list[int] | None, polars_error: bool = False, attempts: str | None = None) -> None:
    """On a worker: the Parquet file of these chunks fails half-written with ENOSPC (None: undo).

    ``polars_error``: raise polars' ``ComputeError`` as polars does, not ``OSError``.
    ``attempts``: a file that gets one line per attempt to write a failing chunk.
    """
    original = pl.DataFrame.__dict__.get("_unpatched_write_parquet", pl.DataFrame.write_parquet)
    pl.DataFrame._unpatched_write_parquet = original
    if chunks is None:
        pl.DataFrame.write_parquet = original
        return

    def write_parquet(self, file, *args, **kwargs):
        if "chunk" in self.columns and self["chunk"][0] in chunks:
            Path(file).write_bytes(b"PAR1 half a file")
            if attempts:
                with open(attempts, "a") as f:
                    f.write(f"{self['chunk'][0]}\n")
            if polars_error:
                raise pl.exceptions.ComputeError(POLARS_ENOSPC)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return original(self, file, *args, **kwargs)

    pl.DataFrame.write_parquet = write_parquet


# ------------------------------------------------------------------ a run that raises
def test_failing_run_on_a_cluster_is_recorded_and_its_chunk_completes(tmp_path, client):
    # runs of 3 days cannot fill a window of days 4-6: those runs raise inside the worker
    spec = _spec(days=None, factors={"length": {"path": "days", "values": [8, 3]}}, replicates=3,
                 metrics=["gmv_rmb:sum", {"metric": "hhi", "window": [4, 6], "name": "hhi_late"}])  # fmt: skip
    report = run_sweep(spec, tmp_path, client=client, progress=False, chunk_size=4)
    assert (report.ok, report.failed, report.complete) == (3, 3, True)
    failed, ok = store.failures(tmp_path), store.results(tmp_path)
    assert failed["length"].to_list() == [3, 3, 3] and failed["chunk"].to_list() == [0, 1, 1]
    assert failed["error"].str.contains("KeyError: .*selects no day").all()
    assert failed["traceback"].str.contains("Traceback").all() and failed["worker"].str.contains(":").all()
    # --retry-failed on the cluster: only the failed runs run again (and fail again); nothing doubles
    again = run_sweep(spec, tmp_path, client=client, progress=False, retry_failed=True)
    assert (again.ok, again.failed) == (3, 3)
    check = store.verify(tmp_path)
    assert not check["missing"] and not check["duplicated"] and not check["temporary_files"]
    assert _rows(tmp_path).equals(ok.drop(VOLATILE).sort("run_id"))


# ------------------------------------------------------------------ a run that hangs
def test_hung_run_fails_with_the_time_limit_and_its_worker_is_restarted(tmp_path, client):
    spec = _spec(replicates=2)  # 8 runs, chunks of 4
    hung = spec.plan().runs[1]  # second run of chunk 0: run 0 is done by then, runs 2 and 3 are not
    pids = set(client.run(os.getpid).values())
    client.run(_hang, hung.run_id)
    try:
        started = time.perf_counter()
        report = run_sweep(spec, tmp_path / "dask", client=client, progress=False, chunk_size=4, run_time_limit_s=3)
        seconds = time.perf_counter() - started
    finally:
        client.run(_hang, None)
    print(f"\nhung run caught and its chunk completed in {seconds:.1f} s (limit 3 s)")
    assert (report.ok, report.failed, report.complete) == (7, 1, True)
    failed = store.failures(tmp_path / "dask")
    assert failed["run_id"].to_list() == [hung.run_id] and failed["chunk"].to_list() == [0]
    assert failed["error"].item() == "RunTimeLimitExceeded: exceeded the time limit of 3 s"
    assert failed["seconds"].item() > 3 and seconds < 3 + HANG_GRACE_S + 15
    check = store.verify(tmp_path / "dask")
    assert not check["missing"] and not check["duplicated"] and not check["temporary_files"]
    # the run finished before the hang was kept from the hung worker, not run again
    chunk0 = pl.read_parquet(store.chunk_path(tmp_path / "dask", 0)).sort("replicate", "point")
    rows = {r["run_id"]: r for r in chunk0.iter_rows(named=True)}
    first = spec.plan().runs[0]
    assert rows[first.run_id]["worker"] == rows[hung.run_id]["worker"]
    hung_pid = int(rows[hung.run_id]["worker"].rsplit(":", 1)[1])
    assert hung_pid in pids and hung_pid not in client.run(os.getpid).values()  # restarted
    assert len(client.nthreads()) == 2
    events = [e for e in _events(tmp_path / "dask") if e["event"] == "run_time_limit"]
    assert len(events) == 1 and hung.run_id in events[0]["message"] and "restarted" in events[0]["message"]
    # every other run equals the same run in this process
    local = run_sweep(spec, tmp_path / "local", workers=0, progress=False)
    assert local.ok == 8
    expected = _rows(tmp_path / "local").filter(pl.col("run_id") != hung.run_id)
    assert _rows(tmp_path / "dask").equals(expected)


def test_time_limit_in_process_uses_sigalrm_and_is_validated(tmp_path, monkeypatch):
    from livemarket.models.market import LiveCommerceModel

    spec = _spec(replicates=1)
    hung = spec.plan().runs[2]
    original = LiveCommerceModel.run

    def run(self, *args, **kwargs):
        if self.run_id == hung.run_id:
            try:
                time.sleep(1e6)  # SIGALRM interrupts the sleep ...
            except RunTimeLimitExceeded:
                pass  # ... but the exception is lost (as when it lands in a __del__ or weakref callback)
            time.sleep(1e6)  # the repeated alarm stops the run anyway
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LiveCommerceModel, "run", run)
    report = run_sweep(spec, tmp_path, workers=0, progress=False, run_time_limit_s=4)
    assert (report.ok, report.failed) == (3, 1)
    failed = store.failures(tmp_path)
    assert failed["run_id"].to_list() == [hung.run_id]
    assert failed["error"].item() == "RunTimeLimitExceeded: exceeded the time limit of 4 s"
    assert "time.sleep" in failed["traceback"].item()
    # the limit does not change the runs: the spec's own limit (or another --time-limit) resumes the folder
    monkeypatch.setattr(LiveCommerceModel, "run", original)
    again = run_sweep(_spec(replicates=1, run_time_limit_s=60), tmp_path, workers=0, progress=False, retry_failed=True)
    assert (again.ok, again.failed) == (4, 0)
    with pytest.raises(ValueError, match="greater than 0"):
        _spec(run_time_limit_s=0)
    with pytest.raises(SweepError, match="more than 0 s"):
        run_sweep(spec, tmp_path, workers=0, progress=False, run_time_limit_s=-1)
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text('name = "x"\nreplicates = 1\nmetrics = ["hhi"]\n')
    result = CliRunner().invoke(app, ["sweep", str(spec_file), "--out", str(tmp_path / "x"), "--workers", "0",
                                      "--time-limit", "0", "--no-progress"])  # fmt: skip
    assert result.exit_code == 2 and "time limit must be more than 0 s" in result.output


# ------------------------------------------------------------------ disk full
@pytest.mark.parametrize("polars_error", [False, True], ids=["oserror", "polars-computeerror"])
def test_disk_full_stops_the_sweep_cleanly_and_the_same_command_resumes(tmp_path, client, polars_error):
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text(
        'name = "full"\nscenario = "minimal"\ndays = 6\nconsumers = 300\nreplicates = 2\nroot_seed = 42\n'
        'metrics = ["gmv_rmb:sum", "video.gmv_share:last", "video.live_own_shop.gmv_rmb:daily", "*.returns:sum",'
        ' {metric = "hhi", window = [2, 5], name = "hhi_mid"}]\n'
        '[factors.ban]\npath = "platforms.video.link_ban"\nvalues = [false, true]\n'
        '[factors.ad]\npath = "platforms.video.ad_load"\nvalues = [0.05, 0.3]\n'
    )
    out = tmp_path / "out"
    cmd = ["sweep", str(spec_file), "--out", str(out), "--scheduler", client.scheduler.address,
           "--chunk-size", "2", "--no-progress"]  # fmt: skip
    spec = load_experiment(spec_file)  # 8 runs, chunks of 2
    attempts = tmp_path / "attempts.log"
    client.run(_disk_full, [1], polars_error, str(attempts))
    try:
        full = CliRunner().invoke(app, cmd)
        _wait_idle(client)  # chunks cancelled when the sweep stopped may still be running
    finally:
        client.run(_disk_full, None)
    assert full.exit_code == 1, full.output
    written = f"ComputeError: {POLARS_ENOSPC}" if polars_error else "[Errno 28] No space left on device"
    assert f"chunk 1 could not be written: {written}" in full.stderr and "Traceback" not in full.output
    assert attempts.read_text() == "1\n"  # written once: a chunk that failed for lack of space is not retried
    assert "INCOMPLETE" in full.stdout and "runs missing: re-run the same command" in full.stderr
    assert 1 not in store.done_chunks(out) and not list(out.rglob("*.tmp"))  # no half-written file left
    check = store.verify(out)
    assert {r.run_id for r in spec.plan().runs[2:4]} <= set(check["missing"]) and not check["duplicated"]
    events = [e for e in _events(out) if e["event"] == "chunk_write_error"]
    assert len(events) == 1 and events[0]["chunk"] == 1 and "No space left on device" in events[0]["message"]
    assert _events(out)[-1]["event"] == "done" and _events(out)[-1]["errors"] == [events[0]["message"]]
    # space is back: the same command resumes to every run exactly once
    again = CliRunner().invoke(app, cmd)
    assert again.exit_code == 0, again.output
    assert "8 runs" in again.stdout and "complete" in again.stdout
    check = store.verify(out)
    assert check["ok"] == 8 and not check["missing"] and not check["duplicated"] and not check["temporary_files"]
    run_sweep(spec, tmp_path / "local", workers=0, progress=False)
    assert _rows(out).equals(_rows(tmp_path / "local"))


@pytest.mark.parametrize("polars_error", [False, True], ids=["oserror", "polars-computeerror"])
def test_disk_full_in_process_stops_too(tmp_path, polars_error):
    _disk_full([0], polars_error)
    try:
        report = run_sweep(_spec(replicates=1), tmp_path, workers=0, progress=False, chunk_size=2)
    finally:
        _disk_full(None)
    written = f"ComputeError: {POLARS_ENOSPC}" if polars_error else "[Errno 28] No space left on device"
    assert not report.complete and report.errors == [f"chunk 0 could not be written: {written}"]
    assert len(report.check["missing"]) == 4 and not store.done_chunks(tmp_path) and not list(tmp_path.rglob("*.tmp"))
    assert run_sweep(_spec(replicates=1), tmp_path, workers=0, progress=False).complete


def _wait_idle(client) -> None:
    while any(client.run(lambda dask_worker: len(dask_worker.state.executing)).values()):
        time.sleep(0.05)


# ------------------------------------------------------------------ driver killed again and again
def _outlive(processes: list[psutil.Process], timeout_s: float = 10.0) -> list[psutil.Process]:
    """The processes still running after ``timeout_s`` (a zombie is dead, only not yet reaped by init)."""

    def running(p: psutil.Process) -> bool:
        try:
            return p.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    deadline = time.monotonic() + timeout_s
    while any(map(running, processes)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return [p for p in processes if running(p)]


def test_driver_killed_repeatedly_resumes_to_exactly_once(tmp_path):
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text(
        'name = "killme"\nscenario = "minimal"\ndays = 10\nconsumers = 200\nreplicates = 50\nroot_seed = 5\n'
        'metrics = ["gmv_rmb:sum", "hhi"]\n[factors.ban]\npath = "platforms.video.link_ban"\nvalues = [false, true]\n'
    )
    out, log = tmp_path / "out", tmp_path / "drivers.log"
    cmd = [sys.executable, "-m", "livemarket.cli", "sweep", str(spec_file), "--out", str(out), "--workers", "2",
           "--chunk-size", "1", "--no-progress"]  # fmt: skip
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    started, moments = time.monotonic(), []
    for cycle in range(KILL_CYCLES):
        before = len(store.done_chunks(out))
        workers = "2" if cycle % 4 == 0 else "0"
        more = rng.randint(0, 3)  # kill after this many new chunks (0: during start-up) ...
        start_up = 3.0 if workers == "2" else 1.0  # (a cluster takes longer to start)
        jitter = rng.uniform(0.0, start_up if more == 0 else 0.1)  # ... plus a random delay
        with open(log, "a") as f:
            driver = subprocess.Popen([*cmd[:-4], workers, *cmd[-3:]], env=env, cwd=tmp_path, stdout=f,
                                      stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + 60
        while len(store.done_chunks(out)) < before + more and driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(jitter)
        assert driver.poll() is None, f"sweep ended before kill {cycle + 1} (seed {seed})\n{log.read_text()}"
        family = psutil.Process(driver.pid).children(recursive=True)
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        assert not _outlive(family), f"processes outlived their killed driver: {_outlive(family)}"
        if (out / ".lock").exists():  # the lock died with the driver
            with open(out / ".lock", "a+") as held:
                fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        moments.append(f"{len(store.done_chunks(out)) - before:+d}")
    written = len(store.done_chunks(out))
    print(f"\nsurvived {KILL_CYCLES} driver kills in {time.monotonic() - started:.1f} s (seed {seed}); chunks written "
          f"per cycle {' '.join(moments)}; {written} of 100 before the last run")  # fmt: skip
    assert written < 100, "the sweep finished during the kills: make it longer"
    final_started = time.monotonic()
    final = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    print(f"last run (to the end): {time.monotonic() - final_started:.1f} s")
    assert final.returncode == 0, final.stdout + final.stderr
    assert "100 runs" in final.stdout and "complete" in final.stdout
    check = store.verify(out)
    assert check["ok"] == 100 and not check["missing"] and not check["duplicated"] and not check["unknown"]
    assert not list(out.rglob("*.tmp")) and len(store.done_chunks(out)) == 100
    assert not (out / "quarantine").exists()  # a kill never leaves a damaged chunk file
    # nothing written outside --out (besides the spec and the drivers' output)
    assert {p.name for p in tmp_path.iterdir()} == {"spec.toml", "drivers.log", "out"}
    run_sweep(load_experiment(spec_file), tmp_path / "local", workers=0, progress=False)
    assert _rows(out).equals(_rows(tmp_path / "local"))


def test_disk_full_at_start_is_one_clear_error_and_the_same_command_resumes(tmp_path, monkeypatch):
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text('name = "full"\nscenario = "minimal"\ndays = 4\nconsumers = 200\nreplicates = 2\n'
                         'metrics = ["gmv_rmb:sum"]\n')  # fmt: skip
    out = tmp_path / "out"
    cmd = ["sweep", str(spec_file), "--out", str(out), "--workers", "0", "--no-progress"]

    def no_space(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    with monkeypatch.context() as m:
        m.setattr(store, "write_json_atomic", no_space)  # the manifest cannot be written
        result = CliRunner().invoke(app, cmd)
    assert result.exit_code == 1 and "No space left on device" in result.output, result.output
    assert "Traceback" not in result.output and not store.done_chunks(out)
    result = CliRunner().invoke(app, cmd)
    assert result.exit_code == 0, result.output
    assert store.verify(out)["ok"] == 2


# ------------------------------------------------------------------ SIGTERM and Ctrl-C
@pytest.mark.parametrize(("workers", "sig"), [("0", signal.SIGTERM), ("2", signal.SIGINT)],
                         ids=["in-process-sigterm", "cluster-ctrl-c-to-the-process-group"])  # fmt: skip
def test_signal_stops_the_driver_cleanly_and_the_same_command_resumes(tmp_path, workers, sig):
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text('name = "stopme"\nscenario = "minimal"\ndays = 4\nconsumers = 200\nreplicates = 12\n'
                         'metrics = ["gmv_rmb:sum"]\n')  # fmt: skip
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "livemarket.cli", "sweep", str(spec_file), "--out", str(out), "--workers", workers,
           "--chunk-size", "1", "--no-progress"]  # fmt: skip
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    driver = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while len(store.done_chunks(out)) < 2 and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert driver.poll() is None, driver.communicate()
    family = psutil.Process(driver.pid).children(recursive=True)
    if sig == signal.SIGINT:
        os.killpg(driver.pid, sig)  # Ctrl-C in a terminal: the driver and every worker get it
    else:
        driver.send_signal(sig)
    stdout, stderr = driver.communicate(timeout=60)
    name = signal.Signals(sig).name
    assert driver.returncode == 128 + sig, stdout + stderr
    assert stderr.strip().splitlines() == [
        f"stopped by {name}: finished chunks are kept; re-run the same command to resume"], stderr
    assert "Traceback" not in stdout + stderr and not _outlive(family)
    stopped = _events(out)[-1]
    assert stopped["event"] == "stopped" and stopped["error"] == f"stopped by {name}"
    again = subprocess.run(cmd[:-5] + ["--workers", "0", "--no-progress"], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert again.returncode == 0 and "12 runs" in again.stdout and "complete" in again.stdout, again.stderr
    check = store.verify(out)
    assert check["ok"] == 12 and not check["missing"] and not check["duplicated"] and not check["damaged"]
    run_sweep(load_experiment(spec_file), tmp_path / "uninterrupted", workers=0, progress=False)
    assert _rows(out).equals(_rows(tmp_path / "uninterrupted"))


def test_local_workers_drop_only_the_heartbeat_failure_of_a_closing_scheduler():
    """The local worker's log filter: the shutdown race's heartbeat error is dropped, other records are kept."""
    import logging

    from livemarket.sweeps.dask_driver import _not_a_heartbeat_failure

    def record(msg):
        return logging.LogRecord("distributed.worker", logging.ERROR, __file__, 1, msg, None, None)

    assert not _not_a_heartbeat_failure(record("Failed to communicate with scheduler during heartbeat."))
    assert _not_a_heartbeat_failure(record("Compute Failed"))
