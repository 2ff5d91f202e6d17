"""Open edX plugin settings of this app: one module per settings type (``common``, ``production``…)."""
