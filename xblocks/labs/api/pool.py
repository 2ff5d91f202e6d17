"""The warm pool: sandboxes made ahead on each lab host for the labs learners are starting, one per Start.

A lab host's worker keeps, per lab definition learners started there recently, up to
``WARM_POOL_SIZE`` sandboxes with the lab's files, setup and first steps' setup already applied
(``fill_pool``). A Start on that host takes one (``claim``) in the web request that records it: a
compare-and-set on the entry's ``ready`` state hands it to exactly one session, which is ready at
once, with no task to wait for. The rules that keep one learner's environment from another's
(docs/decisions/0090):

- only labs whose environment is the same for every learner are pooled: a lab with ``<param>``
  values (per-learner files, setup or flags) never is, nor is the Start of a returning learner whose
  reached steps differ from a new learner's; those get a sandbox made for them, as without a pool;
- a claimed sandbox belongs to its session until it is destroyed with it: nothing ever puts it back;
- an unclaimed one is destroyed after ``WARM_POOL_TTL``; the pool on a host never holds more than
  ``WARM_POOL_MAX_TOTAL`` nor more than the host's free capacity;
- a pool sandbox no entry or live session owns (a worker that died while making it, a restart) is
  destroyed by the next pass or by the reconciler.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from django.db import IntegrityError
from django.utils import timezone

from xblocks.labs import grading, runner, tasks
from xblocks.labs.api.hosts import host_queue
from xblocks.labs.api.status import _hash, _parsed, _rendered_cached
from xblocks.labs.conf import labs_settings
from xblocks.labs.data import LIVE_STATES, SessionState
from xblocks.labs.models import LabHost, LabSession, PoolSandbox, pool_label, pool_label_prefix
from xblocks.labs.sandbox.base import SandboxError, SandboxHandle, get_backend
from xblocks.labs.sandbox.conf import sandbox_settings

log = logging.getLogger(__name__)

S = SessionState
P = PoolSandbox.State
# A pool sandbox this close to its expiry is not handed out: the keeper may be destroying it.
CLAIM_MARGIN = timedelta(seconds=30)
# After a claim, the host makes the next one this many seconds later: making a sandbox takes the CPU
# the learner's shell needs in the moment it starts (measured: the prompt came 150 ms later with an
# immediate refill on a loaded two-core host). The next Start is served by the sandboxes still ready.
REFILL_DELAY = 2.0


def pool_size() -> int:
    return max(0, int(labs_settings.WARM_POOL_SIZE or 0))


def poolable(definition) -> bool:
    """Whether a lab's environment is the same for every learner: no per-learner parameter anywhere."""
    return not definition.params


def fresh_steps(definition) -> tuple[str, ...]:
    """The steps whose setup a new learner's sandbox runs (and a pool sandbox has run)."""
    return grading.reached_steps(definition, {})


def servable(definition, progress: dict | None) -> bool:
    """Whether this Start may take a pool sandbox: pooled lab, and the learner reached what a new one has."""
    return (
        pool_size() > 0
        and poolable(definition)
        and grading.reached_steps(definition, progress or {}) == fresh_steps(definition)
    )


def _host_started(host: str) -> datetime | None:
    return LabHost.objects.filter(name=host).values_list("started_at", flat=True).first() if host else None


def claim(row: LabSession, host: str, now: datetime) -> SandboxHandle | None:
    """Inside the transaction that created ``row``: take one ready pool sandbox of its lab on ``host``.

    Returns its handle, now the session's, or None when the pool has none. The entry moves
    ready → claimed with the session recorded by one conditional UPDATE, so of two Starts racing for
    it exactly one gets it; it is never ready again.
    """
    candidates = PoolSandbox.objects.filter(
        state=P.READY, definition_hash=row.definition_hash, expires_at__gt=now + CLAIM_MARGIN
    )
    if host:
        candidates = candidates.filter(host=host)
        started = _host_started(host)
        if started is not None:  # made before the host's service (re)started: it may be gone
            candidates = candidates.filter(created__gte=started)
    for entry in candidates.order_by("created", "pk")[:5]:
        won = PoolSandbox.objects.filter(pk=entry.pk, state=P.READY, session__isnull=True).update(
            state=P.CLAIMED, session=row, claimed_at=now
        )
        if won:
            log.info("lab session %s claimed pool sandbox %s on %s", row.pk, entry.pk, entry.host or "any host")
            return SandboxHandle.from_json(entry.handle)
    return None


