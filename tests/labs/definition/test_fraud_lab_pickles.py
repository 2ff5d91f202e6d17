"""The fraud lab loads the learner's saved models, which are pickles: code the learner wrote. Its checks
must not be forgeable by such code (print a passing line, exit 0) nor let it read the hidden answers."""

from __future__ import annotations

import pathlib
import re

import pytest

from xblocks.cli import main

LAB = pathlib.Path(__file__).resolve().parents[3] / "course_content" / "vertical" / "unit_ai_fraud_notebook.xml"

# As the learner: a model.joblib whose unpickling runs the learner's code. It tries to read the hidden
# claims' labels (to answer perfect scores), and else to end the checking process with a success.
EVIL = r"""
cd ~/fraud
python3 - <<'PY'
import pickle

CODE = '''
import json, os, sys
try:
    rows = open("/lab/opt/kafaat/hidden.csv").read().splitlines()[1:]
    print(json.dumps([float(r.rsplit(",", 1)[1]) for r in rows]))
except OSError:
    print("model-better: passes")
os._exit(0)
'''

class Evil:
    def __reduce__(self):
        return (exec, (CODE,))

with open("model.joblib", "wb") as out:
    pickle.dump(Evil(), out)
PY
"""


@pytest.mark.sandbox
def test_a_pickle_that_reads_the_answers_or_fakes_success_fails_the_check(tmp_path, capsys):
    source = LAB.read_text(encoding="utf-8")
    start = source.index('<step id="better"')
    solve = re.compile(r"<solve user=\"learner\"><!\[CDATA\[.*?\]\]></solve>", re.S)
    head, step = source[:start], source[start:]
    lab = tmp_path / "fraud.xml"
    lab.write_text(head + solve.sub(lambda _m: f'<solve user="learner"><![CDATA[{EVIL}]]></solve>', step, count=1))
    assert main(["lab", "test", str(lab)]) == 1
    out = capsys.readouterr().out
    assert "step baseline solved check baseline-scores: passes" in out  # the honest step still passes
    assert "step better solved check model-better: FAILED" in out
    assert "step better solved check model-honest: FAILED" in out
