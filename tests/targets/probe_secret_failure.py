"""A test that fails showing the cloud target's secrets: run on its own by
``test_make_and_markers.py`` (its name keeps it out of every other collection) to see that no
report shows them."""

import os


def test_fails_showing_secrets():
    key, password = os.environ["PROBE_KEY"], os.environ["PROBE_PASSWORD"]
    print(f"connecting with {password}")
    assert key == "another key", f"the key was {key}"