def want_more(host: str) -> None:
    """Ask ``host``'s worker to top its pool up (after a claim, or a Start the pool could not serve)."""
    if pool_size() > 0 and not PoolSandbox.objects.filter(host=host, state=P.CREATING).exists():
        tasks.enqueue(tasks.fill_pool, host, queue=host_queue(host), countdown=REFILL_DELAY)


def queue_fills() -> list[str]:
    """Ask every live lab host to top its pool up (the periodic job); nothing when the pool is off."""
    from xblocks.labs import hosts  # pylint: disable=import-outside-toplevel

    if pool_size() <= 0:
        return []
    targets = [(name, hosts.host_queue(name)) for name in hosts.live_host_names()] or [("", hosts.lab_queue())]
    for name, queue in targets:
        tasks.fill_pool.apply_async(args=[name] if name else [], queue=queue)
    return [queue for _name, queue in targets]


def _demand(host: str, now: datetime) -> list[tuple[str, str, int]]:
    """(definition hash, source, starts) of the pooled labs started on ``host`` recently, most started first."""
    since = now - timedelta(seconds=int(labs_settings.WARM_POOL_DEMAND_WINDOW))
    rows = LabSession.objects.filter(created__gte=since, host__in=[host, ""]).values_list("definition_hash", flat=True)
    counts = Counter(rows)
    found = []
    for digest, starts in counts.most_common():
        source = (
            LabSession.objects.filter(definition_hash=digest)
            .order_by("-pk")
            .values_list("definition", flat=True)
            .first()
        )
        if not source or _hash(source) != digest:
            continue
        try:
            definition = _parsed(digest, source)
        except ValueError:
            continue
        if poolable(definition):
            found.append((digest, source, starts))
    return found


def _destroy(handle_json: dict | None) -> None:
    if not handle_json:
        return
    handle = SandboxHandle.from_json(handle_json)
    try:
        get_backend(handle.backend).destroy(handle)
    except SandboxError:
        log.exception("pool: could not destroy %s; the next pass retries", handle.id)


def reap_pool(inventory: list[SandboxHandle] | None = None, now: datetime | None = None) -> list[str]:
    """Destroy this host's pool sandboxes nobody may use: expired, stale, or owned by no entry or live session.

    Also drops entries whose sandbox is gone. Runs in every keeper pass and in the reconciler, so a
    pool turned off, or a worker that died while making one, leaves nothing behind. Returns the ids destroyed.
    """
    now = now or timezone.now()
    host = str(sandbox_settings.LAB_HOST)
    destroyed: list[str] = []
    here = PoolSandbox.objects.filter(host__in=[host, ""])
    for entry in here.filter(state=P.READY, expires_at__lte=now):
        # Claimed in the meantime: then it is the session's, not ours to destroy.
        if PoolSandbox.objects.filter(pk=entry.pk, state=P.READY).delete()[0]:
            _destroy(entry.handle)
            destroyed.append((entry.handle or {}).get("id", ""))
    stale = now - timedelta(seconds=int(labs_settings.PROVISION_TIMEOUT))
    here.filter(state=P.CREATING, created__lt=stale).delete()
    # A claimed entry whose session has ended is only a record: its sandbox went with the session.
    here.filter(state=P.CLAIMED).exclude(session__state__in=[s.value for s in LIVE_STATES]).delete()
    backend = get_backend()
    if inventory is None:
        inventory = backend.inventory()
    prefix = pool_label_prefix()
    entries = {entry.pk: entry for entry in PoolSandbox.objects.filter(host__in=[host, ""])}
    present = set()
    for handle in inventory:
        if not handle.label.startswith(prefix) or not handle.label[len(prefix) :].isdigit():
            continue
        present.add(handle.id)
        entry = entries.get(int(handle.label[len(prefix) :]))
        keep = entry is not None and (
            entry.state == P.CREATING
            or (entry.state == P.READY and (entry.handle or {}).get("id") == handle.id)
            or (
                entry.state == P.CLAIMED
                and entry.session_id is not None
                and LabSession.objects.filter(
                    pk=entry.session_id, state__in=[s.value for s in LIVE_STATES], handle__id=handle.id
                ).exists()
            )
        )
        if not keep:
            log.warning("pool: destroying %s (%s): no pool entry or live session owns it", handle.id, handle.label)
            try:
                get_backend(handle.backend).destroy(handle)
            except SandboxError:
                log.exception("pool: could not destroy %s", handle.id)
                continue
            destroyed.append(handle.id)
    # Ready entries whose sandbox is gone (the host restarted): never hand them out.
    for entry in entries.values():
        recorded = entry.handle or {}
        if entry.state == P.READY and recorded.get("backend") == backend.name and recorded.get("id") not in present:
            PoolSandbox.objects.filter(pk=entry.pk, state=P.READY).delete()
    return destroyed


