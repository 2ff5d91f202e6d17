"""Django app config for the certification app, registered as an Open edX plugin app."""

from django.apps import AppConfig

from xblocks.core.plugin import CMS, LMS, plugin_config


class CertificationConfig(AppConfig):
    name = "xblocks.certification"
    label = "kafaat_certification"
    verbose_name = "Kafaat certification"
    default_auto_field = "django.db.models.BigAutoField"

    plugin_app = plugin_config(
        "xblocks.certification",
        url_namespace="kafaat_certification",
        url_prefix="kafaat/certification/",
        url_projects=(LMS, CMS),
    )

    def ready(self):
        # Imported here: plugin apps load before settings, and receivers need the models.
        from xblocks.certification import receivers  # pylint: disable=import-outside-toplevel
        from xblocks.core import compat  # pylint: disable=import-outside-toplevel
        from xblocks.labs.signals import lab_result_recorded  # pylint: disable=import-outside-toplevel

        lab_result_recorded.connect(receivers.on_lab_result_recorded, dispatch_uid="kafaat_certification_lab_result")
        compat.connect_platform_learning_events(
            receivers.on_persistent_grade_summary_changed, receivers.on_course_passing_status_updated
        )
