"""Entry point of one spawned worker process of ``manage.py bench pipeline``.

A spawned process unpickles its target, and with it imports the target's module, before any
of its own code runs. The project's modules need Django's app registry at import time, which
exists only after ``django.setup()``; so this module imports nothing from the project until
it has set Django up, and then hands over to ``ocr.benchmarks.worker_main``.
"""

import os
import traceback


def run(settings_module: str, options: dict, warmup: str, jobs, start, results) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    try:
        import django

        django.setup()
        from ocr.benchmarks import worker_main
    except Exception:
        results.put({"kind": "error", "error": traceback.format_exc()})
        return
    worker_main(options, warmup, jobs, start, results)


def setup(settings_module: str) -> None:
    """Initialiser of a ``manage.py bench preprocessing`` pool process: Django first, as above."""
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    import django

    django.setup()


def measure_preprocessing(path: str, options: dict) -> dict:
    # Imported here, not at the top: this module is unpickled before ``setup`` has run.
    from ocr.benchmarks.preprocessing import measure

    return measure(path, options)
