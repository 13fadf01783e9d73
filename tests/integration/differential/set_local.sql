-- env: PGOPTIONS=-c work_mem=8MB
-- SET LOCAL ends with its transaction; a rolled-back SET is undone; a committed one kept.
BEGIN;
SET LOCAL work_mem = '32MB';
SHOW work_mem;
COMMIT;
SHOW work_mem;
BEGIN;
SET work_mem = '20MB';
SHOW work_mem;
ROLLBACK;
SHOW work_mem;
BEGIN;
SET work_mem = '21MB';
COMMIT;
SHOW work_mem;
BEGIN;
SET LOCAL timezone = 'Asia/Tokyo';
SELECT '2006-08-13 12:34:56+00'::timestamptz;
COMMIT;
SELECT '2006-08-13 12:34:56+00'::timestamptz;
BEGIN;
SAVEPOINT a;
SET work_mem = '22MB';
ROLLBACK TO SAVEPOINT a;
SHOW work_mem;
COMMIT;
SHOW work_mem;
BEGIN;
SET work_mem = '23MB';
SELECT 1/0;
ROLLBACK;
SHOW work_mem;
BEGIN;
RESET work_mem;
SHOW work_mem; -- after RESET in the same transaction
COMMIT;
SHOW work_mem;
