"""Open edX plugin settings for the terminal app: nothing beyond the labs app's."""


def plugin_settings(settings):  # pylint: disable=unused-argument
    """The terminal reads its options from ``KAFAAT`` (see ``xblocks.labs.conf``)."""
