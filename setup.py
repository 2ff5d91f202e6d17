"""Kafaat: Open edX XBlocks and Django apps for hands-on labs and certification tracking."""
import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read(*parts):
    with open(os.path.join(HERE, *parts), encoding="utf-8") as handle:
        return handle.read()


def requirements(name):
    lines = read("requirements", name).splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip() and not line.startswith("-")]


VERSION = re.search(r'__version__ = "([^"]+)"', read("xblocks", "__init__.py")).group(1)

setup(
    name="kafaat-xblocks",
    version=VERSION,
    description="Hands-on Linux labs and verifiable certification tracking for Open edX",
    long_description=read("README.md"),
    long_description_content_type="text/markdown",
    license="AGPL-3.0",
    python_requires=">=3.11",
    packages=find_packages(include=["xblocks", "xblocks.*"]),
    include_package_data=True,
    zip_safe=False,
    install_requires=requirements("base.txt"),
    extras_require={"test": requirements("test.txt"), "openedx": requirements("openedx.txt")},
    entry_points={
        "xblock.v1": [
            "kafaat_lab = xblocks.labs.block:LabBlock",
            "kafaat_certification = xblocks.certification.block:CertificationBlock",
        ],
        "lms.djangoapp": [
            "kafaat_labs = xblocks.labs.apps:LabsConfig",
            "kafaat_terminal = xblocks.labs.terminal.apps:TerminalConfig",
            "kafaat_certification = xblocks.certification.apps:CertificationConfig",
            "kafaat_credentials = xblocks.certification.credentials.apps:CredentialsConfig",
            "kafaat_exports = xblocks.certification.exports.apps:ExportsConfig",
            "kafaat_partnership = xblocks.partnership.apps:PartnershipConfig",
        ],
        # Studio installs every app too: models import each other across apps (a lab's terminal
        # transcripts, a certificate's credential), and a model whose app is missing has no table.
        "cms.djangoapp": [
            "kafaat_labs = xblocks.labs.apps:LabsConfig",
            "kafaat_terminal = xblocks.labs.terminal.apps:TerminalConfig",
            "kafaat_certification = xblocks.certification.apps:CertificationConfig",
            "kafaat_credentials = xblocks.certification.credentials.apps:CredentialsConfig",
            "kafaat_exports = xblocks.certification.exports.apps:ExportsConfig",
            "kafaat_partnership = xblocks.partnership.apps:PartnershipConfig",
        ],
        "console_scripts": ["kafaat = xblocks.cli:main"],
    },
    classifiers=[
        "Framework :: Django",
        "Framework :: Django :: 4.2",
        "Framework :: Django :: 5.2",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
    ],
)
