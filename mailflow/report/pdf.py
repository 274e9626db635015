"""The monthly report's page printed to PDF, with WeasyPrint.

Why WeasyPrint rather than headless Chromium: it is a Python library (pip,
``weasyprint``), so the PDF is made in the daemon's own process (about 6 s
and 150 MB for a month of 300 complaints on the shared 2-core test machine),
with no browser binary (hundreds of MB, a
sandbox, its own updates) to install, start, time out and kill on an
office's small server. It implements CSS Paged Media (``@page`` size and
margins, page-number counters, ``page-break-inside``), which is what the page
uses; it runs no script and loads nothing from the network or the disk
(its URL fetcher allows data: URIs only; the page is self-contained
anyway). What it needs from the system is Pango (Debian: ``libpango-1.0-0``,
``libpangoft2-1.0-0``; scripts/bootstrap installs them) and a font
(``fonts-dejavu-core``).

Pure apart from the import: HTML text in, PDF bytes out. ``PdfUnavailable``
when WeasyPrint or Pango is missing: the report is then mailed without the
PDF (the HTML page prints the same) and the reason logged.
"""

from __future__ import annotations

from mailflow.errors import MailflowError


class PdfUnavailable(MailflowError):
    """WeasyPrint (or the Pango library it needs) cannot be loaded here."""


def html_to_pdf(html: str) -> bytes:
    """``html`` (one self-contained page, data: URIs allowed) as A4 PDF bytes."""
    try:
        import weasyprint
        from weasyprint.urls import URLFetcher
    except (ImportError, OSError) as exc:  # OSError: the Pango shared library is missing
        raise PdfUnavailable(f"no PDF: WeasyPrint cannot be loaded ({exc})") from None
    # Only data: URIs (the logo): nothing from the network or the file system.
    fetcher = URLFetcher(allowed_protocols={"data"})
    pdf = weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf()
    assert pdf is not None  # write_pdf() without a target returns the bytes
    return pdf
