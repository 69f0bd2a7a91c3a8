"""CSV cells that are safe to open in a spreadsheet (no Django: the analysis reports use it too).

Participants type Q3 and, through the study link, their ids; a cell such as
``=HYPERLINK("http://...", "x")`` would run as a formula when a researcher opens the file in
Excel, LibreOffice or Google Sheets. As OWASP advises for CSV injection, a text cell that starts
with one of the characters spreadsheets read as a formula gets a leading apostrophe, which
spreadsheets show as text and do not display. Text that starts with an apostrophe gets one
too, so that code reading the file can undo it exactly: drop the first character of every cell
that starts with an apostrophe.
"""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ESCAPED_STARTS = (*FORMULA_STARTS, "'")


def spreadsheet_safe(cell: object) -> object:
    """`cell`, or "'" + cell for text a spreadsheet would read as a formula or that starts with
    an apostrophe itself; numbers unchanged."""
    if isinstance(cell, str) and cell.startswith(ESCAPED_STARTS):
        return "'" + cell
    return cell
