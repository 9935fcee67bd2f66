from tests.support.tasks import nothing_left_running, settled  # noqa: F401 (fixtures for this folder)
