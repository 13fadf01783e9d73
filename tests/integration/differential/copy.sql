-- COPY both ways, and a COPY that fails.
DROP TABLE IF EXISTS copy_t;
CREATE TABLE copy_t (id int PRIMARY KEY, body text);
COPY copy_t FROM stdin;
1	one
2	two
3	three
\.
COPY copy_t TO stdout;
COPY (SELECT id * 10, upper(body) FROM copy_t ORDER BY id) TO stdout WITH (FORMAT csv, HEADER);
COPY copy_t FROM stdin;
4	four
1	duplicate
\.
SELECT count(*) FROM copy_t;
BEGIN;
COPY copy_t FROM stdin WITH (FORMAT csv);
5,five
\.
SELECT count(*) FROM copy_t;
ROLLBACK;
SELECT count(*) FROM copy_t;
DROP TABLE copy_t;
