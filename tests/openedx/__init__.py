"""The Open edX conformance tier: Kafaat loaded the way the LMS and Studio load plugins, with the real libraries."""
