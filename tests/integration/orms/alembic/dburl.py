"""The SQLAlchemy URL from the environment test_orms.py sets (ORM_HOST, ORM_PORT, ORM_USER,
ORM_PASSWORD, ORM_DBNAME, ORM_OPTIONS); ORM_OPTIONS is libpq's `options`, which carries
`-c shardgate.tenant=<tenant>`."""
import os

from sqlalchemy.engine import URL


def url() -> URL:
    query = {"connect_timeout": "10"}
    if os.environ.get("ORM_OPTIONS"):
        query["options"] = os.environ["ORM_OPTIONS"]
    return URL.create("postgresql+psycopg2", username=os.environ["ORM_USER"],
                      password=os.environ["ORM_PASSWORD"], host=os.environ["ORM_HOST"],
                      port=int(os.environ["ORM_PORT"]), database=os.environ["ORM_DBNAME"],
                      query=query)
