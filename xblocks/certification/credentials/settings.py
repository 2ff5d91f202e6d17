"""Open edX plugin settings for credentials: options are read late from ``KAFAAT`` (defaults in ``.conf``)."""


def plugin_settings(settings):  # pylint: disable=unused-argument
    """Nothing to add: defaults live in ``xblocks.certification.credentials.conf``."""
