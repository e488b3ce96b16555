"""Parallel clients (one httplib2 per thread, as the gateway does): nothing lost, counted once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from calsync_tui.sandbox.client import batch_for, service_for
from calsync_tui.sandbox.server import SandboxServer
from tests.sandbox.helpers import ALICE, list_all, setup


def test_parallel_writers_and_readers(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    sandbox.set_quota(per_user=None)

    def writer(n: int) -> int:
        svc = service_for(sandbox.url, "alice-token")
        batch = batch_for(sandbox.url)
        for i in range(20):
            body = {
                "id": f"{n:02d}{i:03d}aa",
                "start": {"date": "2026-12-01"},
                "end": {"date": "2026-12-02"},
            }
            if i % 2:
                svc.events().insert(calendarId=ALICE, body=body).execute()
            else:
                batch.add(svc.events().insert(calendarId=ALICE, body=body))
        batch.execute()
        return len(list_all(svc, ALICE, maxResults=50)[0])

    with ThreadPoolExecutor(max_workers=8) as pool:
        seen = list(pool.map(writer, range(8)))
    assert all(20 <= n <= 160 for n in seen)
    assert len(sandbox.events(s.cal)) == 160
    stats = sandbox.stats()
    assert stats["writes"] == 160 and stats["batches"] == 8
    assert stats["by_method"]["calendar.events.insert"] == 160
