-- SQL-level prepared statements.
PREPARE q(int) AS SELECT $1 + 1 AS n;
EXECUTE q(41);
EXECUTE q(1);
BEGIN;
PREPARE r AS SELECT 'in a transaction' AS t;
EXECUTE r;
COMMIT;
DEALLOCATE q;
DEALLOCATE r;
EXECUTE q(1);
