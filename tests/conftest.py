import pytest

from livemarket import LiveCommerceModel


@pytest.fixture(scope="session")
def minimal_run():
    """A 40-day run of the minimal scenario (600 consumers), shared by read-only tests."""
    model = LiveCommerceModel("minimal", consumers=600, rng=7)
    return model, model.run(40)
