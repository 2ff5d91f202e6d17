"""Verifiable certificates: Open Badges 3.0 credentials, Data Integrity proofs, status lists, PDFs."""
