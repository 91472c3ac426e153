"""A researcher's own strategy, as a spec names it: ``model = "sweep_strategies:FeeRatchet"``.

Not a test module: tests/ is on ``sys.path`` (pytest puts it there), and Dask's local
workers start with the driver's ``sys.path``, so the workers import it by the same name.
"""

from livemarket import LiveCommerceModel


class FeeRatchet(LiveCommerceModel):
    """The video platform raises its outbound-link fee by ``step_up`` every other day, up to ``cap``."""

    def __init__(self, *args, step_up: float = 0.2, cap: float = 0.9, **kwargs):
        super().__init__(*args, **kwargs)
        self.step_up, self.cap = step_up, cap

    def step(self):
        super().step()
        if self.day % 2 == 0:
            video = self.platforms["video"]
            video.apply_policy({"ext_link_fee": round(min(self.cap, video.config.ext_link_fee + self.step_up), 4)})


class AdFlood(LiveCommerceModel):
    """The video platform's ad load jumps to ``ad_load`` after the first day (feeds change at once)."""

    def __init__(self, *args, ad_load: float = 0.6, **kwargs):
        super().__init__(*args, **kwargs)
        self.flood = ad_load

    def step(self):
        super().step()
        if self.day == 1:
            self.platforms["video"].apply_policy({"ad_load": self.flood})


class NotAModel:
    """Not a LiveCommerceModel (a spec naming it is refused)."""
