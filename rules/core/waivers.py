"""Which findings a waiver covers. Pure: the caller says what day it is."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from rules.core.config import ConfigWaiver, glob_matches
from rules.core.model import Finding


class Waiver(Protocol):
    """Anything that can say whether it covers a finding on a given day."""

    def covers(self, finding: Finding, today: dt.date) -> bool: ...


def target_matches(target: str | None, finding: Finding) -> bool:
    """A target is `Kind/namespace/name`, `Kind/name` (cluster-scoped), a path or a path glob."""
    if target is None:
        return True
    if target == str(finding.resource):
        return True
    return target == finding.path or ("*" in target and glob_matches(finding.path, target))


@dataclass(frozen=True, slots=True)
class ConfigFileWaiver:
    """A `waive:` entry of the config file, valid through the end of its `until` day (UTC)."""

    entry: ConfigWaiver

    def covers(self, finding: Finding, today: dt.date) -> bool:
        return (
            finding.rule == self.entry.rule
            and today <= self.entry.until
            and target_matches(self.entry.target, finding)
        )

    @property
    def until(self) -> dt.date:
        return self.entry.until

    @property
    def reason(self) -> str:
        return self.entry.reason
