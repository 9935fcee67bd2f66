# The fixtures live in one module for both payments and webhooks tests; pytest finds a
# fixture by its name in a conftest, hence the re-export.
from tests.support.payment_fixtures import client, kofi, live, sandbox, settings

__all__ = ["client", "kofi", "live", "sandbox", "settings"]
