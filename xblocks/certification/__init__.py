"""Certification tracking: schools, cohorts, tracks, evidence, certificates and their delivery."""
