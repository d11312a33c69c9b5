"""Locust users of ``portal_load.py``: a guardian reading the inbox, an officer opening the
child check page of a scanned card. Started by portal_load.py, which passes the logins."""

from __future__ import annotations

import json
import os
import random
import re
import sys
from pathlib import Path
from typing import ClassVar

import gevent
from locust import HttpUser, between, task

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loopback_cookies import trust_loopback

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


_logged_in_users: list[HttpUser] = []


class _LoggedIn(HttpUser):
    abstract = True
    # Each user reads a page for THINK seconds on average before the next (0: none).
    _think = float(os.environ.get("TUTELA_BENCH_THINK", "1"))
    wait_time = between(_think / 2, _think * 1.5)
    login_path = ""
    # The variable portal_load.py puts this kind of user's login in (JSON), and the form's
    # fields: each taken from that login, or a fixed value.
    login_variable = ""
    login_form: ClassVar[dict[str, str | None]] = {}

    def login_fields(self) -> dict[str, str]:
        login = json.loads(os.environ[self.login_variable])
        return {
            field: login[field] if fixed is None else fixed
            for field, fixed in self.login_form.items()
        }

    def on_start(self) -> None:
        trust_loopback(self.client)
        page = self.client.get(self.login_path, name="login")
        token = CSRF.search(page.text)
        assert token, "no login form"
        answer = self.client.post(
            self.login_path,
            data={"csrf_token": token.group(1), **self.login_fields()},
            name="login",
            allow_redirects=False,
        )
        if answer.status_code != 303:
            raise RuntimeError("login failed")
        _logged_in_users.append(self)
        # Logins are slow on purpose (scrypt): pages are measured once all have logged in.
        if len(_logged_in_users) == int(os.environ["TUTELA_BENCH_USERS"]):
            self.environment.runner.stats.reset_all()
        while len(_logged_in_users) < int(os.environ["TUTELA_BENCH_USERS"]):
            gevent.sleep(0.05)
        # People do not all click in the same instant.
        gevent.sleep(random.uniform(0, self._think))


class GuardianInbox(_LoggedIn):
    login_path = "/guardian/login"
    login_variable = "TUTELA_BENCH_GUARDIAN"
    login_form: ClassVar[dict[str, str | None]] = {"document": None, "password": None}

    @task
    def inbox(self) -> None:
        self.client.get("/guardian/", name="page")


class BorderLookup(_LoggedIn):
    login_path = "/login"
    login_variable = "TUTELA_BENCH_OFFICER"
    login_form: ClassVar[dict[str, str | None]] = {"name": None, "password": None, "code": ""}

    @task
    def lookup(self) -> None:
        card = os.environ["TUTELA_BENCH_CARD"]
        self.client.get(f"/border/children/{card}", name="page")
