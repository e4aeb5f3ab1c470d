"""A module with an import side effect: importing it writes the file ``RAYMON_TEST_IMPORT_MARKER`` names.

tests/server/test_plugins.py puts this directory on ``sys.path`` and hands the
server documents naming its classes: the server must refuse them without
importing it (the marker stays absent), while a client process imports it.
"""

import os
from pathlib import Path

from raymon import types as rt
from raymon.profiling import Extractor, MeanScore

Path(os.environ["RAYMON_TEST_IMPORT_MARKER"]).write_text("imported\n")


class Wrapper(rt.Native):
    """A data type a document may name."""


class Counter(Extractor):
    """An extractor a profile may name."""

    def extract(self, sample):
        return 1


class Mean(MeanScore):
    """A score a profile may name."""
