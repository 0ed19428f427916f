"""The command line and the configuration file: a bad file stops the daemon
before it does anything, with a message naming the file and the line."""
import re
import subprocess

import pytest

from harness import CONF_PATH, LOYALTYD_BIN, free_port

RUN_TIMEOUT_S = 15


def run(*args):
    return subprocess.run([LOYALTYD_BIN, *args], capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S)


def replace_once(text, old, new):
    assert text.count(old) == 1, f"{old!r} should occur once in {CONF_PATH}"
    return text.replace(old, new)


def line_of(text, marker):
    lines = [i + 1 for i, line in enumerate(text.splitlines()) if marker in line]
    assert len(lines) == 1, f"{marker!r} should be on one line"
    return lines[0]


def set_value(text, name, value):
    new, n = re.subn(rf"^(\s*){name}\s*=\s*[^;]*;", rf"\g<1>{name} = {value};", text,
                     count=1, flags=re.M)
    assert n == 1, name
    return new


# (case, how to break the shipped file, text on the bad line, words the message must have)
BAD_CONFIGS = [
    ("unknown setting",
     lambda t: replace_once(t, "  block_ms = 1000;", "  block_ms = 1000;\n  blocking_ms = 5;"),
     "blocking_ms = 5;", ["blocking_ms"]),
    ("unknown section",
     lambda t: t + "\nstreams = {\n  name = \"x\";\n};\n", "streams = {", ["streams"]),
    ("string where an integer belongs",
     lambda t: set_value(t, "batch_entries_max", '"512"'), "batch_entries_max =",
     ["batch_entries_max"]),
    ("float where an integer belongs",
     lambda t: set_value(t, "block_ms", "2.5"), "block_ms =", ["block_ms"]),
    ("integer where a boolean belongs",
     lambda t: set_value(t, "require_enrollment", "1"), "require_enrollment =",
     ["require_enrollment"]),
    ("integer where an address belongs",
     lambda t: set_value(t, "redis", "6379"), "redis = 6379", ["redis"]),
    ("value out of range",
     lambda t: set_value(t, "points_per_unit", "5000"), "points_per_unit =",
     ["points_per_unit"]),
    ("thresholds not increasing",
     lambda t: replace_once(t, "threshold = 2000;", "threshold = 400;"), "threshold = 400;",
     ["gold"]),
    ("first threshold not zero",
     lambda t: replace_once(t, "threshold = 0;", "threshold = 7;"), "threshold = 7;", []),
    ("syntax error",
     lambda t: set_value(t, "block_ms", ""), "block_ms = ;", []),
    ("unclosed group",
     lambda t: replace_once(t, "  block_ms = 1000;\n", "  block_ms = 1000;\n  extra = {\n"),
     None, []),
]


def write_bad(tmp_path, transform):
    text = transform(CONF_PATH.read_text())
    path = tmp_path / "bad.conf"
    path.write_text(text)
    return path, text


@pytest.mark.parametrize("case,transform,marker,words", BAD_CONFIGS,
                         ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_exits_non_zero_naming_the_file_and_the_line(tmp_path, case, transform,
                                                                marker, words):
    path, text = write_bad(tmp_path, transform)
    line = line_of(text, marker) if marker else None
    for args in (["--check-config"],
                 ["--redis", "127.0.0.1:1", "--http", f"127.0.0.1:{free_port()}",
                  "--data", str(tmp_path / "data")]):
        res = run("-c", str(path), *args)
        assert res.returncode == 1, (case, args, res)
        msg = res.stderr
        assert str(path) in msg, (case, msg)
        if line is not None:
            assert f"{path}:{line}:" in msg, (case, line, msg)
        else:
            assert re.search(rf"{re.escape(str(path))}:\d+:", msg), (case, msg)
        for word in words:
            assert word in msg, (case, word, msg)
        assert "listening" not in msg


def test_threshold_error_names_the_threshold_line_when_a_level_spans_lines(tmp_path):
    path, text = write_bad(tmp_path, lambda t: replace_once(
        t, "threshold = 2000;", "\n      threshold = 400;"))
    res = run("-c", str(path), "--check-config")
    assert res.returncode == 1
    assert f"{path}:{line_of(text, 'threshold = 400;')}:" in res.stderr, res.stderr


def test_missing_config_file_exits_non_zero_naming_it(tmp_path):
    path = tmp_path / "absent.conf"
    res = run("-c", str(path), "--check-config")
    assert res.returncode == 1 and str(path) in res.stderr, res


def test_check_config_accepts_the_shipped_config():
    res = run("--check-config", "-c", str(CONF_PATH))
    assert res.returncode == 0, res
    assert "valid" in res.stdout


def test_help_exits_zero_and_shows_usage():
    res = run("--help")
    assert res.returncode == 0, res
    assert "usage: loyaltyd" in res.stdout
    for flag in ("--redis", "--http", "--data", "--check-config"):
        assert flag in res.stdout


def test_unknown_option_is_bad_usage():
    res = run("--no-such-flag")
    assert res.returncode == 2, res
    assert "usage" in res.stderr
