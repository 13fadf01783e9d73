-- Notices and warnings the server sends the client.
DROP TABLE IF EXISTS no_such_table_here;
CREATE TABLE IF NOT EXISTS notice_t (id int);
CREATE TABLE IF NOT EXISTS notice_t (id int);
ROLLBACK;
COMMIT;
SET client_min_messages = warning;
DROP TABLE IF EXISTS no_such_table_here;
ROLLBACK;
RESET client_min_messages;
DROP TABLE IF EXISTS no_such_table_here;
SELECT 'E''escaped'''::text AS backslash;
DROP TABLE notice_t;
