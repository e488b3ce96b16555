"""Adoption from the console (issue 17): key `A` runs the adoption's dry run for the
other installation the dashboard names, shows it in the confirmation modal, and adopts
only on an explicit yes — the same `engine.adopt` the `adopt` command runs.

The dashboard's notice line (`notice_text`) comes from the one reader, `engine.foreign`.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from calsync_tui import clock
from calsync_tui.engine.foreign import ForeignInstallation, read_foreign_conn
from calsync_tui.screens.confirm import ConfirmScreen

# The console app (calsync_tui.app.CalsyncApp): typed loosely, screens never import app.
CalsyncApp = Any


def foreign_of(session: Session, interval_seconds: int) -> list[ForeignInstallation]:
    return read_foreign_conn(
        session.connection(), interval_seconds=interval_seconds, now=clock.now()
    )


def notice_text(found: list[ForeignInstallation], names: dict[str, str] | None = None) -> str:
    """The dashboard's notice, short: per installation what it left on which calendars
    (`names`: Google id -> the name the person knows) and what stands in the way, then the
    console's key (the dry run behind A, and `status`, have the rest)."""
    names = names or {}
    lines: list[str] = []
    for f in found:
        cals = ", ".join(sorted(names.get(c, c) for c in f.calendars))
        when = f.last_wrote.strftime("%Y-%m-%d %H:%MZ") if f.last_wrote else "unknown"
        lines.append(
            f"another installation {f.installation_id}: {f.blocks} busy blocks and "
            f"{f.stamps} stamped events on {cals}; last wrote {when}"
        )
        if f.concurrent:
            lines.append("  it wrote after this installation did: two may be running at once")
        elif f.recent:
            lines.append("  it wrote within the last sync interval: it may still be running")
        if f.unsourced_blocks:
            lines.append(f"  {f.unsourced_blocks} of its blocks have no source here")
    if lines:
        lines.append("A shows the adoption's dry run, then asks (`calsync-tui status` has more)")
    return "\n".join(lines)


def start_adoption(app: CalsyncApp) -> None:
    """Dry run in a thread, then the confirmation modal, then the adoption in a thread."""
    if not app.can_write or not app.backend.is_open:
        app.notify(app.readonly_reason or "the store is not open", severity="warning")
        return
    if app.engine_state in ("running", "previewing"):
        app.notify("a cycle is running: adopt when it is done")
        return
    app.run_worker(lambda: _preview(app), thread=True, group="adopt", exit_on_error=False)


def _preview(app: CalsyncApp) -> None:
    from calsync_tui.engine.adopt import plan_adoption

    backend = app.backend
    ctx = backend.context()
    with backend.session() as s:
        found = foreign_of(s, ctx.settings.sync_interval_seconds)
    if not found:
        app.call_from_thread(app.notify, "no other installation's blocks on your calendars")
        return
    target = found[0].installation_id
    with backend.google:
        adoption = plan_adoption(ctx, target)
    lines = adoption.lines()
    refusals = adoption.refusals()
    if refusals:
        lines.append("not adopted from the console; see `calsync-tui adopt --help` (--force)")

    def answered(yes: bool | None) -> None:
        if yes and not refusals:
            app.run_worker(
                lambda: _adopt(app, target), thread=True, group="adopt", exit_on_error=False
            )

    title = f"Adopt installation {target}?" if not refusals else "Adoption refused"
    app.call_from_thread(
        app.push_screen, ConfirmScreen(title, lines, confirm_label="Adopt"), answered
    )


def _adopt(app: CalsyncApp, target: str) -> Any:
    from calsync_tui.engine.adopt import run_adoption
    from calsync_tui.home import set_installation_id
    from calsync_tui.messages import DataChanged

    backend = app.backend
    ctx = backend.context()
    with backend.google:
        adoption = run_adoption(
            ctx, target, set_installation_id=lambda v: set_installation_id(ctx.home, v)
        )
    app.call_from_thread(app.notify, " ".join(adoption.lines()[1:2]), timeout=10)
    app.post_message(DataChanged())
    return adoption
