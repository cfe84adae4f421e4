"""The engines the multi-machine tests rely on start, answer and keep tests apart."""

from __future__ import annotations

import socket


def test_each_test_gets_its_own_postgres_database(postgres, postgres_url):
    name = postgres_url.rsplit("/", 1)[1]
    postgres.sql("CREATE TABLE marks (n integer)", name)
    postgres.sql("INSERT INTO marks VALUES (7)", name)
    assert postgres.sql("SELECT n FROM marks", name) == "7"
    other = postgres.new_database().rsplit("/", 1)[1]
    assert postgres.sql("SELECT count(*) FROM pg_tables WHERE tablename = 'marks'", other) == "0"


def test_redis_answers_on_loopback(redis_url):
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"PING\r\n")
        assert conn.recv(16) == b"+PONG\r\n"
