# A summary counts payouts that really went through their flow: the payments
# tests' fixtures (the API in-process, the PSP sandbox over HTTP), re-exported by name.
from tests.support.payment_fixtures import client, settings, world
from tests.support.sandbox import live, sandbox

__all__ = ["client", "live", "sandbox", "settings", "world"]
