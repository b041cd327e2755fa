"""A component's ``python3`` is the device's interpreter, also for the unprivileged component user.

Here the test interpreter is a virtualenv whose python links into ``/root`` (mode 0700): the
component user cannot run it, and ``sh`` would silently take the next ``python3`` on ``PATH``.
The device gives its components a mirror of its own interpreter instead, or refuses to boot.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest
from fleet import Operator, component_log, running_device, unique

from fake_device.nucleus.interpreter import blocked_folder, component_python
from fake_device.nucleus.shell import RunAs
from harness.errors import HarnessError

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        os.geteuid() != 0, reason="components run as another user only when the device is root"
    ),
]


def test_an_unprivileged_component_gets_the_device_python_with_the_project(
    aws_endpoint, device_root: Path
) -> None:
    operator = Operator(aws_endpoint)
    name = unique("com.example.Py")
    probe = "import sys, fake_device.deepstream; print('python', sys.version.split()[0], sys.prefix)"
    operator.component(name, "1.0.0", {"Run": f'id -un; python3 -c "{probe}"'})
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group) as device:
        result = operator.wait_deployment(thing, operator.deploy(group_arn, {name: "1.0.0"}))
        assert result["reason"] == "SUCCESSFUL", result
        python_dir = device.python.bin_dir
    log = component_log(device_root, name)
    version = ".".join(map(str, sys.version_info[:3]))
    assert "stdout. nobody." in log
    assert f"stdout. python {version} " in log, log
    if blocked_folder(Path(sys.executable), RunAs.lookup("nobody")) is not None:
        assert device.python.mirrored
        assert f"stdout. python {version} {python_dir.parent}." in log
        assert "components get its mirror" in component_log(device_root, "greengrass")


def test_the_device_refuses_to_boot_when_no_python_works_for_the_component_user() -> None:
    nobody = RunAs.lookup("nobody")
    with tempfile.TemporaryDirectory() as closed:  # 0700: nobody cannot enter a mirror built here
        if blocked_folder(Path(sys.executable), nobody) is None:
            pytest.skip("the component user can run this interpreter: there is nothing to refuse")
        with pytest.raises(HarnessError) as caught:
            component_python(nobody, Path(closed) / "mirrors")
    message = str(caught.value)
    assert f"the component user 'nobody' cannot run the device's Python {sys.executable}" in message
    assert "is closed to it" in message and "Permission denied" in message
    assert "install the project and its virtual environment outside /root" in message
