"""Tutor plugin for Kafaat: installs kafaat-xblocks, runs the lab hosts and the periodic jobs."""
