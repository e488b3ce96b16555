"""Security: private file modes, no secret anywhere the app writes or prints, least-privilege
scopes, and busy blocks that carry nothing of the source beyond the configured title."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from calsync_tui.google.credentials import SCOPES
from calsync_tui.google.tokens import open_token_store
from calsync_tui.sandbox.demo import DEMO_ACCOUNTS
from calsync_tui.settings import save_settings
from tests.engine.world import World, iter_blocks, when
from tests.google.fake_oauth import CLIENT_SECRET, FakeOAuthServer
from tests.proof.conftest import ANN, Synced
from tests.proof.test_bad_input import _as_oauth, run_cli

REPO = Path(__file__).resolve().parents[2]
REFRESH = "refresh-token-xyz"  # what _as_oauth stores


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_home_0700_and_every_file_0600(synced: Synced, tmp_path: Path) -> None:
    home = synced.world.home
    url = synced.world.sandbox.url
    for argv in (
        ["auth", "token", "--email", "zed@example.com", "--token", "zed-static-token-1"],
        ["migrate", "discover"],
        ["migrate", "prepare"],
        ["migrate", "plan"],
        ["sync", "--once"],
    ):
        proc = run_cli(home.root, url, argv)
        assert proc.returncode in (0, 1), proc.stderr
    assert stat.S_IMODE(home.root.stat().st_mode) == 0o700
    files = _files(home.root)
    names = {p.name for p in files}
    assert {"calsync.db", "tokens.json"} <= names, names
    assert any(p.suffix == ".json" and p.parent == home.plans_dir for p in files), names
    loose = {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in files if p.stat().st_mode & 0o077}
    assert loose == {}
    dirs = [home.root, *(p for p in home.root.rglob("*") if p.is_dir())]
    assert all(stat.S_IMODE(d.stat().st_mode) & 0o077 == 0 for d in dirs)


def test_no_secret_in_outputs_files_snapshots_or_screenshots(
    synced: Synced, tmp_path: Path
) -> None:
    """An OAuth account whose access token expired: refreshed during the commands. Every
    token and the client secret must appear only in the token store."""
    w = synced.world
    oauth = FakeOAuthServer(access_tokens=lambda i: f"fresh-access-{i}-secret").start()
    try:
        _as_oauth(synced, oauth)
        oauth.refresh_tokens.add(REFRESH)
        for i in range(1, 6):
            w.sandbox.add_user(ANN, f"fresh-access-{i}-secret")
        blk = next(iter_blocks(w.sandbox.events(synced.b)))
        outputs = []
        first = run_cli(w.home.root, w.sandbox.url, ["sync", "--once"])  # refreshes the token
        outputs.append((["sync", "--once"], first.stdout + first.stderr))
        commands = [
            ["sync", "--once", "--json", "--dry-run"],
            ["status", "--json"],
            ["calendars", "list", "--json"],
            ["lineage", blk["id"], "--json"],
            ["auth", "status"],
            ["doctor"],
            ["migrate", "discover", "--json"],
            ["migrate", "status", "--json"],
            ["auth", "token", "--email", "bad@example.com", "--token", "x y"],
        ]
        with ThreadPoolExecutor(2) as pool:  # one writer (the dry run) among readers
            procs = pool.map(lambda argv: run_cli(w.home.root, w.sandbox.url, argv), commands)
            outputs += [
                (argv, p.stdout + p.stderr) for argv, p in zip(commands, procs, strict=True)
            ]
        # a refused token must not leak in the error either
        w.sandbox.world.tokens.clear()
        store = open_token_store(w.home)
        token = store.get(ANN)
        assert token is not None and token.token and token.token.startswith("fresh-access-")
        proc = run_cli(w.home.root, w.sandbox.url, ["sync", "--once"])
        assert proc.returncode == 1
        outputs.append((["sync (rejected)"], proc.stdout + proc.stderr))
    finally:
        oauth.stop()
    secrets = {
        REFRESH,
        CLIENT_SECRET,
        "expired-access-token-abc",
        *oauth.issued,
        *w.tokens.values(),
    }
    assert oauth.issued, "the expired token was never refreshed: the check would be vacuous"
    for argv, text in outputs:
        for secret in secrets:
            assert secret not in text, (argv, secret)
    token_files = {open_token_store(w.home).__dict__.get("path"), w.home.tokens_path}
    for path in _files(w.home.root):
        if path in token_files:
            continue
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, (path, secret)
    # what the console team commits: snapshots and screenshots of the demo world
    shipped = [*_files(REPO / "tests" / "tui" / "__snapshots__"), *_files(REPO / "screenshots")]
    assert shipped, "no snapshots or screenshots found"
    demo_secrets = {t for _, t in DEMO_ACCOUNTS} | {CLIENT_SECRET, "Bearer "}
    for path in shipped:
        data = path.read_bytes()
        for secret in demo_secrets:
            assert secret.encode() not in data, (path, secret)


def test_least_privilege_scopes() -> None:
    assert set(SCOPES) == {
        "https://www.googleapis.com/auth/calendar.calendarlist.readonly",
        "https://www.googleapis.com/auth/calendar.events",
    }


def test_busy_blocks_carry_no_private_detail(world: World) -> None:
    world.user(ANN)
    a = world.calendar(ANN, "Work", cal_id=ANN)
    b = world.calendar(ANN, "Personal")
    s, e = when(2, hours=11)
    world.put(
        a,
        "Salary review with Dana",
        start=s,
        end=e,
        description="Confidential: compensation numbers",
        location="Room 4.12, HQ",
        attendees=[{"email": "dana@example.com"}, {"email": ANN, "self": True}],
        conferenceData={"entryPoints": [{"entryPointType": "video", "uri": "https://meet/x"}]},
        reminders={"useDefault": False, "overrides": [{"method": "popup", "minutes": 5}]},
        colorId="5",
    )
    world.enable(a, b)
    world.sync()
    blocks = list(iter_blocks(world.sandbox.events(b)))
    assert len(blocks) == 1
    blk = blocks[0]
    assert blk["summary"] == "Busy - Salary review with Dana"
    for key in ("location", "conferenceData", "hangoutLink", "colorId"):
        assert key not in blk, key
    assert not blk.get("attendees")
    assert blk.get("description") in (None, "Busy block mirrored by calsync-tui")  # fixed text
    assert blk.get("visibility") == "private" and blk.get("transparency", "opaque") == "opaque"
    assert not (blk.get("reminders") or {}).get("overrides")  # none of the source's popups
    text = repr(blk)
    for private in ("Confidential", "Room 4.12", "dana@example.com", "meet/x"):
        assert private not in text
    # hidden titles: not even the title
    world.settings.hide_titles = True
    save_settings(world.home, world.settings)
    world.sync()
    (blk,) = list(iter_blocks(world.sandbox.events(b)))
    assert blk["summary"] == "Busy" and "Salary" not in repr(blk)
