"""The local backend: sandboxes on this machine from Linux namespaces, an overlay root and cgroups.

How one sandbox is made and entered (docs/sandbox.md has the why of each step and the threat model):

1. It takes its own slot of the subordinate id range (``ranges``), a folder under ``SANDBOX_ROOT``
   with a size- and inode-capped tmpfs for its writable layer, and its cgroups.
2. The helper (``helper.py``, ``native/kafaat-sandbox.c``) joins the cgroups, makes a user namespace
   *owned by the slot's host uid* (so per-user kernel limits are per sandbox), has host root write
   its id maps and mount the overlay over the shared image (idmapped through that namespace), and
   runs bubblewrap as the namespace's root. bwrap makes the pid, net (loopback only), mount, uts,
   ipc and cgroup namespaces, a new session, a fresh /proc and /dev, clears the environment, drops
   every capability, loads the seccomp filter and runs ``sleep infinity`` under its pid-1 reaper.
3. The helper enters that sandbox (one ``setns`` on the init's pidfd, then chroot and fork) and
   leaves in it the *spawner*: in the learner's Landlock domain, it starts every learner-side
   process (terminals, setup scripts, solves, file placement) on request over a unix socket only
   host root can reach.
4. Checks (``exec(..., check=True)``, ``read_file``) are started by the helper directly, outside
   that domain, in a cgroup of their own that is killed when they end: nothing the learner started
   can read their script, descriptors or memory, signal or trace them, and nothing they start
   outlives them. ``exec_outside`` runs a script in a fresh sandbox of the same pristine image with
   the learner's files read-only at ``/lab``, for labs where the learner is root.

No process inside a sandbox's user namespace ever executes a file or resolves a path in the host's
mount namespace. The sandbox is deliberately not tied to the process that created it: a Celery task
creates it, the terminal gateway opens shells in it, a later task destroys it, so everything needed
is in the JSON handle. ``destroy`` (or the reconciler, through ``inventory``) is what ends it.

The package's modules, in the order a sandbox meets them: ``layout`` (names and limits), ``making``
(1-2), ``entering`` (3, and the pidfd every entry starts from), ``checks`` (4), ``running`` (feeding a
process and gathering its output), ``pty`` (terminals), ``kernel`` (the raw syscalls), and
``backend``, the ``LocalBackend`` class every caller uses.
"""

from xblocks.labs.sandbox.base import Limits
from xblocks.labs.sandbox.local.backend import LocalBackend
from xblocks.labs.sandbox.local.pty import LocalPty

__all__ = ["LocalBackend", "LocalPty", "Limits"]
