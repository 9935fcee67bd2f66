# A timeline needs a collection that really went through its flow: the payments
# tests' fixtures (the API in-process, the PSP sandbox over HTTP), re-exported by name.
from tests.support.payment_fixtures import client, kofi, settings, world
from tests.support.sandbox import live, sandbox

__all__ = ["client", "kofi", "live", "sandbox", "settings", "world"]
