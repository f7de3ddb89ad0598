"""Provenance helpers (lstnet_tf/files.py): the checkout they read the commit of."""

from __future__ import annotations

import re

from lstnet_tf import files


def test_the_provenance_names_the_checkouts_commit():
    # ROOT is the folder holding the package (a checkout, or site-packages once installed).
    assert (files.ROOT / "lstnet_tf" / "files.py").samefile(files.__file__)
    if (files.ROOT / ".git").exists():  # run from a checkout: every result names its commit
        assert re.fullmatch(r"[0-9a-f]{40}( \(with uncommitted changes\))?",
                            files._git_commit()), files._git_commit()
        assert files.code_state()["commit"] == files._git_commit().split()[0]
