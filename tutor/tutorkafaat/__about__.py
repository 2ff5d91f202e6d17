"""The version of tutor-contrib-kafaat; it installs the kafaat-xblocks release of the same number."""

__version__ = "0.1.0"
