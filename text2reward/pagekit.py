"""Small HTML helpers and the stylesheet of report.html (escaping, numbers, badges, code)."""

from __future__ import annotations

import html
from typing import Any


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def badge(flag: bool | None, yes: str = "yes", no: str = "no") -> str:
    if flag is None:
        return '<span class="badge">n/a</span>'
    return f'<span class="badge {"ok" if flag else "bad"}">{yes if flag else no}</span>'


def code_block(source: str) -> str:
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        return f"<pre>{esc(source)}</pre>"
    return highlight(source, PythonLexer(), HtmlFormatter(cssclass="hl"))


def pygments_css() -> str:
    try:
        from pygments.formatters import HtmlFormatter
    except ImportError:
        return ""
    return HtmlFormatter(style="default").get_style_defs(".hl")


CSS = """
:root{
    --fg:#1f2328;--muted:#656d76;--line:#d0d7de;--bg:#f6f8fa;--ok:#1a7f37;--bad:#cf222e;
    --accent:#0969da;
}
*{box-sizing:border-box}
body{
    margin:0;font:15px/1.5 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:var(--fg);
    background:#fff;
}
header{background:#0d1117;color:#f0f6fc;padding:20px 32px 12px}
header h1{margin:4px 0 10px;font-size:22px;font-weight:600}
.brand{font-size:12px;letter-spacing:.08em;text-transform:uppercase;color:#8b949e}
nav a{color:#9ecbff;margin-right:16px;font-size:13px;text-decoration:none}
nav a:hover{text-decoration:underline}
main{max-width:1180px;margin:0 auto;padding:8px 32px 32px}
section{border-bottom:1px solid var(--line);padding:12px 0 20px}
h2{font-size:19px;margin:12px 0 10px}
h3{font-size:15px;margin:18px 0 8px}
.muted{color:var(--muted);font-size:13px}
.ok{color:var(--ok)}
.bad{color:var(--bad)}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:6px 0 12px}
.card{
    border:1px solid var(--line);border-radius:8px;padding:10px 16px;min-width:140px;
    background:var(--bg);
}
.card .label{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.card .value{font-size:22px;font-weight:600}
table{border-collapse:collapse;font-size:13px}
th,td{padding:5px 10px;text-align:left;vertical-align:top}
table.grid{width:100%}
table.grid th{background:var(--bg);border-bottom:2px solid var(--line)}
table.grid td{border-bottom:1px solid var(--line)}
table.grid tr.best td{background:#fff8c5}
table.kv th{color:var(--muted);font-weight:500;padding-left:0}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:0 8px;border-radius:10px;font-size:12px;background:#eaeef2}
.badge.ok{background:#dafbe1;color:var(--ok)}
.badge.bad{background:#ffebe9;color:var(--bad)}
pre,.hl pre{
    background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:10px 12px;
    overflow-x:auto;font:12.5px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
    white-space:pre;
}
pre.cmd,pre.wrap{white-space:pre-wrap}
code{
    font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--bg);
    padding:1px 4px;border-radius:4px;
}
pre.diff span{display:block}
pre.diff .add{background:#dafbe1}
pre.diff .del{background:#ffebe9}
pre.diff .hunk{color:var(--accent)}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:16px}
figure.chart{margin:0;border:1px solid var(--line);border-radius:8px;padding:8px 10px}
figure.chart svg{width:100%;height:auto;display:block}
.legend{
    display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;color:var(--muted);padding:2px 6px;
}
.legend i{
    display:inline-block;width:14px;height:3px;margin-right:5px;vertical-align:middle;
    border-radius:2px;
}
.media{display:flex;flex-wrap:wrap;gap:16px}
.media figure{margin:0}
.media img,.media video{border:1px solid var(--line);border-radius:6px;max-width:100%}
figcaption{font-size:12px;color:var(--muted)}
details{margin:6px 0}
summary{cursor:pointer}
ul.attempts{margin:4px 0 10px}
footer{max-width:1180px;margin:0 auto;padding:12px 32px 32px;color:var(--muted);font-size:12px}
"""
