"""partitioned search index with a stored tsvector on PostgreSQL

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 18:20:00

On PostgreSQL, ``search_entry`` becomes a hash-partitioned table (by ``id``, ``PARTITIONS``
parts) with a stored ``tsv`` column and a GIN index on it in every partition. Why, measured
with ``bench/search_scale.py`` at 4.1 million entries:

- the GIN expression index made every recheck and every ``ts_rank`` re-run ``to_tsvector``
  (~30 µs a row, 5,000 rows a query);
- a GIN index answers only with a bitmap of *every* matching row, built before any
  ``LIMIT``: 150,000 matches cost ~85 ms before the first row. Partitions are scanned one
  after another and the ranking cap (``catalog.search.CANDIDATES``) stops the scan, so a
  common word builds the bitmap of one or two partitions, not of the whole table.

- filters on the item (collection, kind, year, language, status, access) were checked by
  joining every candidate with its item; a selective filter meant tens of thousands of
  index probes. The entries now carry a copy of those item fields (``item_*``), filled by
  a trigger when an entry is written and kept current by a trigger on ``item``.

SQLite (FTS5 streams its matches; its join is cheap) is unchanged. Existing rows are copied;
at 4 million entries this takes several minutes.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

PARTITIONS = 32
COLUMNS = 'id, item_id, field, page_no, bbox, segment_id, start, "end", text, tokens, bigrams, audience'
# the item fields search filters on, copied into each entry: (item column, type)
ITEM_FIELDS = {
    "collection_id": "integer",
    "kind": "varchar(16)",
    "date": "varchar",
    "language": "varchar",
    "status": "varchar(16)",
    "access": "varchar(8)",
}
FILL = """CREATE FUNCTION search_entry_item_fields() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT {cols} INTO {into} FROM item WHERE id = NEW.item_id;
    RETURN NEW;
END $$""".format(cols=", ".join(ITEM_FIELDS), into=", ".join(f"NEW.item_{name}" for name in ITEM_FIELDS))
FOLLOW = """CREATE FUNCTION search_entry_follow_item() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE search_entry SET {sets} WHERE item_id = NEW.id;
    RETURN NULL;
END $$""".format(sets=", ".join(f"item_{name} = NEW.{name}" for name in ITEM_FIELDS))
CHANGED = " OR ".join(f"OLD.{name} IS DISTINCT FROM NEW.{name}" for name in ITEM_FIELDS)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE search_entry RENAME TO search_entry_plain")
    for name in ("search_entry_pkey", "ix_search_entry_audience", "ix_search_entry_item_id", "ix_search_tsv"):
        op.execute(f"ALTER INDEX {name} RENAME TO {name}_plain")
    op.execute(
        """CREATE TABLE search_entry (
            id integer NOT NULL DEFAULT nextval('search_entry_id_seq'),
            item_id integer NOT NULL REFERENCES item (id),
            field varchar(16) NOT NULL,
            page_no integer,
            bbox json,
            segment_id integer,
            start double precision,
            "end" double precision,
            text text NOT NULL,
            tokens text NOT NULL,
            bigrams text NOT NULL,
            audience varchar(8) NOT NULL DEFAULT 'staff',
            {copies},
            tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', tokens || ' ' || bigrams)) STORED,
            CONSTRAINT search_entry_pkey PRIMARY KEY (id)
        ) PARTITION BY HASH (id)""".format(
            copies=",\n            ".join(f"item_{name} {kind}" for name, kind in ITEM_FIELDS.items())
        )
    )
    op.execute("ALTER SEQUENCE search_entry_id_seq OWNED BY search_entry.id")
    for n in range(PARTITIONS):
        op.execute(
            f"CREATE TABLE search_entry_p{n:02d} PARTITION OF search_entry "
            f"FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {n})"
        )
    # keep a long entry's tsvector in its row (compressed) rather than out of line: a
    # candidate then costs one heap page, not a page and a TOAST lookup
    op.execute("ALTER TABLE search_entry ALTER COLUMN tsv SET STORAGE MAIN")
    op.execute(FILL)
    op.execute(
        "CREATE TRIGGER search_entry_item_fields BEFORE INSERT ON search_entry "
        "FOR EACH ROW EXECUTE FUNCTION search_entry_item_fields()"
    )
    op.execute(FOLLOW)
    op.execute(
        f"CREATE TRIGGER search_entry_follow_item AFTER UPDATE ON item "
        f"FOR EACH ROW WHEN ({CHANGED}) EXECUTE FUNCTION search_entry_follow_item()"
    )
    op.execute(f"INSERT INTO search_entry ({COLUMNS}) SELECT {COLUMNS} FROM search_entry_plain")
    op.execute("DROP TABLE search_entry_plain")
    op.execute("CREATE INDEX ix_search_entry_item_id ON search_entry (item_id)")
    op.execute("CREATE INDEX ix_search_entry_audience ON search_entry (audience)")
    op.execute("CREATE INDEX ix_search_tsv ON search_entry USING gin (tsv)")
    op.execute("ANALYZE search_entry")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER search_entry_follow_item ON item")
    op.execute("DROP FUNCTION search_entry_follow_item()")
    op.execute("DROP TRIGGER search_entry_item_fields ON search_entry")
    op.execute("DROP FUNCTION search_entry_item_fields()")
    op.execute("ALTER TABLE search_entry RENAME TO search_entry_parted")
    for name in ("search_entry_pkey", "ix_search_entry_audience", "ix_search_entry_item_id", "ix_search_tsv"):
        op.execute(f"ALTER INDEX {name} RENAME TO {name}_parted")
    op.execute(f"""CREATE TABLE search_entry AS SELECT {COLUMNS} FROM search_entry_parted""")
    op.execute("ALTER TABLE search_entry ALTER COLUMN id SET DEFAULT nextval('search_entry_id_seq')")
    for col in ("id", "item_id", "field", "text", "tokens", "bigrams", "audience"):
        op.execute(f'ALTER TABLE search_entry ALTER COLUMN "{col}" SET NOT NULL')
    op.execute("ALTER TABLE search_entry ALTER COLUMN audience SET DEFAULT 'staff'")
    op.execute("ALTER TABLE search_entry ADD CONSTRAINT search_entry_pkey PRIMARY KEY (id)")
    op.execute(
        "ALTER TABLE search_entry ADD CONSTRAINT search_entry_item_id_fkey "
        "FOREIGN KEY (item_id) REFERENCES item (id)"
    )
    op.execute("ALTER SEQUENCE search_entry_id_seq OWNED BY search_entry.id")
    op.execute("DROP TABLE search_entry_parted")
    op.execute("CREATE INDEX ix_search_entry_item_id ON search_entry (item_id)")
    op.execute("CREATE INDEX ix_search_entry_audience ON search_entry (audience)")
    op.execute(
        "CREATE INDEX ix_search_tsv ON search_entry "
        "USING gin (to_tsvector('simple', tokens || ' ' || bigrams))"
    )
