"""Fixtures shared by the real-process tests in this folder."""

import pytest

from tests.processes import Worker, terminate_other_sessions


@pytest.fixture
def workers():
    started: list[Worker] = []

    def start(**options) -> Worker:
        worker = Worker(**options)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()
    terminate_other_sessions()  # pool children may outlive the worker a moment; the database must drop
