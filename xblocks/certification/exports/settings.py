"""Open edX plugin settings for exports: options are read from ``KAFAAT`` (see ``.conf``)."""


def plugin_settings(settings):  # pylint: disable=unused-argument
    """Nothing to add: defaults live in ``xblocks.certification.exports.conf``."""
