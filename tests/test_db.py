import time

from service.db import Database, Feedback, LoggedQuery


def test_feedback_and_queries_round_trip_with_unicode(tmp_path):
    db = Database(tmp_path / "sub" / "s.db")
    now = time.time()
    db.add_feedback(Feedback("Pourquoi l’œil ? 😀", "doc", 3, 9, -1, now, "v1"))
    db.log_query(LoggedQuery("mollet qui tremble", True, 0.61, "doc", 1, 5, now, "v1"))
    db.log_query(LoggedQuery("mot de passe", False, None, None, None, None, now + 1, "v1"))
    assert db.feedback() == [Feedback("Pourquoi l’œil ? 😀", "doc", 3, 9, -1, now, "v1")]
    assert [q.answered for q in db.queries()] == [True, False]
    assert [q.question for q in db.queries(since=now + 0.5)] == ["mot de passe"]
    assert db._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    reopened = Database(tmp_path / "sub" / "s.db")
    assert len(reopened.queries()) == 2
