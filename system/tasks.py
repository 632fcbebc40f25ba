from celery import shared_task

from system.scheduling import scheduled_task_run


@shared_task(ignore_result=True)
def run_scheduled(name: str) -> str:
    """Every periodic task goes through here (see ``system.scheduling``)."""
    return scheduled_task_run(name)
