"""The export reaches PostgreSQL through libpq, which takes the URL without SQLAlchemy's driver name."""

from sqlalchemy.engine import make_url

from popreg.registry.export import libpq_uri


def test_the_libpq_uri_drops_the_driver_and_keeps_the_password_and_parameters():
    url = make_url("postgresql+psycopg://reader:p%40ss%2Fword@db.example:6432/popreg?sslmode=require")

    assert libpq_uri(url) == "postgresql://reader:p%40ss%2Fword@db.example:6432/popreg?sslmode=require"


def test_the_libpq_uri_of_a_url_without_a_driver_name_is_the_url():
    assert libpq_uri(make_url("postgresql://postgres@127.0.0.1:5432/popreg")) == (
        "postgresql://postgres@127.0.0.1:5432/popreg"
    )
