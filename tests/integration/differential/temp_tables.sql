-- Temporary tables, within and across transactions.
BEGIN;
CREATE TEMP TABLE tx (id int) ON COMMIT DROP;
INSERT INTO tx VALUES (1), (2);
SELECT count(*) FROM tx;
COMMIT;
CREATE TEMP TABLE tt (id int, body text);
INSERT INTO tt VALUES (1, 'one'), (2, 'two');
SELECT * FROM tt ORDER BY id;
DROP TABLE tt;
BEGIN;
CREATE TEMP TABLE td (id int) ON COMMIT DELETE ROWS;
INSERT INTO td VALUES (1);
SELECT count(*) FROM td;
COMMIT;
SELECT count(*) FROM td;
DROP TABLE td;
