"""Optional dependency groups: the base install (`requirements.txt`) stays lean, and what only
some datasets, algorithms or tasks need installs with one file, `requirements/<group>.txt`.

A class that needs a group says so with `EXTRA = Extra("<group>", ("<module>", ...))`; the
config checks then stop a run that picks it without the package, before anything is written,
with one line that names the command which installs it."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from utils.config_checks import ConfigError

REQUIREMENTS_DIR = Path(__file__).resolve().parents[1] / "requirements"


@dataclass(frozen=True)
class Extra:
    """An optional dependency group: `requirements/<group>.txt` and the modules it provides."""

    group: str
    modules: tuple[str, ...]

    @property
    def install_command(self) -> str:
        return f"pip install -r requirements/{self.group}.txt"

    def missing(self) -> list[str]:
        """The modules of the group that cannot be imported here."""
        return [m for m in self.modules if importlib.util.find_spec(m) is None]

    def require(self, what: str) -> None:
        """Raise `ConfigError` naming `what` needs (e.g. `cluster=local`) and how to install it."""
        missing = self.missing()
        if missing:
            raise ConfigError(f"{what}: needs the package{'s' if len(missing) > 1 else ''} "
                              f"{', '.join(missing)} (the {self.group} group); install it with "
                              f"{self.install_command}")
