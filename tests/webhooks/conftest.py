# The fixtures live in shared modules for the payments and webhooks tests; pytest finds a
# fixture by its name in a conftest, hence the re-export.
from tests.support.payment_fixtures import client, kofi, settings, world
from tests.support.sandbox import live, sandbox

__all__ = ["client", "kofi", "live", "sandbox", "settings", "world"]
