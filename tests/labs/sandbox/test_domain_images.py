"""The domain images (data, ai, testing, cloud, security) do what their labs need, in real sandboxes.

Each test skips, saying how to build it, only when its image is not built on this host
(``make images`` builds them all); they never build an image themselves.
"""

from __future__ import annotations

import textwrap

import pytest

from xblocks.labs.sandbox import images
from xblocks.labs.sandbox.base import MiB

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


@pytest.fixture
def machine(make_sandbox, local_backend):
    """``machine("data")``: a live sandbox of that image, as the learner runs it (``run(script, user=...)``)."""

    def make(name: str, **limits):
        if not images.find(name).built:
            pytest.skip(f"image {name!r} is not built on this host: run `make images` or `kafaat image build {name}`")
        handle = make_sandbox(image=name, **limits)

        def run(script: str, *, user: str = "learner", timeout: float = 60.0):
            return local_backend.exec(handle, textwrap.dedent(script), user=user, timeout=timeout)

        return run

    return make


def test_data_has_pandas_sqlite_and_a_postgresql_server_the_learner_starts(machine):
    run = machine("data")
    result = run("""
        set -e
        python3 -c "import pandas, sqlite3; print(pandas.DataFrame({'a': [1, 2, 3]}).a.sum())"
        sqlite3 :memory: 'select 6 * 7'
        lab-postgres start
        psql -h localhost -tAc 'select 40 + 2'
        python3 -c "import psycopg2; print(psycopg2.connect(host='localhost').server_version >= 150000)"
        lab-postgres stop
    """)
    assert result.ok, result.stderr
    lines = result.stdout.split("\n")
    assert lines[:2] == ["6", "42"] and "PostgreSQL is running on localhost:5432 as learner" in lines[2]
    assert lines[3:5] == ["42", "True"]


def test_ai_trains_a_model_plots_and_executes_a_notebook_headless(machine):
    run = machine("ai", memory_bytes=1024 * MiB)
    result = run(
        """
        set -e
        cd ~
        python3 - <<'PY'
        import nbformat
        notebook = nbformat.v4.new_notebook()
        notebook.cells = [nbformat.v4.new_code_cell(
            "from sklearn.datasets import load_iris\\n"
            "from sklearn.linear_model import LogisticRegression\\n"
            "import matplotlib.pyplot as plt, pandas as pd\\n"
            "X, y = load_iris(return_X_y=True)\\n"
            "model = LogisticRegression(max_iter=500).fit(X, y)\\n"
            "plt.plot(pd.Series(y).value_counts()); plt.savefig('counts.png')\\n"
            "print('accuracy', round(model.score(X, y), 1))"
        )]
        nbformat.write(notebook, "model.ipynb")
        PY
        jupyter nbconvert --to notebook --execute --output run.ipynb model.ipynb 2>/dev/null
        python3 -c "import json; print(''.join(json.load(open('run.ipynb'))['cells'][0]['outputs'][0]['text']).strip())"
        head -c 4 counts.png | tail -c 3; echo
        jupyter notebook --version >/dev/null && echo notebook
        """,
        timeout=120,
    )
    assert result.ok, result.stderr
    assert result.stdout.split("\n")[:3] == ["accuracy 1.0", "PNG", "notebook"]


def test_testing_runs_pytest_under_coverage(machine):
    run = machine("testing")
    result = run("""
        set -e
        mkdir -p ~/app && cd ~/app
        printf 'def add(a, b):\\n    return a + b\\n\\ndef unused():\\n    return 0\\n' > calc.py
        printf 'from calc import add\\n\\ndef test_add():\\n    assert add(2, 3) == 5\\n' > test_calc.py
        python3 -m pytest -q -p no:cacheprovider --cov=calc --cov-report=term 2>&1 | grep -E '^(calc.py|1 passed)'
        python3 -c "import requests, bs4, flask; print('web tools')"
    """)
    assert result.ok, result.stdout + result.stderr
    lines = result.stdout.split("\n")
    assert lines[0].split()[:4] == ["calc.py", "4", "1", "75%"] and lines[1].startswith("1 passed")
    assert lines[2] == "web tools"


def test_cloud_serves_with_nginx_as_the_learner_and_has_ansible_git_and_the_aws_cli(machine):
    run = machine("cloud")
    result = run("""
        set -e
        mkdir -p ~/site ~/nginx && echo 'hello from nginx' > ~/site/index.html
        cat > ~/nginx/nginx.conf <<EOF
        pid $HOME/nginx/nginx.pid;
        error_log $HOME/nginx/error.log;
        events {}
        http {
          access_log $HOME/nginx/access.log;
          client_body_temp_path $HOME/nginx/body;
          server { listen 8080; root $HOME/site; }
        }
        EOF
        nginx -c ~/nginx/nginx.conf 2>/dev/null
        curl -sf http://localhost:8080/
        ansible localhost -c local -m ping -o 2>/dev/null | grep -o SUCCESS
        git --version | cut -d' ' -f1
        aws --version 2>&1 | cut -d/ -f1
    """)
    assert result.ok, result.stdout + result.stderr
    assert result.stdout.split("\n")[:4] == ["hello from nginx", "SUCCESS", "git", "aws-cli"]


def test_security_scans_and_exploits_the_vulnerable_app_whose_requests_are_logged(machine):
    run = machine("security")
    started = run(
        "nohup vulnapp --port 8080 >/dev/null 2>&1 & "
        "for i in $(seq 50); do curl -s localhost:8080/ >/dev/null && break; sleep 0.1; done"
    )
    assert started.ok, started.stderr
    result = run("""
        set -e
        nmap -sT -p 8080 -oG - localhost | grep -o '8080/open'
        curl -s -d "user=admin'--" -d password=x localhost:8080/login | grep -o 'Welcome, admin'
        curl -s 'localhost:8080/files?name=../flag.txt' | grep -o '^FLAG'
        grep -c 'POST /login' ~/vulnapp/access.log
        openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=lab -keyout /tmp/k -out /tmp/c 2>/dev/null && echo cert
    """)
    assert result.ok, result.stdout + result.stderr
    assert result.stdout.split("\n")[:5] == ["8080/open", "Welcome, admin", "FLAG", "1", "cert"]
