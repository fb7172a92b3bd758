"""An experiment is a class whose public methods are tasks: `experiment.tasks=[a, b]` runs
`a()` then `b()`. Add a task by adding a method."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from utils.config_checks import ConfigError


class BaseExperiment:
    #: public attributes that are not tasks
    not_tasks = frozenset({"run", "available_tasks", "not_tasks", "check_config", "config_schema"})

    def __init__(self, cfg: DictConfig, output_dir: Path) -> None:
        self.cfg, self.output_dir = cfg, output_dir

    @classmethod
    def available_tasks(cls) -> list[str]:
        return sorted(name for name in dir(cls) if not name.startswith("_")
                      and name not in cls.not_tasks and callable(getattr(cls, name)))

    def run(self) -> None:
        tasks = list(self.cfg.experiment.tasks)
        unknown = [t for t in tasks if t not in self.available_tasks()]
        if unknown:
            raise ConfigError(f"experiment.tasks: unknown task {unknown[0]!r}; "
                              f"allowed: {', '.join(self.available_tasks())}")
        for task in tasks:
            getattr(self, task)()
