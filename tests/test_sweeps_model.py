"""Sweeping a researcher's own model class: ``model = "package.module:Class"`` in a spec."""

import dataclasses
import json

import numpy as np
import polars as pl
import pytest
from sweep_strategies import FeeRatchet

from livemarket import LiveCommerceModel, load_scenario
from livemarket.config import ConfigError
from livemarket.sweeps import store
from livemarket.sweeps.runner import SweepError, run_sweep
from livemarket.sweeps.spec import Experiment, load_experiment
from livemarket.sweeps.tasks import ChunkTask, run_rows

MODEL = "sweep_strategies:FeeRatchet"
VOLATILE = ["chunk", "seconds", "worker"]


def _spec(**kw) -> Experiment:
    base = dict(name="ratchet", model=MODEL, scenario="minimal", days=6, consumers=300, replicates=2, root_seed=3,
                factors={"ad": {"path": "platforms.video.ad_load", "values": [0.05, 0.3]}},
                metrics=["video.revenue_link_fees_rmb:sum", "gmv_rmb:sum"])  # fmt: skip
    return Experiment(**(base | kw))


def _table(cls, spec: Experiment, run) -> pl.DataFrame:
    config = load_scenario("minimal", run.overrides, consumers=spec.consumers, days=spec.days)
    return cls(config, rng=np.random.SeedSequence(spec.root_seed, spawn_key=run.spawn_key)).run(spec.days)


def _fees(table: pl.DataFrame) -> float:
    return table.filter(pl.col("platform") == "video", pl.col("channel") == "all",
                        pl.col("metric") == "revenue_link_fees_rmb")["value"].sum()  # fmt: skip


def test_a_users_model_class_is_swept_on_dask_exactly_once_and_resumes(tmp_path):
    from distributed import Client, LocalCluster

    spec = _spec()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        with Client(cluster) as c:
            report = run_sweep(spec, tmp_path, client=c, progress=False, chunk_size=1)
            assert report.complete and (report.runs, report.ok, report.failed) == (4, 4, 0)
            workers = set(store.results(tmp_path)["worker"])
            assert not workers & {"driver"} and len(workers) >= 1
            first = store.results(tmp_path).drop(VOLATILE).sort("run_id")
            # resume: a lost chunk file is run again, and only that one
            store.chunk_path(tmp_path, 2).unlink()
            again = run_sweep(spec, tmp_path, client=c, progress=False)
            assert (again.skipped, again.ok, again.failed) == (3, 4, 0) and again.complete
            assert store.results(tmp_path).drop(VOLATILE).sort("run_id").equals(first)
            assert run_sweep(spec, tmp_path, client=c, progress=False).skipped == 4
    assert store.verify(tmp_path)["duplicated"] == []
    # the workers ran FeeRatchet: each row is what FeeRatchet gives here, and not what the built-in model gives
    run = spec.plan().runs[3]
    row = first.filter(pl.col("run_id") == run.run_id)
    assert row["video_revenue_link_fees_rmb_sum"].item() == pytest.approx(_fees(_table(FeeRatchet, spec, run)))
    assert row["video_revenue_link_fees_rmb_sum"].item() != pytest.approx(_fees(_table(LiveCommerceModel, spec, run)))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["spec"]["model"] == MODEL and len(manifest["model_source_sha256"]) == 64


def test_the_model_class_is_part_of_the_runs_identity():
    custom, builtin = _spec(), _spec(model="livemarket.models.market:LiveCommerceModel")
    assert {r.run_id for r in custom.plan().runs}.isdisjoint(r.run_id for r in builtin.plan().runs)
    assert custom.fingerprint() != builtin.fingerprint()
    # a spec that does not name its model is the built-in model, with the hash it had before `model` existed
    assert builtin.fingerprint() == _spec(model=Experiment.model_fields["model"].default).fingerprint()
    assert "model" not in json.dumps(builtin.model_dump(mode="json", exclude={"model"}))


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("sweep_strategies", r"model: .*not 'package.module:Class'"),
        ("no_such_module_xyz:FeeRatchet", r"model: cannot import module 'no_such_module_xyz'.*PYTHONPATH"),
        ("sweep_strategies:Nope", r"model: module 'sweep_strategies' has no 'Nope'"),
        ("sweep_strategies:NotAModel", r"model: 'sweep_strategies:NotAModel' is not a subclass of .*LiveCommerceModel"),
    ],
)
def test_a_model_that_cannot_be_used_is_refused_naming_the_field(ref, message):
    with pytest.raises(ConfigError, match=message):
        _spec(model=ref)


def test_a_spec_file_names_its_model(tmp_path):
    path = tmp_path / "ratchet.toml"
    path.write_text(f'model = "{MODEL}"\nscenario = "minimal"\ndays = 3\nconsumers = 200\nmetrics = ["gmv_rmb:sum"]\n')
    assert load_experiment(path).model == MODEL
    path.write_text(path.read_text().replace(MODEL, "sweep_strategies:NotAModel"))
    with pytest.raises(ConfigError, match=r"ratchet.toml: .*model: .*not a subclass"):
        load_experiment(path)


