"""JUnit XML for CI systems: one test case per check; fail and error as failures, skip as skipped, warn as passed.

Warnings are passes in JUnit (CI dashboards have no "warning" state) but carry the summary in
``system-out``; ``--strict`` turns them into failures, matching the exit code.
"""

from __future__ import annotations

__all__ = ["junit_xml", "write_junit"]

import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from pathlib import Path

from dlcheck.verdict import CheckResult


def junit_xml(command: str, checks: Sequence[CheckResult], *, strict: bool = False, suite: str | None = None) -> str:
    """Render checks as a JUnit ``<testsuites>`` document.

    Examples
    --------
    >>> from dlcheck.checks import CheckResult
    >>> xml = junit_xml("overfit", [CheckResult("overfit_batch", "fail", "Loss stayed at 2.3.", advice=["Lower lr."])])
    >>> '<failure message="Loss stayed at 2.3."' in xml
    True
    """
    failing = {"fail", "error", *(("warn",) if strict else ())}
    name = f"dlcheck.{command}" + (f".{suite}" if suite else "")
    root = ElementTree.Element("testsuites", name="dlcheck")
    suite_element = ElementTree.SubElement(
        root,
        "testsuite",
        name=name,
        tests=str(len(checks)),
        failures=str(sum(check.status in failing and check.status != "error" for check in checks)),
        errors=str(sum(check.status == "error" for check in checks)),
        skipped=str(sum(check.status == "skip" for check in checks)),
        time=f"{sum(check.seconds for check in checks):.3f}",
    )
    for check in checks:
        case = ElementTree.SubElement(
            suite_element, "testcase", classname=name, name=check.name, time=f"{check.seconds:.3f}"
        )
        body = "\n".join([check.summary, *(f"- {line}" for line in check.advice)])
        if check.status == "error":
            ElementTree.SubElement(case, "error", message=check.summary).text = body
        elif check.status in failing:
            ElementTree.SubElement(case, "failure", message=check.summary, type=check.status).text = body
        elif check.status == "skip":
            ElementTree.SubElement(case, "skipped", message=check.summary)
        else:
            ElementTree.SubElement(case, "system-out").text = f"{check.status}: {body}"
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"


def write_junit(command: str, checks: Sequence[CheckResult], path: Path, *, strict: bool = False) -> None:
    path.write_text(junit_xml(command, checks, strict=strict), encoding="utf-8")
