"""Each public constructor is a written-out `def` whose docstring is accurate: it names its
paper, its registry row, each of its checkpoints (or says it has none) and its own family's
`preprocess_input`, and it builds exactly the row it names."""

import inspect

import pytest

import keras_senet.applications as applications
from keras_senet import get_spec, list_models

CONSTRUCTORS = [getattr(applications, name) for name in applications.__all__]
ROW_OF = {get_spec(name).constructor: name for name in list_models() if get_spec(name).constructor}
PAPERS = {"se_resnet": "Squeeze-and-Excitation Networks", "se_inception": "Squeeze-and-Excitation",
          "se_mobile": "Squeeze-and-Excitation", "se_vgg": "Squeeze-and-Excitation",
          "sknet": "Selective Kernel Networks"}


@pytest.mark.parametrize("constructor", CONSTRUCTORS, ids=lambda c: c.__name__)
def test_docstring_names_paper_row_checkpoints_and_preprocessing(constructor):
    row = ROW_OF[constructor.__name__]
    spec = get_spec(row)
    doc = " ".join(constructor.__doc__.split())
    assert constructor.__module__ == f"keras_senet.applications.{spec.family}"
    assert PAPERS[spec.family] in doc
    assert f'"{row}"' in doc
    assert f"keras_senet.applications.{spec.family}.preprocess_input" in doc
    if spec.checkpoints:
        for source in spec.checkpoints:
            assert source.full_name in doc or f'"{source.tag}"' in doc, source.full_name
    else:
        assert "No pretrained weights" in doc
    for other_family in set(PAPERS) - {spec.family}:
        assert f"applications.{other_family}.preprocess_input" not in doc


@pytest.mark.parametrize("constructor", CONSTRUCTORS, ids=lambda c: c.__name__)
def test_the_def_builds_the_row_its_docstring_names(constructor):
    source = inspect.getsource(constructor)
    assert f'build_model("{ROW_OF[constructor.__name__]}",' in source
