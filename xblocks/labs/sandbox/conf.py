"""Defaults of the sandbox engine's settings (backend, images, host ids, the helper, limits), overridable through
``settings.KAFAAT`` or ``KAFAAT_<NAME>`` variables; read late, at call time."""

import socket

from xblocks.core.conf import AppSettings

sandbox_settings = AppSettings(
    {
        # Sandbox engine
        "SANDBOX_BACKEND": "local",  # local, memory (tests) or a dotted path; live sandboxes keep theirs
        "SANDBOX_ROOT": "/var/lib/kafaat/sandboxes",
        "IMAGE_CACHE": "/var/cache/kafaat/images",
        "IMAGE_RECIPE_DIRS": [],  # extra recipe folders; the package's and course_content's are always searched
        "IMAGE_MIRROR": "",  # Debian archive for image builds; empty: the sources this host's apt uses
        "IMAGE_AUTO_BUILD": True,  # build a missing image on first create (slow once) instead of failing
        "LAB_HOST": socket.gethostname(),
        # Subordinate host ids: each live sandbox holds its own slot of SANDBOX_UID_COUNT ids
        # (slot n starts at BASE + n * COUNT; its root is that id, its learner that + 1000);
        # scripts/sandbox-host.sh records BASE .. BASE + (SLOTS + 1) * COUNT in /etc/subuid and /etc/subgid.
        "SANDBOX_UID_BASE": 100000,
        "SANDBOX_UID_COUNT": 65536,
        "SANDBOX_UID_SLOTS": 1024,
        "SANDBOX_UID_SLOT_DIR": "/run/kafaat/uid-slots",  # one registry per host, whatever SANDBOX_ROOT is
        # The helper that makes and enters sandboxes: built from its C source into this cache on first
        # use, or an operator's prebuilt copy (root-owned, not writable by others) when set.
        "SANDBOX_HELPER": "",
        "SANDBOX_HELPER_CACHE": "/var/cache/kafaat/helper",
        # Landlock ABI required for the learner's domain: 6 (Linux 6.12) scopes signals and abstract
        # sockets; lowering it accepts a kernel where a learner can signal a check (docs/sandbox.md).
        "SANDBOX_LANDLOCK_MIN_ABI": 6,
        # Each sandbox's own inotify limits (its user namespace's user.max_inotify_*).
        "SANDBOX_INOTIFY_INSTANCES": 128,
        "SANDBOX_INOTIFY_WATCHES": 65536,
        # cgroup folder (under each v1 hierarchy, or under the v2 root) holding one cgroup per sandbox
        "SANDBOX_CGROUP_PARENT": "kafaat",
        "SANDBOX_CPU_PERIOD_US": 100000,
        # Refuse to create sandboxes while the last start-up self-test of this process failed.
        "SANDBOX_REQUIRE_SELFTEST": True,
    }
)
