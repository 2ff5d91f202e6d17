"""Plain workbooks for other apps' reports, written with the exports' XLSX cell rules (``formats.write_sheets``)."""

from xblocks.certification.exports.formats import write_sheets

__all__ = ["write_sheets"]
