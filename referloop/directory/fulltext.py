"""Full-text search over `Service.search_text` on both engines, with one results contract.

- PostgreSQL: a GIN index on `to_tsvector('english', search_text)`; a query is
  `plainto_tsquery('english', words)`.
- SQLite: an FTS5 external-content table `directory_service_fts` over the same column, kept in
  step by AFTER INSERT / UPDATE OF search_text / DELETE triggers.

The contract both answer: the service's text contains every searched word (English stemming:
"houses" finds "housing"); English stop words ("the", "and", "or" ...) are ignored. The user's
input never reaches either engine's query syntax: `search_words` keeps only runs of letters and
digits, so quotes, `*`, `NEAR(`, `AND`/`OR`, `-` and the like can never make a query fail, and
the words travel as one bound parameter.

SQLite drops a table's triggers when Django rebuilds that table (any later `AlterField` on
Service does this), so `sqlite_fts_ensure` runs after every `migrate` (see `apps.py`) and puts the
triggers back, re-indexing if they had gone.
"""

import re

from django.db import connection
from django.db.models import BooleanField, Func, Q
from django.db.models.expressions import RawSQL

FTS_TABLE = "directory_service_fts"
PG_INDEX = "directory_service_search_gin"
TRIGGERS = ("directory_service_fts_ai", "directory_service_fts_ad", "directory_service_fts_au")

# PostgreSQL's english.stop (the Snowball list), so SQLite ignores the same words.
STOP_WORDS = frozenset(
    """i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
    she her hers herself it its itself they them their theirs themselves what which who whom this
    that these those am is are was were be been being have has had having do does did doing a an
    the and but if or because as until while of at by for with about against between into through
    during before after above below to from up down in out on off over under again further then
    once here there when where why how all any both each few more most other some such no nor not
    only own same so than too very s t can will just don should now""".split()  # noqa: SIM905
)
MAX_WORDS = 16  # a search of more is refused (search._normalize): each word is a condition
_WORD = re.compile(r"[^\W_]+")

SQLITE_TABLE = """
CREATE VIRTUAL TABLE IF NOT EXISTS directory_service_fts USING fts5(
    search_text, content='directory_service', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 0'
)
"""
SQLITE_TRIGGERS = (
    """CREATE TRIGGER IF NOT EXISTS directory_service_fts_ai AFTER INSERT ON directory_service
    BEGIN
        INSERT INTO directory_service_fts(rowid, search_text) VALUES (new.id, new.search_text);
    END""",
    """CREATE TRIGGER IF NOT EXISTS directory_service_fts_ad AFTER DELETE ON directory_service
    BEGIN
        INSERT INTO directory_service_fts(directory_service_fts, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
    END""",
    """CREATE TRIGGER IF NOT EXISTS directory_service_fts_au
    AFTER UPDATE OF search_text ON directory_service
    BEGIN
        INSERT INTO directory_service_fts(directory_service_fts, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
        INSERT INTO directory_service_fts(rowid, search_text) VALUES (new.id, new.search_text);
    END""",
)
SQLITE_REBUILD = "INSERT INTO directory_service_fts(directory_service_fts) VALUES ('rebuild')"
SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS directory_service_fts_ai",
    "DROP TRIGGER IF EXISTS directory_service_fts_ad",
    "DROP TRIGGER IF EXISTS directory_service_fts_au",
    "DROP TABLE IF EXISTS directory_service_fts",
)
SQLITE_MATCH = "SELECT rowid FROM directory_service_fts WHERE directory_service_fts MATCH %s"

# The expression must be exactly the one `TextMatch` writes, or the planner ignores the index.
POSTGRES_CREATE = (
    "CREATE INDEX IF NOT EXISTS directory_service_search_gin ON directory_service "
    "USING gin (to_tsvector('english'::regconfig, search_text))"
)
POSTGRES_DROP = "DROP INDEX IF EXISTS directory_service_search_gin"


def install(schema_editor) -> None:
    """Creates the engine's full-text index (the 0003 migration)."""
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(SQLITE_TABLE)
        for statement in SQLITE_TRIGGERS:
            schema_editor.execute(statement)
        schema_editor.execute(SQLITE_REBUILD)
    elif vendor == "postgresql":
        schema_editor.execute(POSTGRES_CREATE)


def uninstall(schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)
    elif vendor == "postgresql":
        schema_editor.execute(POSTGRES_DROP)


def sqlite_fts_ensure(db_connection) -> bool:
    """Puts back the sync triggers a table rebuild dropped, and re-indexes if any were missing.

    Returns True when it had to repair. A no-op on PostgreSQL and before the index exists.
    """
    if db_connection.vendor != "sqlite":
        return False
    with db_connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE name IN (%s, %s, %s, %s)",
            [FTS_TABLE, *TRIGGERS],
        )
        present = {row[0] for row in cursor.fetchall()}
        if FTS_TABLE not in present or present >= {FTS_TABLE, *TRIGGERS}:
            return False
        for statement in SQLITE_TRIGGERS:
            cursor.execute(statement)
        cursor.execute(SQLITE_REBUILD)
    return True


def search_words(text: str | None) -> list[str]:
    """The words a text search looks for: lower-case runs of letters/digits, no stop words,
    no repeats. Anything else in the input (quotes, operators, NUL) is dropped here, so it can
    never reach a query; every word is kept, as every word must match."""
    return list(
        dict.fromkeys(
            word for word in _WORD.findall((text or "").lower()) if word not in STOP_WORDS
        )
    )


class TextMatch(Func):
    """PostgreSQL: `to_tsvector('english', col) @@ plainto_tsquery('english', words)`, written
    exactly as the GIN index's expression so the index is used."""

    output_field = BooleanField()
    arity = 2

    def as_sql(self, compiler, connection, **extra_context):
        column_sql, column_params = compiler.compile(self.source_expressions[0])
        words_sql, words_params = compiler.compile(self.source_expressions[1])
        sql = (
            f"to_tsvector('english'::regconfig, {column_sql}) "
            f"@@ plainto_tsquery('english'::regconfig, {words_sql})"
        )
        return sql, (*column_params, *words_params)


def text_filter(words: list[str]) -> Q:
    """A filter on Service for "contains every word", for the current database engine."""
    from django.db.models import F, Value

    if connection.vendor == "postgresql":
        return Q(TextMatch(F("search_text"), Value(" ".join(words))))
    if connection.vendor == "sqlite":
        # Each word quoted as an FTS5 string (the words hold no quotes: see search_words);
        # adjacent strings mean AND. The expression is a bound parameter, never spliced in.
        expression = " ".join(f'"{word}"' for word in words)
        return Q(
            pk__in=RawSQL(SQLITE_MATCH, (expression,))  # noqa: S611 (a constant, one parameter)
        )
    # Other engines: a plain (unindexed) containment test per word.
    query = Q()
    for word in words:
        query &= Q(search_text__icontains=word)
    return query
