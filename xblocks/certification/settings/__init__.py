"""Open edX plugin settings for the certification app."""
