"""Defaults of every labs setting, overridable through ``settings.KAFAAT`` or ``KAFAAT_<NAME>`` variables."""

import socket

from xblocks.core.conf import AppSettings

labs_settings = AppSettings(
    {
        # Sandbox engine
        "SANDBOX_BACKEND": "local",
        "SANDBOX_ROOT": "/var/lib/kafaat/sandboxes",
        "IMAGE_CACHE": "/var/cache/kafaat/images",
        "IMAGE_RECIPE_DIRS": [],  # extra recipe folders; the package's and course_content's are always searched
        "IMAGE_MIRROR": "",  # Debian mirror for debootstrap; empty: the one this host's apt uses
        "IMAGE_AUTO_BUILD": True,  # build a missing image on first create (slow once) instead of failing
        "LAB_HOST": socket.gethostname(),
        # Subordinate host ids the sandboxes' users map to (root -> BASE, learner -> BASE + 1000);
        # scripts/sandbox-host.sh adds the matching /etc/subuid and /etc/subgid entries.
        "SANDBOX_UID_BASE": 100000,
        "SANDBOX_UID_COUNT": 65536,
        # cgroup folder (under each v1 hierarchy, or under the v2 root) holding one cgroup per sandbox
        "SANDBOX_CGROUP_PARENT": "kafaat",
        "SANDBOX_CPU_PERIOD_US": 100000,
        # Refuse to create sandboxes while the last start-up self-test of this process failed.
        "SANDBOX_REQUIRE_SELFTEST": True,
    }
)
