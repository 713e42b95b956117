"""Compact HTML for Jupyter: what ``_repr_html_`` of a validation report, an import result
and an open cc5 file shows (summary, counts by code, the first findings).

Plain functions over duck-typed objects, so the engine and the client keep
one-line ``_repr_html_`` methods and no layer imports another for it.

    >>> class R:  # anything with a report's attributes
    ...     path, ok, importable, data_rows, delete_rows, rejected_rows = "c.cc5txt", True, True, 3, 0, 0
    ...     counts = {}
    ...     def iter_findings(self, limit=None): return []
    >>> "is valid" in report_html(R())
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from pathlib import Path
from typing import Any

__all__ = ["report_html", "result_html", "cc5_html", "FIRST_FINDINGS"]

#: How many findings the HTML lists (the counts cover all of them).
FIRST_FINDINGS = 10
_STYLE = ("font-family:system-ui,sans-serif;font-size:13px;line-height:1.4;max-width:980px;"
          "border:1px solid #d0d7de;border-radius:6px;padding:8px 12px")
_COLORS = {"ok": "#2e9e5b", "warn": "#f0a030", "bad": "#d64545", "info": "#3b82f6"}


def _badge(text: str, tone: str) -> str:
    return (f'<span style="background:{_COLORS[tone]};color:white;border-radius:4px;padding:1px 6px;'
            f'font-weight:600">{escape(text)}</span>')


def _table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    head = "".join(f'<th style="text-align:left;padding:2px 8px">{escape(str(h))}</th>' for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td style="padding:2px 8px;vertical-align:top">{_cell(v)}</td>' for v in row) + "</tr>"
        for row in rows
    )
    return f'<table style="border-collapse:collapse;margin:6px 0"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    return escape(text if len(text) <= 120 else text[:119] + "…")


def _counts_html(counts: Mapping[str, int]) -> str:
    if not counts:
        return ""
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return "<div><b>Findings by code</b></div>" + _table(["code", "findings"], ((c, f"{n:,}") for c, n in rows))


def _findings_html(findings: list[Mapping[str, Any]], total: int) -> str:
    if not findings:
        return ""
    more = f" (first {len(findings):,} of {total:,})" if total > len(findings) else ""
    columns = ["line", "code", "field", "value", "message"]
    return (f"<div><b>Findings</b>{more}</div>"
            + _table(columns, ([f.get(c) for c in columns] for f in findings)))


def report_html(report: Any, *, first: int = FIRST_FINDINGS) -> str:
    """A ``ValidationReport`` as HTML: verdict, row counts, counts by code, the first findings."""
    name = Path(str(getattr(report, "path", "") or "file")).name
    if report.ok:
        verdict, tone = "is valid", "ok"
    elif report.importable:
        verdict, tone = f"can be imported; {report.rejected_rows:,} rows will be rejected", "warn"
    else:
        verdict, tone = "cannot be imported: file-level errors", "bad"
    counts = dict(getattr(report, "counts", {}) or {})
    findings = [f.to_dict() if hasattr(f, "to_dict") else dict(f) for f in report.iter_findings(limit=first)]
    label = {"ok": "VALID", "warn": "ROWS REJECTED", "bad": "NOT IMPORTABLE"}[tone]
    return (
        f'<div style="{_STYLE}"><div>{_badge(label, tone)} <b>{escape(name)}</b> {escape(verdict)}</div>'
        f"<div>{report.data_rows:,} data rows · {report.delete_rows:,} delete rows · "
        f"{report.rejected_rows:,} rejected</div>"
        + _counts_html(counts) + _findings_html(findings, sum(counts.values())) + "</div>"
    )


def result_html(result: Any, *, first: int = FIRST_FINDINGS) -> str:
    """An ``ImportResult`` as HTML: status, counts, failure code, timings, and the local validation."""
    record = result.record
    tone = {"FINISHED": "warn" if record.failure_count else "ok", "FAILED": "bad"}.get(record.status, "info")
    parts = [
        f'<div style="{_STYLE}"><div>{_badge(record.status, tone)} <b>{escape(record.file_name or record.file_id)}</b>'
        f" · file <code>{escape(record.file_id)}</code></div>",
        f"<div>{escape(result.summary())}</div>",
        _table(["rows applied", "rows not applied", "failure code", "processing"],
               [[f"{record.successful_count:,}", f"{record.failure_count:,}",
                 getattr(record, "failure_detail", None) or record.failure_code or "—",
                 "—" if result.processing_seconds is None else f"{result.processing_seconds:.2f} s"]]),
    ]
    validation = getattr(result, "validation", None) or {}
    if validation:
        counts = dict(validation.get("counts") or {})
        parts.append(f"<div><b>Local validation</b>: {escape(str(validation.get('summary', '')))}</div>")
        parts.append(_counts_html(counts))
        parts.append(_findings_html(list(validation.get("findings") or [])[:first], sum(counts.values())))
    return "".join(parts) + "</div>"


def cc5_html(cc5: Any, *, rows: int = 5) -> str:
    """An open cc5 file as HTML: its header (entity, workspace, keys, typed fields) and its first rows."""
    header = cc5.header
    name = Path(str(cc5.path)).name
    fields = ", ".join(f"{escape(f.code)}:<i>{escape(f.type)}</i>" for f in header.fields)
    try:
        first = cc5.head(rows, lines=True)
        table = _table(list(first.columns), first.itertuples(index=False))
    except Exception as exc:  # noqa: BLE001 - the header is still worth showing
        table = f"<div>(no rows: {escape(str(exc))})</div>"
    return (
        f'<div style="{_STYLE}"><div>{_badge("cc5", "info")} <b>{escape(name)}</b></div>'
        f"<div>entity <code>{escape(header.entity_type or '—')}</code> · workspace "
        f"<code>{escape(header.workspace_id or '—')}</code> · keys <code>{escape(', '.join(header.keys) or '—')}</code></div>"
        f"<div>fields: {fields}</div><div><b>First {rows} rows</b></div>{table}"
        "<div style=\"color:#57606a\">Call <code>.validate()</code> for the findings.</div></div>"
    )