def test_a_worker_that_cannot_import_the_model_stops_the_sweep_naming_the_field(tmp_path):
    spec = _spec()
    plan = spec.plan()
    task = ChunkTask(str(tmp_path), 0, plan.runs[:1], "minimal", 300, 6, 3, list(spec.metrics),
                     store.schema(spec, spec.points()), plan.model_version, model=MODEL,
                     model_source_sha256=plan.model_source_sha256)  # fmt: skip
    assert run_rows(task)[0]["status"] == "ok"
    with pytest.raises(SweepError, match=r"model: cannot import module 'gone_xyz'"):
        run_rows(dataclasses.replace(task, model="gone_xyz:FeeRatchet"))
    with pytest.raises(SweepError, match=r"model: worker .* has another source of sweep_strategies:FeeRatchet"):
        run_rows(dataclasses.replace(task, model_source_sha256="0" * 64))


def test_factors_set_the_keywords_the_model_class_adds(tmp_path):
    spec = _spec(replicates=1, factors={"cap": {"path": "model.cap", "values": [0.1, 0.9]}},
                 overrides=["model.step_up=0.3"])  # fmt: skip
    run_sweep(spec, tmp_path, workers=0, progress=False)
    fees = store.results(tmp_path).sort("cap")["video_revenue_link_fees_rmb_sum"].to_list()
    # cap 0.1 is the scenario's fee: the ratchet cannot move it, and the run is the built-in model's
    builtin = _spec(replicates=1, factors={}, model="livemarket.models.market:LiveCommerceModel")
    assert fees[0] == pytest.approx(_fees(_table(LiveCommerceModel, builtin, builtin.plan().runs[0])))
    assert fees[1] > 2 * fees[0]
    assert FeeRatchet(load_scenario("minimal", consumers=300), cap=0.5).cap == 0.5
    with pytest.raises(ConfigError, match=r"model.caps: sweep_strategies:FeeRatchet takes no keyword 'caps'; "
                                          r"accepted: model.step_up, model.cap"):  # fmt: skip
        _spec(overrides=["model.caps=0.2"]).plan()
    with pytest.raises(ConfigError, match=r"LiveCommerceModel takes no keyword 'cap'; accepted: none"):
        _spec(model="livemarket.models.market:LiveCommerceModel", overrides=["model.cap=0.2"]).plan()


def test_resuming_with_an_edited_model_source_is_refused(tmp_path, monkeypatch):
    module = tmp_path / "code" / "edited_ratchet_xyz.py"
    module.parent.mkdir()
    module.write_text("from livemarket import LiveCommerceModel\n\n\nclass Edited(LiveCommerceModel):\n    pass\n")
    monkeypatch.syspath_prepend(str(module.parent))
    spec = _spec(replicates=1, factors={}, model="edited_ratchet_xyz:Edited")
    run_sweep(spec, tmp_path / "sweep", workers=0, progress=False)
    module.write_text(module.read_text() + "\n# a changed line\n")
    with pytest.raises(SweepError, match="another source of the model class edited_ratchet_xyz:Edited"):
        run_sweep(spec, tmp_path / "sweep", workers=0, progress=False)


def test_validation_replicates_of_a_users_model_run_on_the_shared_cluster_helper():
    from livemarket.validation import RunSpec, run_replicates

    flood = "sweep_strategies:AdFlood"
    specs = [RunSpec("minimal", consumers=300, days=20, history=False, seed=s, model=flood) for s in (1, 2)]
    here = run_replicates(specs)
    on_dask = run_replicates(specs, workers=1)  # a local cluster from sweeps.cluster.open_client
    assert list(here[0]) == list(on_dask[0])
    assert np.allclose([list(r.values()) for r in here], [list(r.values()) for r in on_dask], equal_nan=True)
    builtin = run_replicates([dataclasses.replace(specs[0], model="livemarket.models.market:LiveCommerceModel")])
    assert builtin[0]["market_gmv_2019_bn"] != pytest.approx(here[0]["market_gmv_2019_bn"])


def test_the_source_hash_covers_the_whole_package_of_the_model(tmp_path, monkeypatch):
    from livemarket.sweeps.modelclass import model_source_sha256

    pkg = tmp_path / "ratchet_pkg_xyz"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "helpers.py").write_text("STEP = 0.1\n")
    (pkg / "strategies.py").write_text("from livemarket import LiveCommerceModel\n\n\n"
                                       "class Ratchet(LiveCommerceModel):\n    pass\n")  # fmt: skip
    monkeypatch.syspath_prepend(str(tmp_path))
    before = model_source_sha256("ratchet_pkg_xyz.strategies:Ratchet")
    (pkg / "helpers.py").write_text("STEP = 0.2\n")  # a helper the class may use
    assert model_source_sha256("ratchet_pkg_xyz.strategies:Ratchet") != before
    assert model_source_sha256("livemarket.models.market:LiveCommerceModel") is None  # in model_version
