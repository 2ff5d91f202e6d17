"""Defaults of the labs app's settings (sessions, the reaper, check runs, lab hosts), overridable in ``KAFAAT``.

The sandbox engine's own settings live beside it, in ``xblocks.labs.sandbox.conf``; both read the same
``KAFAAT`` dict late, at call time.
"""

from xblocks.core import routing
from xblocks.core.conf import AppSettings

labs_settings = AppSettings(
    {
        # A provisioning session whose last phase change is older than this is taken over by the
        # reaper (its worker died): retried up to PROVISION_MAX_ATTEMPTS, then failed with a message.
        "PROVISION_TIMEOUT": 120,
        "PROVISION_MAX_ATTEMPTS": 3,
        # A start or check run held by a worker process that died (killed, out of memory, a lost pool
        # child) is taken over within this many seconds: the start retried (or failed with a message
        # after PROVISION_MAX_ATTEMPTS), the run ended with its attempt given back. The holder renews a
        # lease of half this; the reaper (every REAP_INTERVAL, keep it under the other half) acts.
        "WORKER_LOST_TIMEOUT": 30,
        # A requested session no worker picked up within this many seconds is queued again (a message
        # lost with a dead worker process; a duplicate of one still waiting is harmless).
        "REQUEST_REQUEUE_AFTER": 20,
        # A stopping session not torn down within this many seconds is queued for teardown again.
        "STOPPING_REQUEUE_AFTER": 60,
        # Staff extensions add this many seconds by default.
        "EXTEND_SECONDS": 15 * 60,
        # The page warns the learner this many seconds before the time limit.
        "EXPIRY_WARNING": 5 * 60,
        # Check output kept on each CheckRun row (bytes of feedback per check).
        "CHECK_OUTPUT_LIMIT": 4096,
        # Intervals (seconds) of the reaper and the reconciler (Celery beat or ``kafaat_periodic``).
        "REAP_INTERVAL": 10,
        "RECONCILE_INTERVAL": 300,
        # Intervals (seconds) of the outbox's delivery job and of certification's lab-evidence healing.
        "OUTBOX_INTERVAL": 30,
        # The Celery queue outbox deliveries are sent to (certification's evaluation of a lab result
        # runs in them): one the LMS's ordinary workers consume, never a lab queue. Empty: Celery's
        # default queue, which is the LMS workers' own inside Open edX and in the demo.
        "OUTBOX_QUEUE": "",
        "LAB_HEAL_INTERVAL": 3600,
        # Lab work (starts, stops, checks, reaping, reconciling) runs only on lab hosts: processes
        # with this role (``kafaat_lab_host run`` sets it for its worker). Every other process that
        # receives a lab task sends it on to the lab queues instead of running it.
        "LAB_HOST_ROLE": False,
        # The Celery queue every lab host consumes; each host also consumes "<LAB_QUEUE>.<host>",
        # where the later operations of the sessions it runs (stop, checks, reconcile) are sent.
        "LAB_QUEUE": routing.DEFAULT_LAB_QUEUE,
        # Lab hosts register every LAB_HOST_HEARTBEAT seconds; one silent for LAB_HOST_DEAD_AFTER
        # seconds gets no new sessions.
        "LAB_HOST_HEARTBEAT": 10,
        "LAB_HOST_DEAD_AFTER": 45,
        # How many live sessions this lab host accepts (reported in its heartbeat).
        "LAB_HOST_CAPACITY": 20,
        # Where browsers reach this lab host's terminal gateway (reported in its heartbeat; the
        # terminal's TERMINAL_GATEWAY_URLS, when it names the host, wins).
        "LAB_HOST_GATEWAY_URL": "",
        # Check runs (one press of Check, run by a worker while the page polls):
        # wall time of one press's checks once a worker started them; what has not finished by then
        # does not pass and the run is reported as timed out.
        "CHECK_RUN_TIME_LIMIT": 180,
        # A press no worker started within this many seconds ends without running (attempt given back).
        "CHECK_QUEUE_TIMEOUT": 120,
        # A queued run's task is sent again after this many seconds (a message lost with the broker).
        "CHECK_REQUEUE_AFTER": 20,
        # A running run not finished CHECK_RUN_TIME_LIMIT + this many seconds after it started lost its
        # worker: the reaper ends it with a message and gives the attempt back.
        "CHECK_RUN_GRACE": 30,
        # Live labs (requested, starting or running) one learner may hold at once, across every block
        # and course; 0 means no limit.
        "MAX_LIVE_LABS_PER_LEARNER": 3,
        # OLX files or folders whose labs the staff catalogue lists when it is not asked for one course
        # of the platform; empty: the sample course of a checkout, when there is one.
        "LABS_CATALOGUE_PATHS": [],
        # The file `kafaat lab test --record FILE` keeps each lab's last harness result in; the catalogue
        # shows it. Empty: no results shown.
        "LABS_TEST_RESULTS": "",
        # The warm pool (docs/decisions/0090): sandboxes made ahead, files and setup applied, for the
        # labs learners started recently on each lab host, so that a Start takes one instead of waiting
        # for a sandbox to be made. 0 turns it off. At most this many ready per lab definition and host,
        # and no more than that lab's starts in the last WARM_POOL_DEMAND_WINDOW seconds. Labs with
        # per-learner parameters, and returning learners whose reached steps have setup scripts, are
        # never served from it (their sandbox is made for them, as without a pool).
        "WARM_POOL_SIZE": 0,
        # Pool sandboxes (made or being made) on one lab host, across every lab: each holds the memory,
        # processes and disk of its lab's limits, and counts against LAB_HOST_CAPACITY with the sessions.
        "WARM_POOL_MAX_TOTAL": 10,
        # An unclaimed pool sandbox is destroyed this many seconds after it was made (and replaced while
        # the demand lasts).
        "WARM_POOL_TTL": 15 * 60,
        # The recent demand the pool follows: starts of a lab on the host within this many seconds.
        "WARM_POOL_DEMAND_WINDOW": 30 * 60,
        # Seconds between two passes of the pool keeper on each lab host (it also runs after every claim).
        "WARM_POOL_INTERVAL": 10,
    }
)
