"""Open edX plugin settings for the labs app."""
