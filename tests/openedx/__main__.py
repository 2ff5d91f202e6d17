"""``python -m tests.openedx``: the conformance tier, once as the LMS and once as Studio (one process each).

``KAFAAT_OPENEDX_RELEASE`` picks how the imitation platform writes its derived settings: ``ulmo`` (the
default, ``Derived`` objects) or ``teak`` (callables registered with ``derived()``). Extra arguments go
to pytest.
"""

import os
import platform
import subprocess
import sys

import django


def main(argv: list[str]) -> int:
    status = 0
    for project in ("lms", "cms"):
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": f"tests.openedx.envs.{project}_test"}
        release = env.setdefault("KAFAAT_OPENEDX_RELEASE", "ulmo")
        print(
            f"Open edX conformance: {project.upper()}, {release} settings, "
            f"Python {platform.python_version()}, Django {django.get_version()}",
            flush=True,
        )
        result = subprocess.run([sys.executable, "-m", "pytest", "tests/openedx", *argv], env=env, check=False)
        status = status or result.returncode
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["-q"]))
