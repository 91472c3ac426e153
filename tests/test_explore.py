"""The explorer: renders without a browser, and in headless Chromium responds to a slider."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import polars as pl
import pytest

os.environ.setdefault("LIVEMARKET_QUICK", "1")  # small market: the page builds in about a second

solara = pytest.importorskip("solara", reason="the explorer needs the viz extra")
import ipyvuetify as v  # noqa: E402
import ipywidgets as widgets  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(
    os.environ.get(
        "LIVEMARKET_TEST_ARTIFACTS", Path(__file__).parent.parent / "results" / "test-artifacts"
    )
)


def images(rc) -> list[bytes]:
    return [w.value for w in rc.find(widgets.Image).widgets]


def summary(rc) -> str:
    return "".join(w.unsafe_innerHTML for w in rc.find(solara.widgets.HTML).widgets)


def test_explorer_renders_and_a_strategy_change_redraws_the_plots():
    from livemarket import explore

    @solara.component
    def App():
        with solara.AppLayout():  # the sidebar (Mesa's controls and the sliders) needs a layout
            explore.Page()

    _, rc = solara.render(App(), handle_error=False)
    labels = {w.label for w in rc.find(v.Slider).widgets} | {
        w.label for w in rc.find(v.Checkbox).widgets
    }
    assert {
        "Douyin: consumer protection",
        "Douyin: ban outbound links",
        "Taobao/Tmall: accept every wallet",
    } <= labels
    before = images(rc)
    assert len(before) == 4 and all(len(b) > 5000 for b in before)  # shares, live channels, trust, graph
    html = summary(rc)
    assert "Douyin: outbound-link ban" in html and "baseline" in html  # values shown, beside the baseline's

    # ad load moves Douyin's users' minutes at once, so the main platforms in the graph change
    rc.find(v.Slider, label="Douyin: ad load").widget.v_model = 0.4
    rc.find(v.Checkbox, label="Douyin: ban outbound links").widget.v_model = True
    rc.find(v.Btn, children=["Reset"]).widget.click()
    after = images(rc)
    assert after[1] != before[1]  # the live channels: outbound links gone from this run, not from the baseline
    assert after[3] != before[3]  # the graph sample, coloured by main platform
    html = summary(rc)
    assert "<td><b>0.40</b></td><td>0.12</td>" in html  # ad load: this run, baseline
    rc.find(v.Btn, children=["Step"]).widget.click()
    assert images(rc)[0] != after[0]


def test_explorer_model_applies_the_strategies():
    from livemarket.explore import ExplorerModel

    m = ExplorerModel(
        consumers=300, warmup_days=2, link_ban=True, protection=0.9, payment_interop=True
    )
    assert m.platforms["douyin"].config.link_ban and m.platforms["douyin"].config.protection == 0.9
    assert "wechat_pay" in m.platforms["taobao"].config.accepted_wallets
    assert m.steps == 2
    base = m.baseline  # the same market with the sliders' defaults, stepped alongside
    assert not base.platforms["douyin"].config.link_ban and base.platforms["douyin"].config.protection == 0.3
    assert base.steps == 2 and base.config.seed == m.config.seed
    outbound = m.results().filter(pl.col("metric") == "outbound_link_gmv_rmb", pl.col("platform") == "douyin")
    assert outbound["value"].sum() == 0


# ------------------------------------------------------------------ real browser
@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed with apt-get when missing (CI runs as root)."""
    if not Path(CHROMIUM).exists():
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            pytest.skip(
                "chromium missing and apt-get unavailable (run as root or apt-get install chromium)"
            )
        env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env, timeout=900
        )
    return CHROMIUM


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server():
    """`livemarket explore` on a free localhost port, until the test ends."""
    port = free_port()
    log = open(
        ARTIFACTS.mkdir(parents=True, exist_ok=True) or ARTIFACTS / "explore-server.log", "w"
    )  # noqa: SIM115
    env = os.environ | {"LIVEMARKET_QUICK": "1", "PYTHONPATH": str(Path(__file__).parent.parent)}
    proc = subprocess.Popen([sys.executable, "-m", "livemarket.cli", "explore", "--port", str(port),
                             "--host", "127.0.0.1", "--no-open"],
                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"explorer server exited: {(ARTIFACTS / 'explore-server.log').read_text()[-2000:]}"
            )
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        pytest.fail("explorer server did not answer within 120 s")
    yield url
    os.killpg(proc.pid, 15)
    proc.wait(timeout=20)
    log.close()


def test_explorer_in_headless_chromium_responds_to_a_slider(chromium, server):
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="needs the playwright package (dev extra)"
    )
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=args)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.goto(server, timeout=120_000)
        plots = page.locator("img")
        plots.nth(3).wait_for(state="visible", timeout=120_000)
        page.wait_for_timeout(500)
        src_before = [plots.nth(i).get_attribute("src") for i in range(4)]
        shots_before = [plots.nth(i).screenshot() for i in range(4)]

        ban = page.locator(".v-input", has_text="Douyin: ban outbound links").locator("input[type=checkbox]")
        ban.check(force=True)  # vuetify hides the native box under its own

        thumb = page.locator(".v-input", has_text="Douyin: ad load").locator("[role=slider]").first
        value_before = thumb.get_attribute("aria-valuenow")
        thumb.focus()
        page.keyboard.press("End")  # move the slider to its maximum with the keyboard
        page.wait_for_function("([el, old]) => el.getAttribute('aria-valuenow') !== old",
                               arg=[thumb.element_handle(), value_before], timeout=20_000)  # fmt: skip
        assert float(thumb.get_attribute("aria-valuenow")) > float(value_before)
        page.get_by_role("button", name="Reset").click()
        deadline = time.time() + 120  # the plots are redrawn once the market is rebuilt
        while plots.nth(3).get_attribute("src") == src_before[3] and time.time() < deadline:
            page.wait_for_timeout(250)
        page.wait_for_timeout(500)
        shots_after = [plots.nth(i).screenshot() for i in range(4)]
        page.screenshot(path=str(ARTIFACTS / "explorer.png"), full_page=True)
        text = page.inner_text("body")
        browser.close()
    # the link ban: Douyin's outbound-link line drops to zero in this run, not in the baseline
    assert shots_after[1] != shots_before[1]
    # Douyin's users spend fewer minutes there: the graph's main-platform colours change
    assert shots_after[3] != shots_before[3]
    assert "Douyin: outbound-link ban" in text and "baseline" in text
    assert (ARTIFACTS / "explorer.png").stat().st_size > 10_000
