"""API keys: a process trusts a looked-up key for API_KEY_CACHE_SECONDS, never a revoked one it knows."""

from __future__ import annotations

from sqlalchemy import update

from survey_service import auth
from survey_service.auth import ApiKey, create_key, revoke_key
from survey_service.db import utcnow
from survey_service.extensions import db

URL = "/api/v1/surveys"


def _key(app, scopes=("admin",)) -> tuple[int, dict]:
    with app.app_context():
        row, clear = create_key("cache", list(scopes))
        db.session.commit()
        return row.id, {"Authorization": f"Bearer {clear}"}


def _revoke_elsewhere(app, key_id: int) -> None:
    """What another process's revocation looks like to this one: the row changes, nothing else."""
    with app.app_context():
        db.session.execute(update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=utcnow()))
        db.session.commit()


def test_revocation_in_this_process_takes_effect_at_once(app, client, seeded):
    key_id, headers = _key(app)
    assert client.get(URL, headers=headers).status_code == 200
    with app.app_context():
        assert revoke_key(key_id)
        db.session.commit()
    assert client.get(URL, headers=headers).status_code == 401


def test_revocation_elsewhere_takes_effect_when_the_cache_time_passes(app, client, seeded,
                                                                       monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(auth.time, "monotonic", lambda: clock[0])
    key_id, headers = _key(app)
    assert client.get(URL, headers=headers).status_code == 200
    _revoke_elsewhere(app, key_id)
    clock[0] += app.config["API_KEY_CACHE_SECONDS"] - 1
    assert client.get(URL, headers=headers).status_code == 200  # still trusted, as documented
    clock[0] += 2
    assert client.get(URL, headers=headers).status_code == 401
    assert client.get(URL, headers=headers).status_code == 401


def test_no_cache_looks_every_key_up(app, client, seeded, monkeypatch):
    monkeypatch.setitem(app.config, "API_KEY_CACHE_SECONDS", 0)
    key_id, headers = _key(app)
    assert client.get(URL, headers=headers).status_code == 200
    _revoke_elsewhere(app, key_id)
    assert client.get(URL, headers=headers).status_code == 401


def test_unknown_keys_are_never_kept(app, client, seeded):
    before = dict(auth._live_keys)
    assert client.get(URL, headers={"Authorization": "Bearer sk_not_a_key"}).status_code == 401
    assert auth._live_keys == before
