"""Database-level guards for the ledger: entries are append-only, and a transaction whose
entries do not sum to zero cannot commit (checked by a deferred trigger at commit time)."""

from django.db import migrations

PG_FORWARD = """
CREATE OR REPLACE FUNCTION ledger_entry_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'ledger entries are append-only (% refused)', TG_OP;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER ledger_entry_no_update BEFORE UPDATE OR DELETE ON escrows_ledgerentry
  FOR EACH ROW EXECUTE FUNCTION ledger_entry_append_only();
CREATE TRIGGER ledger_transaction_no_update BEFORE UPDATE OR DELETE ON escrows_ledgertransaction
  FOR EACH ROW EXECUTE FUNCTION ledger_entry_append_only();

CREATE OR REPLACE FUNCTION ledger_transaction_balanced() RETURNS trigger AS $$
DECLARE total numeric;
BEGIN
  SELECT COALESCE(SUM(amount), 0) INTO total FROM escrows_ledgerentry
    WHERE transaction_id = NEW.transaction_id;
  IF total <> 0 THEN
    RAISE EXCEPTION 'ledger transaction % does not sum to zero (%)', NEW.transaction_id, total;
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER ledger_entry_balanced AFTER INSERT ON escrows_ledgerentry
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_transaction_balanced();
"""

PG_REVERSE = """
DROP TRIGGER IF EXISTS ledger_entry_balanced ON escrows_ledgerentry;
DROP TRIGGER IF EXISTS ledger_entry_no_update ON escrows_ledgerentry;
DROP TRIGGER IF EXISTS ledger_transaction_no_update ON escrows_ledgertransaction;
DROP FUNCTION IF EXISTS ledger_transaction_balanced();
DROP FUNCTION IF EXISTS ledger_entry_append_only();
"""

SQLITE_FORWARD = [
    "CREATE TRIGGER ledger_entry_no_update BEFORE UPDATE ON escrows_ledgerentry "
    "BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;",
    "CREATE TRIGGER ledger_entry_no_delete BEFORE DELETE ON escrows_ledgerentry "
    "BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS ledger_entry_no_update;",
    "DROP TRIGGER IF EXISTS ledger_entry_no_delete;",
]


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)
    elif vendor == "sqlite":
        for sql in SQLITE_FORWARD:
            schema_editor.execute(sql)


def reverse(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_REVERSE, params=None)
    elif vendor == "sqlite":
        for sql in SQLITE_REVERSE:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("escrows", "0001_initial")]
    operations = [migrations.RunPython(forward, reverse)]
