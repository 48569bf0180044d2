"""PostgreSQL guards behind the ledger's rules (no-ops on SQLite, where `make run` relies on the
application checks): entries and journals are append-only, and a journal must balance.

- `wallets_entry_balanced`: a deferred constraint trigger, run at COMMIT for every inserted
  entry: the entries of its journal sum to zero per currency (django-hordak's check_leg).
- `wallets_journal_has_legs`: a deferred constraint trigger on journals: at COMMIT a new
  journal has at least two entries (an empty journal "balances" but means a bug).
"""

from django.db import migrations

from config.migration_ops import PostgresSQL, append_only

BALANCED = """
CREATE OR REPLACE FUNCTION wallets_entry_balanced() RETURNS trigger AS $$
DECLARE
    bad record;
BEGIN
    SELECT a.currency AS currency, SUM(e.amount_kobo) AS total INTO bad
      FROM wallets_entry e JOIN wallets_ledgeraccount a ON a.id = e.account_id
     WHERE e.journal_id = NEW.journal_id
     GROUP BY a.currency
    HAVING SUM(e.amount_kobo) <> 0
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal % does not balance in %: entries sum to %', NEW.journal_id, bad.currency, bad.total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE CONSTRAINT TRIGGER wallets_entry_balanced
    AFTER INSERT ON wallets_entry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION wallets_entry_balanced();

CREATE OR REPLACE FUNCTION wallets_journal_has_legs() RETURNS trigger AS $$
BEGIN
    IF (SELECT COUNT(*) FROM wallets_entry WHERE journal_id = NEW.id) < 2 THEN
        RAISE EXCEPTION 'journal % has fewer than two entries', NEW.id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE CONSTRAINT TRIGGER wallets_journal_has_legs
    AFTER INSERT ON wallets_journal
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION wallets_journal_has_legs();
"""

BALANCED_REVERSE = """
DROP TRIGGER IF EXISTS wallets_entry_balanced ON wallets_entry;
DROP FUNCTION IF EXISTS wallets_entry_balanced();
DROP TRIGGER IF EXISTS wallets_journal_has_legs ON wallets_journal;
DROP FUNCTION IF EXISTS wallets_journal_has_legs();
"""


class Migration(migrations.Migration):
    dependencies = [("wallets", "0001_ledger")]

    operations = [
        append_only("wallets_entry"),
        append_only("wallets_journal"),
        PostgresSQL(sql=BALANCED, reverse_sql=BALANCED_REVERSE),
    ]
