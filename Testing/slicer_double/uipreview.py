"""Load the modules' Designer files with real Qt (PySide6) and render panel previews offscreen.

CTK and qMRML widgets exist only inside Slicer; for a preview they become their nearest Qt classes
(collapsible sections -> group boxes, node selectors -> combo boxes showing the node type, path
editors -> line edits). Regenerate the README images with:

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m slicer_double.uipreview docs/images   (from Testing/)
"""
from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UI_FILES = sorted(ROOT.glob("GD*/Resources/UI/*.ui"))

# Slicer class -> (Qt class, {Slicer property: Qt property or None to drop})
NEAREST = {
    "qMRMLWidget": ("QWidget", {}),
    "ctkCollapsibleButton": ("QGroupBox", {"text": "title", "collapsed": None}),
    "ctkCollapsibleGroupBox": ("QGroupBox", {"collapsed": None}),
    "qMRMLNodeComboBox": ("QComboBox", {"nodeTypes": None, "showChildNodeTypes": None, "noneEnabled": None,
                                        "addEnabled": None, "removeEnabled": None, "renameEnabled": None}),
    "ctkPathLineEdit": ("QLineEdit", {"filters": None, "nameFilters": None}),
    "qMRMLSegmentationShow3DButton": ("QPushButton", {}),
    "qMRMLTableView": ("QTableView", {}),
}
SAMPLE_NODE_NAMES = {"vtkMRMLScalarVolumeNode": "MRHead", "vtkMRMLLabelMapVolumeNode": "None",
                     "vtkMRMLSegmentationNode": "None", "vtkMRMLTableNode": "None",
                     "vtkMRMLLinearTransformNode": "Create new transform", "vtkMRMLMarkupsROINode": "None"}
# what the previews show in some fields, as in a typical session
SAMPLE_VALUES = {"fixedVolume": "MRBrainTumor1", "movingVolume": "MRBrainTumor2",
                 "outputVolume": "MRBrainTumor2 registered", "segmentOutput": "MRHead segmentation",
                 "segmentTable": "Create new table", "segmentModel": "brain-t1.pt", "trainOutput": "brain.pt"}
# what the previews show in widgets no parameter names (model lists, details, reasons, the log), by object name
SAMPLE_TEXTS = {
    "segmentModelComboBox": "brain-t1 (cached)",
    "segmentModelInfoLabel": "Brain mask of T1 MRI\ntask: segment, size: 12.3 MB, licence: CC-BY-4.0\n"
                             "Expects modality MRI T1; 1 channel(s): T1; spacing 1 x 1 x 1 mm.",
    "classifyModelComboBox": "lesion-classes (download, 45.0 MB)",
    "classifyModelInfoLabel": "task: classify, size: 45.0 MB, licence: Apache-2.0\nNot downloaded yet: press "
                              "Download (it runs in the background and can be cancelled).",
    "classifyReasonLabel": "Download lesion-classes first (Download button).",
    "detectModelComboBox": "Choose a model...",
    "detectModelInfoLabel": "Choose a model above, import your own file, or train one (Segment section).",
    "detectReasonLabel": "Choose a model, import one or train one.",
    "logTextEdit": "[Segment] Segment: started (GDImaging-segment-x1)\n[Segment] 10 %, model loaded\n"
                   "[Train] 42 %, epoch 42, loss 0.0123",
}


def application():
    from PySide6.QtWidgets import QApplication
    return QApplication.instance() or QApplication([])


def preview_xml(path: Path) -> bytes:
    """The .ui with Slicer widgets swapped for their nearest Qt classes, for a faithful-looking render."""
    tree = ET.parse(path)
    for widget in tree.iter("widget"):
        cls = widget.get("class")
        if cls not in NEAREST:
            continue
        qt_class, renames = NEAREST[cls]
        node_types = [s.text for s in widget.findall("./property[@name='nodeTypes']/stringlist/string")]
        widget.set("class", qt_class)
        for prop in list(widget.findall("property")):
            name = prop.get("name")
            if name in renames:
                if renames[name] is None:
                    widget.remove(prop)
                else:
                    prop.set("name", renames[name])
        if node_types:
            item = ET.SubElement(widget, "item")
            text = ET.SubElement(ET.SubElement(item, "property", name="text"), "string")
            text.text = SAMPLE_NODE_NAMES.get(node_types[0], node_types[0].replace("vtkMRML", ""))
    for name in ("customwidgets", "connections"):  # Slicer-only classes and mrmlSceneChanged signals
        tree.getroot().remove(tree.getroot().find(name))
    return ET.tostring(tree.getroot(), encoding="utf-8")


