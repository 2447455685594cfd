"""The settings toolbar: model, body model, device, look-ahead, mesh, hidden legs, field of view
and smoothing (QSettings).

Choices are saved when they change and restored at the next start. An option given on the
command line (`--weights`, `--body-model`, `--device`, `--lookahead`, `--body`,
`--hidden-legs`, `--fov`) wins over the saved choice for that run. All but smoothing restart
the session (`reload_needed`); smoothing applies live (`smoothing_changed`).
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QSettings, Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QLabel,
    QSlider,
    QSpinBox,
    QToolBar,
    QWidget,
)

from app.config import AppConfig
from stdformer.inference.predictor import DEFAULT_FOV_DEG
from stdformer.inference.smoothing import MAX_LAG_FRAMES
from stdformer.session.core import DEFAULT_SMOOTHING
from stdformer.session.pipeline import LIVE_LOOKAHEAD, default_lookahead

PICK = "__pick__"
DEVICES = ("auto", "cpu", "cuda")
BODY_OUTPUT_LABELS = {  # PipelineConfig.body_output -> what the Mesh menu says
    "refined": "Fitted to the image",
    "fit": "Fitted to the network",
    "raw": "Network output",
}
HIDDEN_LEGS_LABELS = {"seated": "Seated", "standing": "Standing"}  # PipelineConfig.hidden_legs


def settings_bool(settings: QSettings, key: str, default: bool) -> bool:
    value = settings.value(key, default)
    return value if isinstance(value, bool) else str(value).lower() in ("true", "1")


def _choices(labels: dict[str, str], tooltip: str) -> QComboBox:
    """A combo of `labels` (value -> text shown; the value is each item's data)."""
    box = QComboBox()
    for name, label in labels.items():
        box.addItem(label, name)
    box.setToolTip(tooltip)
    return box


def _saved_file(settings: QSettings, key: str) -> str:
    """A saved file choice, or "" (embedded) when that file is gone since."""
    path = str(settings.value(key, "") or "")
    return path if path and Path(path).is_file() else ""


class FileChoice(QComboBox):
    """A combo of "embedded" + files the user picked (the choice's data is the path, or "")."""

    picked = pyqtSignal()

    def __init__(self, embedded: str, pick: str, dialog_title: str, pattern: str) -> None:
        super().__init__()
        self._title, self._pattern = dialog_title, pattern
        self.addItem(embedded, "")
        self.addItem(pick, PICK)
        self._current = 0
        self.activated.connect(self._activated)

    def path(self) -> str:
        return str(self.currentData() or "")

    def set_path(self, path: str) -> None:
        if path and self.findData(path) < 0:
            self.insertItem(1, Path(path).name, path)
            self.setItemData(1, path, Qt.ItemDataRole.ToolTipRole)
        self.setCurrentIndex(max(0, self.findData(path)))
        self._current = self.currentIndex()

    def ask_file(self) -> str:
        path, _ = QFileDialog.getOpenFileName(self, self._title, "", self._pattern)
        return path

    def _activated(self, index: int) -> None:
        if self.itemData(index) == PICK:
            path = self.ask_file()
            if not path:  # cancelled: keep what was there
                self.setCurrentIndex(self._current)
                return
            self.set_path(path)
        if self.currentIndex() != self._current:
            self._current = self.currentIndex()
            self.picked.emit()


class ControlsBar(QToolBar):
    reload_needed = pyqtSignal()  # model, body, device or look-ahead changed
    smoothing_changed = pyqtSignal(float)  # strength in [0, 1]

    def __init__(self, config: AppConfig, settings: QSettings, parent: QWidget | None = None):
        super().__init__("Model", parent)
        self.setMovable(False)
        self.settings = settings
        pipe = config.pipeline
        self.model = FileChoice(
            "Embedded network", "Checkpoint file…", "Open STDFormer checkpoint",
            "Checkpoints (*.pt *.pth *.ckpt);;All files (*)",
        )  # fmt: skip
        self.body = FileChoice(
            "Default body", "Body model file…", "Open body model (SMPL .pkl/.npz)",
            "Body models (*.pkl *.npz);;All files (*)",
        )  # fmt: skip
        self.device = QComboBox()
        for name in DEVICES:
            self.device.addItem(name.upper() if name != "auto" else "Auto", name)
        self.lookahead = QSpinBox()
        self.lookahead.setRange(0, MAX_LAG_FRAMES)
        self.lookahead.setToolTip(
            "the smoother looks this many frames ahead: steadier mesh, that many frames later "
            f"(default {LIVE_LOOKAHEAD} on two or more CPUs, 0 on one)"
        )
        self.output = _choices(
            BODY_OUTPUT_LABELS,
            "Fitted to the image: the body posed on the network's mesh and MediaPipe's landmarks "
            "(default). Fitted to the network: the network's mesh as a posed body. Network "
            "output: the network's own vertices.",
        )
        self.legs = _choices(
            HIDDEN_LEGS_LABELS,
            "Legs out of view with the hips at the bottom edge (head and shoulders at a desk): "
            "one image cannot tell sitting from standing there, so say which",
        )
        self.fov = QDoubleSpinBox()
        self.fov.setRange(20.0, 150.0)
        self.fov.setDecimals(1)
        self.fov.setSuffix("°")
        self.fov.setKeyboardTracking(False)  # typing "75" is one change, not "7" then "75"
        self.fov.setToolTip(
            "the camera's field of view across the image's long side: how far away the body is "
            f"placed (default {DEFAULT_FOV_DEG:g}°, a typical webcam; a data sheet's diagonal "
            "field of view x 0.85-0.9)"
        )
        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setRange(0, 100)
        self.smoothing.setFixedWidth(90)
        self.smoothing.setToolTip("One-Euro smoothing of the mesh (0 = off)")

        self.model.set_path(pipe.weights or _saved_file(settings, "model/weights"))
        self.body.set_path(pipe.body_model or _saved_file(settings, "model/body"))
        device = pipe.device if pipe.device != "auto" else str(settings.value("model/device", ""))
        self.device.setCurrentIndex(max(0, self.device.findData(device.split(":")[0])))
        self._device_override = pipe.device if ":" in pipe.device else None  # e.g. cuda:1
        # a --lookahead other than this machine's default wins over the saved choice (the key
        # is new with that default: one frame from 2 CPUs, was 0 everywhere)
        auto = default_lookahead()
        saved_lookahead = int(settings.value("model/lookahead_frames", auto) or 0)
        self.lookahead.setValue(pipe.lookahead if pipe.lookahead != auto else saved_lookahead)
        saved = settings.value("model/smoothing", round(100 * DEFAULT_SMOOTHING))
        self.smoothing.setValue(int(saved if saved is not None else 0))
        output = pipe.body_output  # a --body other than the default wins over the saved choice
        if output == "refined":
            output = str(settings.value("model/output", "refined") or "refined")
        self.output.setCurrentIndex(max(0, self.output.findData(output)))
        legs = pipe.hidden_legs  # --hidden-legs standing wins over the saved choice
        if legs == "seated":
            legs = str(settings.value("model/hidden_legs", "seated") or "seated")
        self.legs.setCurrentIndex(max(0, self.legs.findData(legs)))
        fov = pipe.fov_deg  # --fov other than the default wins over the saved choice
        if fov == DEFAULT_FOV_DEG:
            fov = float(settings.value("model/fov", DEFAULT_FOV_DEG) or DEFAULT_FOV_DEG)
        self.fov.setValue(fov)

        for label, widget in (
            ("Model", self.model),
            ("Body", self.body),
            ("Device", self.device),
            ("Look-ahead", self.lookahead),
            ("Mesh", self.output),
            ("Hidden legs", self.legs),
            ("FOV", self.fov),
            ("Smoothing", self.smoothing),
        ):
            self.addWidget(QLabel(f" {label}: "))
            self.addWidget(widget)
        self.model.picked.connect(self._changed)
        self.body.picked.connect(self._changed)
        self.device.activated.connect(lambda _i: self._changed())
        self.lookahead.valueChanged.connect(lambda _v: self._changed())
        self.output.activated.connect(lambda _i: self._changed())
        self.legs.activated.connect(lambda _i: self._changed())
        self.fov.valueChanged.connect(lambda _v: self._changed())
        self.smoothing.valueChanged.connect(self._smoothing)

    # --- values ----------------------------------------------------------------------------
    def weights(self) -> str | None:
        return self.model.path() or None

    def body_model(self) -> str | None:
        return self.body.path() or None

    def device_name(self) -> str:
        name = str(self.device.currentData())
        if self._device_override and name == self._device_override.split(":")[0]:
            return self._device_override
        return name

    def body_output(self) -> str:
        return str(self.output.currentData())

    def hidden_legs(self) -> str:
        return str(self.legs.currentData())

    def fov_deg(self) -> float:
        return float(self.fov.value())

    def smoothing_strength(self) -> float:
        return self.smoothing.value() / 100.0

    def save(self) -> None:
        s = self.settings
        s.setValue("model/weights", self.model.path())
        s.setValue("model/body", self.body.path())
        s.setValue("model/device", str(self.device.currentData()))
        s.setValue("model/lookahead_frames", self.lookahead.value())
        s.setValue("model/output", self.body_output())
        s.setValue("model/hidden_legs", self.hidden_legs())
        s.setValue("model/fov", self.fov_deg())
        s.setValue("model/smoothing", self.smoothing.value())
        s.sync()

    def _changed(self) -> None:
        self.save()
        self.reload_needed.emit()

    def _smoothing(self, value: int) -> None:
        self.save()
        self.smoothing_changed.emit(value / 100.0)
