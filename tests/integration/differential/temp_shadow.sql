-- A temporary table named like a real one hides the real table for this client only. In
-- transaction mode it must never reach another client of the tenant: the test's other client
-- reads `shadowed` (the real table: one row 'real', and a CHECK that refuses 'TEMP')
-- throughout this script and fails the test if it ever sees anything else.
SELECT body FROM shadowed /* the real table */;
CREATE TEMP TABLE shadowed (id int, body text);
INSERT INTO shadowed VALUES (1, 'TEMP');
SELECT body FROM shadowed /* the temporary table hides the real one */;
\! sleep 0.5
DROP TABLE pg_temp.shadowed;
SELECT body FROM shadowed /* the real table again */;
BEGIN;
CREATE TEMP TABLE shadowed (id int, body text) ON COMMIT DROP;
INSERT INTO shadowed VALUES (1, 'TEMP') RETURNING id;
SELECT body FROM shadowed /* ON COMMIT DROP, inside its transaction */;
COMMIT;
SELECT body FROM shadowed /* after COMMIT dropped it */;
SELECT 'TEMP' AS body INTO TEMP shadowed;
SELECT body FROM shadowed /* made by SELECT INTO TEMP */;
DISCARD TEMP;
SELECT body FROM shadowed /* after DISCARD TEMP */;
