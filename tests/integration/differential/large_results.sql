-- Large results: many rows, a wide row, a long aggregate.
SELECT count(*), sum(g) FROM generate_series(1, 200000) g;
SELECT g, repeat('x', 60) AS pad FROM generate_series(1, 3000) g;
SELECT length(repeat('y', 3000000)) AS len;
SELECT md5(repeat('z', 200000)) AS digest, repeat('w', 100000) AS wide;
SELECT string_agg(g::text, ',') FROM generate_series(1, 20000) g;
