"""README is what a new user reads first: it stands alone and says what the code does."""

import configparser
import os
import re

import keras_senet
from keras_senet.registry import sources_for
from keras_senet.weights import fetch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()


def test_every_link_is_a_file_of_the_repository():
    targets = re.findall(r"\]\(([^)]+)\)", README)
    assert targets, "README links the benchmarks and the curves"
    for target in targets:
        assert "://" not in target, target
        assert os.path.exists(os.path.join(ROOT, target.split("#")[0])), target
    assert "MEASUREMENTS" not in README  # a reference file users do not have


def test_a_plain_pip_install_line_and_the_extras_it_names_exist():
    lines = [line for line in README.splitlines() if line.startswith("pip install ")]
    assert lines, "README shows how to install the package in one's own environment"
    config = configparser.ConfigParser()
    config.read(os.path.join(ROOT, "setup.cfg"))
    extras = set(config["options.extras_require"])
    named = set(re.findall(r'"\.\[(\w+)\]"', lines[0]))
    assert named == {"jax", "export", "data"} and named <= extras
    assert config["options.extras_require"]["jax"].split() == ["jax"]


def test_the_verified_rows_and_the_download_timeout_are_documented():
    rows = [row for name in keras_senet.list_models() for row in sources_for(name)]
    hub = [row for row in rows if row.hub_repo]
    releases = [row for row in rows if not row.hub_repo and row.url.startswith("http")]
    assert f"the {len(hub)} `hf:` rows" in README
    assert f"the {len(releases)} `legacy_*` rows" in README
    assert all(row.arch.startswith("legacy_") for row in releases)
    assert f"`{fetch.TIMEOUT_ENV}`" in README
    assert f"(default {fetch.DEFAULT_TIMEOUT_S:g};" in README
