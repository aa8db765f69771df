"""The command line parser: only the named command's parser is built, with the same result."""

from __future__ import annotations

import pytest

from git_datavc import main


def _names() -> list[str]:
    return main._parser().get_default("datavc_built")


def test_every_command_parses_alone_as_with_the_whole_parser() -> None:
    names = _names()
    assert {"add", "status", "push", "filter-process", "exp", "plots"} <= set(names)
    for name in names:
        alone = main._parser(only=name)
        assert alone.get_default("datavc_built") == [name]
    argv = ["push", "-r", "origin"]
    whole = vars(main._parser().parse_args(argv))
    assert vars(main._parse(argv)) | {"datavc_built": None} == whole | {"datavc_built": None}


def test_an_unknown_command_gets_the_whole_list(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main._parse(["stauts"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'stauts'" in err and "'status'" in err and "'push'" in err
