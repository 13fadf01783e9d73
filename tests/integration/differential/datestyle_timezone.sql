-- env: PGDATESTYLE=Postgres, MDY
-- env: PGTZ=America/Los_Angeles
-- env: PGGEQO=off
-- libpq sends these startup parameters in lower case (datestyle, timezone, geqo).
SHOW datestyle;
SHOW timezone;
SHOW geqo;
SELECT '2006-08-13 12:34:56'::timestamptz;
SELECT '2006-08-13'::date;
SET datestyle = 'ISO, DMY';
SELECT '2006-08-13 12:34:56'::timestamptz;
SHOW DateStyle;
RESET datestyle;
SHOW datestyle;
SELECT '2006-08-13 12:34:56'::timestamptz;
SET TIME ZONE 'Europe/Berlin';
SELECT '2006-08-13 12:34:56'::timestamptz;
RESET timezone;
SHOW timezone;
SELECT '2006-08-13 12:34:56+00'::timestamptz;
SET intervalstyle = 'sql_standard';
SELECT interval '1 day 2 hours 3 minutes';
RESET intervalstyle;
SELECT interval '1 day 2 hours 3 minutes';
SET geqo = on;
SHOW geqo;
RESET geqo;
SHOW geqo;
SET datestyle = 'German';
SELECT '2006-08-13'::date;
RESET ALL;
SHOW datestyle;
SHOW timezone;
SELECT '2006-08-13 12:34:56'::timestamptz;
