import django.contrib.postgres.search
from django.db import migrations

# PostgreSQL only: a GIN index in Meta.indexes would emit "USING gin" on SQLite too, where the
# column simply stays empty (documents.search reads the texts there). The backfill repeats
# documents.search.search_vector_refresh() in SQL, so the migration does not depend on code
# that may change later.
CREATE_INDEX = (
    "CREATE INDEX IF NOT EXISTS document_search_vector_gin ON documents_document USING gin (search_vector)"
)
DROP_INDEX = "DROP INDEX IF EXISTS document_search_vector_gin"
BACKFILL = """
UPDATE documents_document AS d SET search_vector =
    setweight(to_tsvector('german'::regconfig, coalesce(d.title, '')), 'A')
    || setweight(to_tsvector('german'::regconfig, coalesce(
        (SELECT string_agg(f.value, ' ') FROM documents_extractedfield AS f WHERE f.document_id = d.id), '')), 'B')
    || setweight(to_tsvector('german'::regconfig, coalesce(
        (SELECT o.text FROM documents_ocrresult AS o WHERE o.document_id = d.id AND o.is_current LIMIT 1), '')), 'C')
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(BACKFILL)
    schema_editor.execute(CREATE_INDEX)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(DROP_INDEX)


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0019_result_cache"),
    ]

    operations = [
        migrations.AddField(
            model_name="document",
            name="search_vector",
            field=django.contrib.postgres.search.SearchVectorField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(forwards, backwards),
    ]
