"""Record the engine's daily metrics on frozen configurations (run only for an intended change).

The regression test ``tests/test_baseline.py`` checks that optimisations leave these numbers
unchanged. Re-record only when the model's behaviour is meant to change, and say why in
``tests/data/BASELINE.md``.

Usage: python tests/data/make_baseline.py [--refreeze]
(``--refreeze`` also rewrites the frozen configurations from today's scenarios and defaults.)
"""

import json
import sys
from pathlib import Path

from livemarket import LiveCommerceModel, load_scenario

HERE = Path(__file__).resolve().parent
CASES = {
    "minimal": dict(source="minimal", consumers=600, days=40, seed=7,
                    overrides=["platforms.mall.traffic_bought={video=0.2}", "streamers.scandal_hazard_per_day=0.01"]),
    "china": dict(source="china-2019", consumers=3000, days=45, seed=3,
                  overrides=["policies=[{platform='douyin', step=20, set={link_ban=true}}]"]),
}  # fmt: skip


def frozen_config(name: str):
    """The fully expanded configuration of a baseline case (defaults included)."""
    from livemarket.config import ScenarioConfig

    return ScenarioConfig.model_validate(json.loads((HERE / f"baseline_{name}.json").read_text()))


def main() -> None:
    for name, case in CASES.items():
        frozen = HERE / f"baseline_{name}.json"
        if "--refreeze" in sys.argv or not frozen.exists():
            cfg = load_scenario(case["source"], case["overrides"], consumers=case["consumers"], seed=case["seed"])
            frozen.write_text(json.dumps(cfg.model_dump(mode="json"), indent=1))
        table = LiveCommerceModel(frozen_config(name)).run(case["days"])
        table.drop("run_id", "value_scaled").write_csv(HERE / f"baseline_{name}.csv")
        print(name, table.shape)


if __name__ == "__main__":
    main()
