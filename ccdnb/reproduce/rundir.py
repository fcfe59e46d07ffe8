"""The run directory the six notebooks share: where each one reads and writes.

Each notebook reads what the previous one wrote, so any of them can be re-run
alone. The layout (see also :mod:`ccdnb.reproduce.profiles`)::

    RUN/data/train.npz, data/test.npz     01 writes; 02-05 read
    RUN/data/label_stats.json             02 writes
    RUN/model/model.keras (+ card)        04 writes; 05, 06 read
    RUN/evaluation/                       05 writes (metrics.json, predictions.npz, experiments/)
    RUN/inference/                        06 writes (the frame, its masks and catalog)
    RUN/figures/                          figures when no figures_dir is given
    RUN/notebooks/, kernels.log, timings.json   the runner writes (:mod:`.runner`)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["RunDir", "run_paths"]


@dataclass(frozen=True)
class RunDir:
    """Paths of one run directory (nothing is created until asked)."""

    root: Path
    """The run directory."""
    figures: Path
    """Where figures and reports go."""

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def train_data(self) -> Path:
        """The training set (notebook 01)."""
        return self.data / "train.npz"

    @property
    def test_data(self) -> Path:
        """The test set (notebook 01)."""
        return self.data / "test.npz"

    @property
    def label_stats(self) -> Path:
        """Class shares and weights of the training labels (notebook 02)."""
        return self.data / "label_stats.json"

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def model(self) -> Path:
        """The trained model (notebook 04), its card beside it."""
        return self.model_dir / "model.keras"

    @property
    def evaluation(self) -> Path:
        """Notebook 05's outputs."""
        return self.root / "evaluation"

    @property
    def metrics(self) -> Path:
        return self.evaluation / "metrics.json"

    @property
    def predictions(self) -> Path:
        return self.evaluation / "predictions.npz"

    @property
    def experiments(self) -> Path:
        return self.evaluation / "experiments"

    @property
    def inference(self) -> Path:
        """Notebook 06's outputs."""
        return self.root / "inference"

    def ensure(self, *folders: Path) -> None:
        """Create ``folders`` (paths of this run) and their parents."""
        for folder in folders:
            Path(folder).mkdir(parents=True, exist_ok=True)


def run_paths(run_dir, figures_dir="") -> RunDir:
    """The :class:`RunDir` of a notebook's ``run_dir`` and ``figures_dir`` parameters.

    Parameters
    ----------
    run_dir : str or Path
    figures_dir : str or Path
        Empty: ``run_dir/figures``.
    """
    root = Path(run_dir)
    return RunDir(root=root, figures=Path(figures_dir) if figures_dir else root / "figures")
