from django.db import migrations

# The trail is append-only in the database itself: no code path, script or hand-typed SQL can
# rewrite or remove an entry. TRUNCATE is left alone: it needs the table owner, and Django's
# test database flush (between transactional tests) uses it.
APPEND_ONLY = """
CREATE OR REPLACE FUNCTION kubernaut_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % is refused on %', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER audit_auditentry_append_only BEFORE UPDATE OR DELETE ON audit_auditentry
    FOR EACH ROW EXECUTE FUNCTION kubernaut_audit_append_only();
"""

ALLOW = """
DROP TRIGGER audit_auditentry_append_only ON audit_auditentry;
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunSQL(APPEND_ONLY, reverse_sql=ALLOW)]
