"""The window's VMC switch: `--vmc HOST:PORT` streams from Start, bundles reach a local
receiver at the session's rate, switching off stops them, the choice is kept in QSettings."""

from __future__ import annotations

import socket

from pythonosc.osc_packet import OscPacket

from app.config import AppConfig
from app.main_window import MainWindow


def test_vmc_switch_streams_the_session(qtbot) -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(30.0)
    port = receiver.getsockname()[1]
    window = MainWindow(AppConfig(vmc=f"127.0.0.1:{port}"), [], initial_source="sample")
    qtbot.addWidget(window)
    bar = window.vmc_bar
    assert bar.enabled_box.isChecked() and bar.target_edit.text() == f"127.0.0.1:{port}"
    window.start()
    addresses = set()
    for _ in range(10):  # ten frames' bundles
        addresses |= {m.message.address for m in OscPacket(receiver.recv(65536)).messages}
    assert {"/VMC/Ext/OK", "/VMC/Ext/T"} <= addresses
    qtbot.waitUntil(lambda: bar.sender.status().bundles_sent >= 10, timeout=10_000)
    bar._update_status()
    assert f"127.0.0.1:{port}" in bar.status_label.text()
    bar.enabled_box.setChecked(False)  # off: the sender is detached
    assert bar.sender is None and bar.settings.value("vmc/enabled", type=bool) is False
    bar.enabled_box.setChecked(True)
    assert bar.sender is not None and bar.settings.value("vmc/target") == f"127.0.0.1:{port}"
    window.stop()
    assert bar.sender is None
    window.close()
    receiver.close()
