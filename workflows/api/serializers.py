from rest_framework import serializers

from workflows.models import Workflow, WorkflowExecution, WorkflowStep, WorkflowStepExecution


class WorkflowStepSerializer(serializers.ModelSerializer):
    class Meta:
        model = WorkflowStep
        fields = [
            "step_order",
            "name",
            "step_type",
            "step_config",
            "conditions",
            "on_error",
            "max_retries",
            "retry_delay_seconds",
            "timeout_seconds",
        ]


class WorkflowSerializer(serializers.ModelSerializer):
    steps = WorkflowStepSerializer(many=True)

    class Meta:
        model = Workflow
        fields = [
            "id",
            "name",
            "description",
            "trigger_type",
            "trigger_config",
            "conditions",
            "is_active",
            "is_system",
            "total_executions",
            "successful_executions",
            "failed_executions",
            "last_executed_at",
            "steps",
        ]
        read_only_fields = [
            "id",
            "is_system",
            "total_executions",
            "successful_executions",
            "failed_executions",
            "last_executed_at",
        ]

    def validate_steps(self, steps):
        orders = [step["step_order"] for step in steps]
        if len(orders) != len(set(orders)):
            raise serializers.ValidationError("Jede Schrittnummer darf nur einmal vorkommen.")
        return steps


class WorkflowSummarySerializer(serializers.ModelSerializer):
    """What a clerk sees: the workflows they may start by hand."""

    class Meta:
        model = Workflow
        fields = ["id", "name", "description", "trigger_type"]


class StepExecutionSerializer(serializers.ModelSerializer):
    class Meta:
        model = WorkflowStepExecution
        fields = [
            "step_order",
            "visit",
            "step_name",
            "step_type",
            "status",
            "started_at",
            "completed_at",
            "duration_ms",
            "retry_count",
            "error_message",
            "output_data",
        ]


class ExecutionSerializer(serializers.ModelSerializer):
    workflow_name = serializers.CharField(source="workflow.name", read_only=True)
    steps = StepExecutionSerializer(source="step_executions", many=True, read_only=True)

    class Meta:
        model = WorkflowExecution
        fields = [
            "id",
            "workflow",
            "workflow_name",
            "document",
            "trigger_event",
            "status",
            "created_at",
            "started_at",
            "completed_at",
            "duration_ms",
            "resume_at",
            "error_message",
            "execution_log",
            "steps",
        ]


class DocumentRefSerializer(serializers.Serializer):
    document_id = serializers.UUIDField()


class DryRunEntrySerializer(serializers.Serializer):
    step = serializers.IntegerField()
    name = serializers.CharField()
    type = serializers.CharField(required=False)
    result = serializers.ChoiceField(choices=["ok", "skipped", "error"])
    detail = serializers.JSONField()
