"""Entry point for running the API under an external server
(``uvicorn --factory sika.asgi:create``), e.g. with several worker
processes. Needs ``DATABASE_URL``: processes must not each start a database."""

from __future__ import annotations

import os

from fastapi import FastAPI

from sika import worker
from sika.app import create_app
from sika.core import logging as sika_logging
from sika.core import serving
from sika.core.config import get_settings


def create() -> FastAPI:
    settings = get_settings()
    database_url = settings.DATABASE_URL or os.environ.get("DATABASE_URL")
    if not database_url:
        raise SystemExit("Set DATABASE_URL to run the API under an external server.")
    sika_logging.configure()
    worker.build(database_url)
    app = create_app(settings, database_url=database_url)
    serving.tune_garbage_collection()
    return app
