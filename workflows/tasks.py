from celery import shared_task

from workflows import engine


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_execution(execution_id: str) -> None:
    """Run or resume one workflow execution (idempotent: see ``engine.execution_run``)."""
    engine.execution_run(execution_id)


@shared_task(ignore_result=True)
def resume_due_executions() -> int:
    """Periodic (celery beat): waits that are due, runs whose worker died, lost messages."""
    return engine.executions_resume_due()


@shared_task(ignore_result=True)
def run_scheduled_workflow(workflow_id: str) -> None:
    """Started by the workflow's own django-celery-beat entry (trigger ``schedule``)."""
    from workflows.services import workflow_run_scheduled

    workflow_run_scheduled(workflow_id=workflow_id)
