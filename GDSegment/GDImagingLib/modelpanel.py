"""A panel section's model selector: a combo box of the models modelchoice lists (tooltip and a label with
each one's details), a Download button that fetches a registry model in a background job (progress and
cancel on the section's bar, never blocking Slicer), and the choice written to the section's model field
and kept in the settings for the next session."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import qt
from slicer.i18n import tr as _

from . import modelchoice, settings
from .jobs import startJob
from .running import JobController


class ModelSelector:
    """`onChosen(path or None)` gets the chosen model's file (None: a registry model not downloaded yet);
    `onChanged()` runs after every choice and download, for the panel to update its buttons."""

    def __init__(self, section: str, task: str, combo, infoLabel, downloadButton, progressBar, statusLabel,
                 onChosen: Callable[[Path | None], None], prepareDownload: Callable[[str], Path],
                 onChanged: Callable[[], None], log: Callable[[str], None]) -> None:
        self.section, self.task = section, task
        self.combo, self.infoLabel, self.downloadButton = combo, infoLabel, downloadButton
        self.onChosen, self.prepareDownload, self.onChanged = onChosen, prepareDownload, onChanged
        self.choices: list[modelchoice.ModelChoice] = []
        self.runner = JobController(downloadButton, progressBar, statusLabel, _("Download"),
                                    onFinished=onChanged, log=log)
        combo.connect("currentIndexChanged(int)", self._onIndexChanged)
        downloadButton.connect("clicked(bool)", lambda checked: self.onDownload())

    @property
    def current(self) -> modelchoice.ModelChoice | None:
        """The chosen model; None while the first row ("Choose a model...") is selected."""
        index = self.combo.currentIndex - 1
        return self.choices[index] if 0 <= index < len(self.choices) else None

    def refresh(self, path: Path | None = None) -> None:
        """List the models again (the cache may have changed) and select the one at `path`, else the one the
        settings remember, else the model shipped for the task (none if there is none)."""
        self.choices, problem = modelchoice.listModelsOrProblem(self.task)  # a broken registry: the files still
        selected = self._find(path) if path is not None else modelchoice.choiceForKey(
            self.choices, settings.value(f"{self.section}/model")) or modelchoice.defaultChoice(self.choices)
        if selected is not None and selected not in self.choices:
            self.choices.append(selected)  # the user's own file or bundle folder
        wasBlocked = self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItem(_("Choose a model..."))
        for i, choice in enumerate(self.choices):
            self.combo.addItem(choice.text)
            self.combo.setItemData(i + 1, modelchoice.describe(choice), qt.Qt.ToolTipRole)
        self.combo.setCurrentIndex(self.choices.index(selected) + 1 if selected is not None else 0)
        self.combo.blockSignals(wasBlocked)
        self._show(problem)
        if selected is not None:
            self._choose(selected, remember=path is None or selected.path == path)

    def showPath(self, path: Path | None) -> None:
        """Follow the section's model field when something else set it (a training, an import, the console)."""
        current = self.current
        if path is None or (current is not None and current.path == path):
            return
        self.refresh(path)

    def _find(self, path: Path) -> modelchoice.ModelChoice:
        return next((c for c in self.choices if c.path == path), None) or modelchoice.fileChoice(path)

    def _onIndexChanged(self, index: int) -> None:
        self._choose(self.current, remember=True)
        self._show()
        self.onChanged()

    def _choose(self, choice: modelchoice.ModelChoice | None, remember: bool) -> None:
        if choice is None:
            return
        if remember:
            settings.setValue(f"{self.section}/model", choice.key)
        self.onChosen(choice.path)

    def _show(self, problem: str = "") -> None:
        choice = self.current
        text = modelchoice.describe(choice) if choice is not None else _(
            "Choose a model above, import your own file, or train one (Segment section).") if self.choices else _(
            "No model yet: import your own file or train one (Segment section).")
        self.infoLabel.setText("\n".join(filter(None, [problem, text])))
        self.combo.setToolTip(text)
        self.downloadButton.setVisible(self.runner.running or bool(choice and choice.needsDownload))

    def onDownload(self) -> None:
        """Download the chosen registry model in a background job; pressed again, cancel it."""
        if self.runner.running:
            self.runner.cancel()
            return
        choice = self.current
        if choice is None or not choice.needsDownload:
            return
        spec = self.prepareDownload(choice.name)
        self.runner.start(startJob(spec), lambda result: self._downloaded(choice, result),
                          lock=[self.combo])

    def _downloaded(self, choice: modelchoice.ModelChoice, result: dict) -> str:
        path = Path(result["summary"]["model"])
        self.refresh(path)
        return _("{name} is in the model cache.").format(name=choice.name)


def chooseBundleFolder(parent) -> Path | None:
    """A MONAI bundle folder (with configs/) the user picks, remembering where; None if cancelled or not one."""
    import slicer
    folder = qt.QFileDialog.getExistingDirectory(parent, _("Choose a MONAI bundle folder"),
                                                 settings.value("folders/models"))
    if not folder:
        return None
    settings.setValue("folders/models", str(Path(folder).parent))
    if not (Path(folder) / "configs").is_dir():
        slicer.util.errorDisplay(_("{folder} is not a MONAI bundle: it has no configs folder.").format(folder=folder))
        return None
    return Path(folder)
