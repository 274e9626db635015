"""The monthly report (laporan bulanan); docs/REPORT.md defines every figure.

- ``figures``: the pure core: ``Month``, the plain values read from the
  database (``MonthData``), the figures (``Report``, ``build_report``) and the
  nearest-rank percentile;
- ``query``: the database edge: ``load_month`` aggregates one month in SQL;
- ``formats``: text, HTML, CSV and JSON (pure);
- ``monthly``: ``MonthlyReport``: the daemon's pass and ``report --send``,
  through the outbox.
"""
