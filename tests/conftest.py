import os

import pytest
from hypothesis import settings

from livemarket import LiveCommerceModel

# CI explores the same examples every run (a new failure shows up locally first)
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def minimal_run():
    """A 40-day run of the minimal scenario (600 consumers), shared by read-only tests."""
    model = LiveCommerceModel("minimal", consumers=600, rng=7)
    return model, model.run(40)
