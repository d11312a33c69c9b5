"""The numbers behind the risk indicators, from ``TUTELA_RISK_*`` variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from ledger_client.errors import ConfigurationError

DAY = 86_400
HOUR = 3_600

# Each field's environment variable; the defaults are the dataclass's.
_VARIABLES = {
    "companion_children": "TUTELA_RISK_COMPANION_CHILDREN",
    "companion_window_days": "TUTELA_RISK_COMPANION_WINDOW_DAYS",
    "frequent_crossings": "TUTELA_RISK_FREQUENT_CROSSINGS",
    "frequent_window_days": "TUTELA_RISK_FREQUENT_WINDOW_DAYS",
    "denial_window_hours": "TUTELA_RISK_DENIAL_WINDOW_HOURS",
    "new_guardian_days": "TUTELA_RISK_NEW_GUARDIAN_DAYS",
    "guardian_families": "TUTELA_RISK_GUARDIAN_FAMILIES",
    "no_return_days": "TUTELA_RISK_NO_RETURN_DAYS",
    "interventions": "TUTELA_RISK_INTERVENTIONS",
    "intervention_window_days": "TUTELA_RISK_INTERVENTION_WINDOW_DAYS",
}


@dataclass(frozen=True)
class RiskThresholds:
    """When each indicator fires; every number is at least 1."""

    companion_children: int = 3
    companion_window_days: int = 30
    frequent_crossings: int = 6
    frequent_window_days: int = 30
    denial_window_hours: int = 12
    new_guardian_days: int = 14
    guardian_families: int = 5
    no_return_days: int = 30
    interventions: int = 3
    intervention_window_days: int = 90

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(
                    f"{_VARIABLES[item.name]} must be a whole number of at least 1"
                )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> RiskThresholds:
        """The thresholds set in ``environ``, the defaults for those not set.

        Raises:
            ConfigurationError: a value is not a whole number of at least 1.
        """
        values: dict[str, int] = {}
        for name, variable in _VARIABLES.items():
            raw = environ.get(variable, "").strip()
            if not raw:
                continue
            try:
                values[name] = int(raw)
            except ValueError:
                raise ConfigurationError(
                    f"{variable} must be a whole number of at least 1"
                ) from None
        return cls(**values)

    def fingerprint(self) -> str:
        """The ten numbers in one string: flags computed under other numbers are rebuilt."""
        return ",".join(str(getattr(self, item.name)) for item in fields(self))