def purge_pool() -> int:
    """This host's worker starts: forget and destroy every unclaimed pool sandbox of the host (made by a
    previous run, they may be gone or half made); the keeper makes new ones. Returns how many entries."""
    host = str(sandbox_settings.LAB_HOST)
    count = 0
    for entry in PoolSandbox.objects.filter(host=host, state__in=[P.CREATING, P.READY]):
        if PoolSandbox.objects.filter(pk=entry.pk, state=entry.state).delete()[0]:
            _destroy(entry.handle)
            count += 1
    reap_pool()
    return count


def _room(host: str) -> int:
    """Pool sandboxes this host may still make: under WARM_POOL_MAX_TOTAL and its free capacity."""
    pooled = PoolSandbox.objects.filter(host=host, state__in=[P.CREATING, P.READY]).count()
    live = LabSession.objects.filter(host=host, state__in=[s.value for s in LIVE_STATES]).count()
    capacity = int(labs_settings.LAB_HOST_CAPACITY)
    return max(0, min(int(labs_settings.WARM_POOL_MAX_TOTAL) - pooled, capacity - live - pooled))


def fill_pool(now: datetime | None = None) -> list[int]:
    """Lab host side: reap, then make pool sandboxes for the labs in recent demand, one at a time.

    Per lab: up to min(WARM_POOL_SIZE, its starts in the demand window), unclaimed ones counted.
    Each entry row is written before its sandbox is made (so a concurrent pass counts it, and a
    sandbox of a worker that dies is found by its label and reaped). Returns the entries made ready.
    """
    size = pool_size()
    now = now or timezone.now()
    reap_pool(now=now)
    if size <= 0:
        return []
    host = str(sandbox_settings.LAB_HOST)
    backend = get_backend()
    made: list[int] = []
    for digest, source, starts in _demand(host, now):
        target = min(size, starts)
        while True:
            have = PoolSandbox.objects.filter(host=host, definition_hash=digest, state__in=[P.CREATING, P.READY])
            if have.count() >= target or _room(host) <= 0:
                break
            entry = _make(backend, host, digest, source)
            if entry is None:
                break
            made.append(entry)
    if made:
        log.info("pool on %s: %s sandboxes made ready (%s)", host or "this host", len(made), made)
    return made


def _make(backend, host: str, digest: str, source: str) -> int | None:
    """Make one pool sandbox of a lab: entry first, then the sandbox with files and setup, then ready."""
    now = timezone.now()
    try:
        entry = PoolSandbox.objects.create(
            host=host,
            definition_hash=digest,
            state=P.CREATING,
            expires_at=now + timedelta(seconds=int(labs_settings.WARM_POOL_TTL)),
        )
    except IntegrityError:
        return None
    lab = _rendered_cached(digest, source, "{}")
    try:
        handle = runner.provision(backend, lab, label=pool_label(entry.pk), reached=fresh_steps(lab))
    except (runner.ProvisionError, SandboxError) as error:
        log.warning("pool on %s: could not make a sandbox of %s: %s", host, digest[:8], error)
        PoolSandbox.objects.filter(pk=entry.pk, state=P.CREATING).delete()
        return None
    done = PoolSandbox.objects.filter(pk=entry.pk, state=P.CREATING).update(
        state=P.READY, handle=handle.as_json(), ready_at=timezone.now()
    )
    if not done:  # reaped meanwhile (stale, or the worker restarted): nobody may use it
        backend.destroy(handle)
        return None
    return entry.pk
