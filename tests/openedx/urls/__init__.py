"""URL confs of the imitation projects: the platform's own routes Kafaat needs, then every plugin's."""
