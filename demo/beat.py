"""``python -m demo.beat``: the demo's Celery beat, at most one per demo (``demo.run`` starts it).

It takes ``var/run/beat.lock`` first and exits at once (code 75) while another live beat holds it;
the lock goes with its holder's process, so a beat killed with -9 never blocks the next one. Its
schedule is ``CELERY_BEAT_SCHEDULE`` (every Kafaat periodic job) and its state file is under the
demo's var folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

LOCKED_OUT = 75  # EX_TEMPFAIL: another beat runs; try again later


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")
    import django  # pylint: disable=import-outside-toplevel

    django.setup()
    from django.conf import settings  # pylint: disable=import-outside-toplevel

    from demo import locks  # pylint: disable=import-outside-toplevel

    path = Path(settings.VAR_DIR) / "run" / "beat.lock"
    lock = locks.hold(path)
    if lock is None:
        print(
            f"Kafaat demo beat: another beat (pid {locks.holder(path) or '?'}) holds {path}; not starting a second",
            file=sys.stderr,
            flush=True,
        )
        return LOCKED_OUT
    from demo.celery import app  # pylint: disable=import-outside-toplevel

    print(
        f"Kafaat demo beat (pid {os.getpid()}): {len(app.conf.beat_schedule)} entries: "
        + ", ".join(sorted(app.conf.beat_schedule)),
        flush=True,
    )
    app.Beat(schedule=settings.CELERY_BEAT_SCHEDULE_FILENAME, loglevel="INFO").run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
