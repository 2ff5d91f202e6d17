"""Settings modules in the shape of edx-platform's ``lms/envs`` and ``cms/envs``: common, then test,
production or devstack, each calling ``add_plugins`` where the platform does."""
