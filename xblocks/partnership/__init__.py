"""The partnership's monitoring committee: skills, employers' needs, coverage and the committee's dashboard."""
