"""``python -m fake_device.deepstream.reference_app -c deepstream_app_config.txt``."""

import sys

from fake_device.deepstream.reference_app.command import main

sys.exit(main())
