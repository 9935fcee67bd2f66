"""The process's own health: liveness, readiness (database, migrations, worker) and metrics."""
