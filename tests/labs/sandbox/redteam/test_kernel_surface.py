"""Issue 9 §5: what the kernel offers a namespaced root, probed one facility at a time in a real sandbox.

Attack: as a learner with sudo (the sandbox's root, with every capability in its user namespace),
reach each facility in ``redteam.KERNEL_SURFACE``: the mount family (binfmt_misc, proc, tmpfs,
the new mount API), nested namespaces, netlink and socket families and IP protocols, keyrings,
io_uring, bpf, perf, userfaultfd, fanotify, kcmp, pidfd_getfd, process_madvise, syslog,
personality, line disciplines and terminal injection, device nodes, /proc/sys writes, core dumps.
Containment: each is refused with the errno listed; what labs need (routes, ss, unix and IP
sockets, ping, gdb's personality) still works. Proves: one line of the filter or the mount set-up.
"""

from __future__ import annotations

import pytest

from xblocks.labs.sandbox import redteam, selftest

pytestmark = pytest.mark.sandbox


@pytest.fixture(scope="module")
def surface(local_backend):
    with selftest.context(local_backend) as ctx:
        yield redteam.surface_results(ctx)


@pytest.mark.parametrize("probe", redteam.KERNEL_SURFACE, ids=[probe.label for probe in redteam.KERNEL_SURFACE])
def test_each_facility_is_refused_or_allowed_as_intended(surface, probe):
    assert surface.get(probe.label) in probe.expect, f"{probe.label}: {surface.get(probe.label)} ({probe.why})"
