# Fixtures shared by every end-to-end test: the emulator (see emulator_fixtures.py).
from tests.e2e.emulator_fixtures import emulator  # noqa: F401
