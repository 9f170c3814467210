"""Results: rows of samples per server, medians, ratios, targets; rendered as Markdown and JSON."""

import json
import statistics


class Row:
    """One measured quantity. `samples[server]` holds one value per round (None = the server
    answered wrongly or failed in that round). `subject` is the server the ratios are about."""

    def __init__(self, rid, table, title, unit, higher_is_better=True, targets=(),
                 subject="regfs", note=""):
        self.id = rid
        self.table = table
        self.title = title
        self.unit = unit
        self.higher_is_better = higher_is_better
        self.targets = list(targets)  # (against, op, value); against is a server or "absolute"
        self.subject = subject
        self.note = note
        self.samples = {}
        self.p99 = {}
        self.errors = {}  # server -> message

    def add(self, server, value, p99=None, error=None):
        self.samples.setdefault(server, []).append(value)
        if p99 is not None:
            self.p99.setdefault(server, []).append(p99)
        if error:
            self.errors.setdefault(server, error)

    def median(self, server):
        vals = self.samples.get(server)
        if not vals or any(v is None for v in vals):
            return None
        return statistics.median(vals)

    def p99_median(self, server):
        vals = self.p99.get(server)
        return statistics.median(vals) if vals else None

    def ratio(self, other):
        a, b = self.median(self.subject), self.median(other)
        if a is None or b is None or b == 0:
            return None
        return a / b

    def verdicts(self):
        """[(text, True/False/None)] for each target."""
        out = []
        for against, op, value in self.targets:
            if against == "absolute":
                got = self.median(self.subject)
                text = "%s %s %s" % (op, _num(value), self.unit)
            else:
                got = self.ratio(against)
                text = "%s %s× %s" % (op, _num(value), against)
            ok = None if got is None else (got >= value if op == "≥" else got <= value)
            out.append((text, ok))
        return out

    def verdict(self):
        v = self.verdicts()
        if not v:
            return ""
        # The subject answering wrongly or not finishing fails its target.
        if any(ok is False for _, ok in v) or self.errors.get(self.subject):
            return "FAIL"
        if any(ok is None for _, ok in v):
            return "n/a"
        return "PASS"

    def to_json(self, servers):
        return {
            "id": self.id, "table": self.table, "title": self.title, "unit": self.unit,
            "higher_is_better": self.higher_is_better, "subject": self.subject,
            "samples": self.samples, "p99_ms_samples": self.p99,
            "median": {s: self.median(s) for s in servers if s in self.samples},
            "p99_ms_median": {s: self.p99_median(s) for s in servers if s in self.p99},
            "ratios": {s: self.ratio(s) for s in servers if s != self.subject and s in self.samples},
            "targets": [{"against": a, "op": op, "value": v} for a, op, v in self.targets],
            "target_results": [{"target": t, "pass": ok} for t, ok in self.verdicts()],
            "verdict": self.verdict(), "errors": self.errors, "note": self.note,
        }


def _num(x):
    if x is None:
        return "n/a"
    if abs(x) >= 1000:
        return "{:,.0f}".format(x)
    if abs(x) >= 100:
        return "%.0f" % x
    if abs(x) >= 10:
        return "%.1f" % x
    return "%.2f" % x


def _ratio(x):
    return "n/a" if x is None else (_num(x) + "×")


def _cell(row, server, unavailable):
    if server in unavailable:
        return "n/a"
    if server not in row.samples:
        return "—"
    m = row.median(server)
    if m is None:
        return "error"
    text = _num(m)
    p = row.p99_median(server)
    if p is not None:
        text += " (p99 %s ms)" % _num(p)
    return text


def markdown_table(rows, columns, ratio_columns, unavailable=()):
    """columns: [(server, header)]; ratio_columns: [(other server, header)]."""
    head = ["work", "unit"] + [h for _, h in columns] + [h for _, h in ratio_columns] + \
        ["target", "result"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r.title, r.unit] + [_cell(r, s, unavailable) for s, _ in columns]
        for other, _ in ratio_columns:
            if other in r.samples and r.subject in r.samples and r.subject not in unavailable:
                cells.append(_ratio(r.ratio(other)))
            else:
                cells.append("")
        cells.append("; ".join(t for t, _ in r.verdicts()))
        cells.append(r.verdict() if r.subject not in unavailable or not r.targets else "n/a")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write(path_md, path_json, header_lines, sections, notes, meta):
    """sections: [(title, markdown table)]."""
    md = list(header_lines)
    for title, table in sections:
        md += ["", "### " + title, "", table]
    if notes:
        md += ["", "Notes:", ""] + ["- " + n for n in notes]
    text = "\n".join(md) + "\n"
    with open(path_md, "w") as f:
        f.write(text)
    with open(path_json, "w") as f:
        json.dump(meta, f, indent=2, sort_keys=False, default=str)
        f.write("\n")
    return text
