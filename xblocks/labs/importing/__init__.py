"""Importers: labs written for other platforms turned into ``<kafaat_lab>`` OLX, with what did not carry over named.

``killercoda`` reads Killercoda (and Katacoda) scenario folders. An importer writes OLX text only; the
result is validated by ``parse_lab`` like any authored lab, so nothing an importer emits bypasses the
format's checks. ``kafaat lab import`` (``xblocks.labs.cli``) is the door for authors.
"""
