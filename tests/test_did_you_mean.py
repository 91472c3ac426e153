"""A misspelt scenario, platform, field, metric or experiment: exit 2 with the closest accepted name."""

import pytest
from typer.testing import CliRunner

from livemarket.cli import app
from livemarket.suggest import did_you_mean

RUN = ["run", "--days", "2", "--consumers", "200", "--no-progress"]


def spec(tmp_path, metric: str, platform: str = "video", scenario: str = "minimal"):
    path = tmp_path / "s.toml"
    path.write_text(f'name = "s"\nscenario = "{scenario}"\ndays = 3\nconsumers = 200\n'
                    f'[[metrics]]\nmetric = "{metric}"\nplatform = "{platform}"\n')  # fmt: skip
    return str(path)


@pytest.mark.parametrize(("args", "suggestion"), [
    (["run", "minimall", "--days", "2"], "did you mean 'minimal'?"),
    ([*RUN, "minimal", "--set", "platforms.vido.link_ban=true"], "did you mean 'video'?"),
    ([*RUN, "minimal", "--set", "platforms.video.link_bann=true"], "did you mean 'link_ban'?"),
    ([*RUN, "minimal", "--set", "consumer.tier_share=[1.0]"], "did you mean 'tier_shares'?"),
    ([*RUN, "minimal", "--set", "policies=[{platform='vidoe', step=1, set={link_ban=true}}]"], "did you mean 'video'?"),
    (["sweep", "douyin-link-bann", "--quick"], "did you mean 'douyin-link-ban'?"),
])  # fmt: skip
def test_misspelt_names_on_the_command_line(args, suggestion):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert suggestion in result.output


@pytest.mark.parametrize(("metric", "platform", "scenario", "suggestion"), [
    ("gmv_rbm", "video", "minimal", "did you mean 'gmv_rmb'?"),
    ("gmv_rmb", "vidoe", "minimal", "did you mean 'video'?"),
    ("gmv_rmb", "video", "minimall", "did you mean 'minimal'?"),
])  # fmt: skip
def test_misspelt_names_in_an_experiment_spec(tmp_path, metric, platform, scenario, suggestion):
    result = CliRunner().invoke(app, ["sweep", spec(tmp_path, metric, platform, scenario), "--workers", "0"])
    assert result.exit_code == 2, result.output
    assert suggestion in result.output


def test_misspelt_metric_in_a_figure():
    from livemarket import LiveCommerceModel
    from livemarket import figures as F

    frame = LiveCommerceModel("minimal", consumers=200, rng=1).run(3)
    fig, ax = F.figure("single")
    with pytest.raises(ValueError, match="did you mean 'gmv_share'"):
        F.timeseries(frame, "gmv_shares", ax)


def test_no_suggestion_when_nothing_is_close():
    assert did_you_mean("qqqq", ["douyin", "taobao"]) == ""
    assert did_you_mean("taobo", ["douyin", "taobao"]) == "; did you mean 'taobao'?"
