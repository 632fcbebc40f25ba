"""Entry points of one spawned worker process of ``manage.py bench extraction``.

A spawned process imports the modules of its initialiser and task before any of its own code
runs, and the project's modules want Django set up first; so this module imports nothing from
the project at the top and hands over to ``extraction.benchmarks`` once Django is ready.
"""

import os


def setup(settings_module: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    import django

    django.setup()


def measure(planned: dict, options: dict) -> dict:
    from extraction.benchmarks import measure_case

    return measure_case(planned, options)