def show_values(widget, values: dict) -> None:
    """Set each widget bound to a parameter (SlicerParameterName) to the value given for it."""
    from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox, QWidget
    for child in widget.findChildren(QWidget):
        name = child.property("SlicerParameterName")
        if name not in values:
            continue
        value = values[name]
        if isinstance(child, QComboBox):
            if child.findText(str(value)) < 0:
                child.addItem(str(value))
            child.setCurrentText(str(value))
        elif isinstance(child, (QSpinBox, QDoubleSpinBox)):
            child.setValue(value)
        elif isinstance(child, QCheckBox):
            child.setChecked(bool(value))
        elif isinstance(child, QLineEdit):
            child.setText(str(value))


def show_texts(widget, texts: dict) -> None:
    """Fill widgets by object name: a label's text, a combo box's current item, a text edit's content; the
    classify Download button shows, as it does for a model not downloaded yet."""
    from PySide6.QtWidgets import QComboBox, QLabel, QPlainTextEdit, QPushButton, QWidget
    for child in widget.findChildren(QWidget):
        name = child.objectName()
        if name == "classifyDownloadButton" and isinstance(child, QPushButton):
            child.setVisible(True)
        if name not in texts:
            continue
        if isinstance(child, QComboBox):
            child.addItem(texts[name])
            child.setCurrentText(texts[name])
        elif isinstance(child, (QLabel, QPlainTextEdit)):
            child.setPlainText(texts[name]) if isinstance(child, QPlainTextEdit) else child.setText(texts[name])


def render(path: Path, png: Path, values: dict | None = None, width: int = 420) -> Path:
    """A PNG of the panel; `values` (parameter name -> value) fill the bound widgets."""
    from PySide6.QtCore import QBuffer, QByteArray
    from PySide6.QtUiTools import QUiLoader
    from PySide6.QtWidgets import QGroupBox, QLabel, QProgressBar, QPushButton
    application()
    data = QByteArray(preview_xml(path))
    buffer = QBuffer()
    buffer.setData(data)
    buffer.open(QBuffer.ReadOnly)
    widget = QUiLoader().load(buffer)
    for bar in widget.findChildren(QProgressBar):
        bar.setVisible(True)
        bar.setValue(42)
    for box in widget.findChildren(QGroupBox):
        box.setVisible(True)
    for button in widget.findChildren(QPushButton):
        button.setEnabled(True)
    for status in widget.findChildren(QLabel):
        if status.objectName().endswith(("statusLabel", "StatusLabel")):
            status.setText("42 %, loss 0.0123, time left 12 s")  # what a running job shows
    show_values(widget, values or {})
    show_texts(widget, SAMPLE_TEXTS)
    widget.resize(width, widget.sizeHint().height())
    widget.adjustSize()
    widget.resize(width, widget.height())
    image = widget.grab()
    if not image.save(str(png)):
        raise OSError(f"Could not write {png}")
    return png


def parameter_defaults(module_name: str) -> dict:
    """The module's parameter node defaults (non-node fields), read through the Slicer double."""
    from . import load
    module = load(module_name)
    from slicer.parameterNodeWrapper import isNodeOrUnionOfNodes
    p = getattr(module, f"{module_name}Logic")().getParameterNode()
    return {name: p.getValue(name) for name, info in p.allParameters.items()
            if not isNodeOrUnionOfNodes(info.unalteredType) and str(p.getValue(name)) != "."}


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "docs" / "images"
    out.mkdir(parents=True, exist_ok=True)
    for ui in UI_FILES:
        print(render(ui, out / f"{ui.stem}.png", {**parameter_defaults(ui.stem), **SAMPLE_VALUES}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
