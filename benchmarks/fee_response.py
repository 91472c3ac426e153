"""Douyin's outbound-link fee from 0.06 to 0.2 (issue 13's check): paired seeds, one year after the change.

Runs china-2019 at 10,000 consumers for 395 days with the fee raised on day 30 (or kept), brands
reviewing their shops monthly (brands.channel_review = 1). Prints the paired mean difference of
Douyin own-shop GMV, outbound-link GMV, Douyin shops and prices, with z = mean / standard error.
A second block turns the shop review off and passes the whole fee burden into prices, to show the
price channel alone. Usage: python benchmarks/fee_response.py [--seeds 6] [--consumers 10000]
"""

import argparse

import numpy as np
import polars as pl

from livemarket import LiveCommerceModel


def _run(seed: int, fee: float, consumers: int, mechanisms: list[str]) -> dict:
    policy = f"policies=[{{platform='douyin', step=30, set={{ext_link_fee={fee}}}}}]"
    model = LiveCommerceModel("china-2019", consumers=consumers, rng=seed, overrides=[*mechanisms, policy])
    table = model.run(395).filter(pl.col("step") >= 30)
    pick = lambda metric, channel="all": table.filter(  # noqa: E731
        pl.col("metric") == metric, pl.col("platform") == "douyin", pl.col("channel") == channel
    )["value"]
    b = model.brands
    link_sellers = b.live_value_by_source_rmb[:, model.platforms["douyin"].index] > 0
    ratio = b.price_rmb / b.base_price_rmb
    link_aov = pick("outbound_link_gmv_rmb").sum() / max(pick("outbound_link_orders").sum(), 1)
    return {
        "douyin own-shop GMV (RMB)": pick("gmv_rmb", "live_own_shop").sum(),
        "douyin outbound-link GMV (RMB)": pick("outbound_link_gmv_rmb").sum(),
        "douyin brand shops (end)": pick("brand_shops")[-1],
        "douyin outbound-link AOV (RMB)": link_aov,
        "price / base, all brands (end)": float(np.mean(ratio)),
        "price / base, brands selling in Douyin rooms (end)": float(np.mean(ratio[link_sellers])),
    }


def _block(title: str, seeds: int, consumers: int, mechanisms: list[str]) -> None:
    rows = [(_run(s, 0.06, consumers, mechanisms), _run(s, 0.2, consumers, mechanisms)) for s in range(seeds)]
    print(f"\n{title} ({seeds} paired seeds, {consumers:,} consumers, days 30-395)")
    print(f"{'measure':<52}{'fee 6%':>14}{'fee 20%':>14}{'diff':>12}{'z':>8}")
    for key in rows[0][0]:
        low = np.array([a[key] for a, _ in rows])
        high = np.array([b[key] for _, b in rows])
        d = high - low
        se = d.std(ddof=1) / np.sqrt(len(d))
        z = d.mean() / se if se > 0 else float("nan")
        print(f"{key:<52}{low.mean():>14.4g}{high.mean():>14.4g}{d.mean():>12.4g}{z:>8.1f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--consumers", type=int, default=10_000)
    a = ap.parse_args()
    _block("Shops on margins, half the fees passed into prices", a.seeds, a.consumers,
           ["brands.channel_review=1.0", "brands.price_pass_through=0.5"])  # fmt: skip
    _block("Prices only: no shop review, full pass-through", a.seeds, a.consumers, ["brands.price_pass_through=1.0"])


if __name__ == "__main__":
    main()
