"""Trigram indexes for the course list's search (q: title or description icontains), PostgreSQL only.

Django turns icontains into UPPER(column::text) LIKE UPPER('%word%'): a B-tree cannot serve a pattern with a
leading wildcard, a GIN index of the same expression's trigrams can (pg_trgm).  Not in Meta.indexes because it
exists only where pg_trgm does: SQLite, or a server without the contrib package, keeps the sequential scan
(docs/database-indexes.md, "Search").
"""
from django.db import migrations

INDEXES = {
    "course_title_trgm_idx": 'UPPER("title"::text) gin_trgm_ops',
    "course_description_trgm_idx": 'UPPER("description"::text) gin_trgm_ops',
}


def pg_trgm_available(schema_editor) -> bool:
    if schema_editor.connection.vendor != "postgresql":
        return False
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        return cursor.fetchone() is not None


def create(apps, schema_editor):
    if not pg_trgm_available(schema_editor):
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in INDEXES.items():
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON "courses_course" USING gin ({expression})')


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("courses", "0002_course_list_order_indexes")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
