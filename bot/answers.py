"""Answers for the Slack side, on a bounded pool of their own: one cache connection per
thread (a Database may not cross threads); a listener waits at most the ack budget for an
answer, and when the pool and its queue are full a question is refused at once so a
burst of slow questions never holds Bolt's listener threads."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from pathlib import Path

from bot.clock import as_of, real_now
from bot.people import People
from finops_bot.access import OPERATOR, AccessPolicy, Audience, Identity, Scope, scope_for
from finops_bot.forecast.budget_rules import BudgetRules
from finops_bot.gpu.fleet import FleetRules
from finops_bot.gpu.prices import PriceBook
from finops_bot.questions import Answer, Engine
from finops_bot.questions.rules import Asker, QuestionRules
from finops_bot.store import connect
from finops_bot.store.db import CacheError, explain

log = logging.getLogger("finops_bot.answers")


class AnswerService:
    def __init__(
        self,
        db_path: Path,
        measure: str,
        today: Callable[[], date],
        workers: int = 4,
        queue: int | None = None,
        prices: PriceBook | None = None,
        fleet_rules: FleetRules | None = None,
        rules: QuestionRules | None = None,
        people: People | None = None,
        access: AccessPolicy | None = None,
        budgets: BudgetRules | None = None,
    ):
        self.db_path = db_path
        self.budgets = budgets
        self.measure = measure
        self.today = today
        self.prices = prices
        self.fleet_rules = fleet_rules
        self.rules = rules
        self.people = people
        self.access = access or AccessPolicy()
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="finops-answer")
        # running + waiting questions; the executor's own queue is unbounded
        self._slots = threading.BoundedSemaphore(workers + (workers if queue is None else queue))

    def _engine(self) -> Engine:
        engine = getattr(self._local, "engine", None)
        if engine is None:
            engine = self._local.engine = Engine(
                connect(self.db_path),
                self.measure,
                self.prices,
                self.fleet_rules,
                self.rules,
                who=self.people.email_of if self.people else None,
                budgets=self.budgets,
            )
        return engine

    def ask(
        self,
        question: str,
        today: date | None = None,
        user_id: str | None = None,
        audience: Audience = OPERATOR,
    ) -> Answer:
        """Answer as of ``today`` (None: the real date); the time follows bot.clock's rule.
        ``user_id``: the Slack user Slack signed the request for ("my spend", and what they
        may see); ``audience``: who will see the answer (finops_bot.access)."""
        day, now = as_of(today, real_now())
        try:
            scope = self.scope(user_id, audience)
            return self._engine().ask(question, day, now, self._asker(user_id), scope)
        except (sqlite3.Error, CacheError) as exc:  # the cache itself: one line, no apology
            self._local.engine = None  # a fresh connection next time (the file may be back)
            error = exc if isinstance(exc, CacheError) else explain(exc, self.db_path)
            log.error("answering from the cache failed: %s", error)
            return Answer(kind="error", question=question[:200], message=f"{error}.")

    def scope(self, user_id: str | None, audience: Audience) -> Scope | None:
        """What this audience may see (None: everything, open mode or the operator)."""
        if self.access.open or audience.surface == "operator":
            return None
        who = None
        if user_id:
            who = (
                self.people.identity(user_id, self.access.groups())
                if self.people
                else Identity(user_id, external=True)
            )
        return scope_for(self.access, who, audience)

    def _asker(self, user_id: str | None) -> Asker | None:
        if not user_id:
            return None
        email = self.people.email_of(user_id) if self.people else None
        return Asker(user_id, email)

    def submit(
        self,
        question: str,
        today: date,
        user_id: str | None = None,
        audience: Audience | None = None,
    ) -> Future[Answer] | None:
        """Queue a question; None at once when the pool and its queue are full. Slack's
        listeners give the ``audience`` (the operator's is the CLI's)."""
        if not self._slots.acquire(blocking=False):
            return None
        try:
            audience = audience or Audience("ephemeral")  # a Slack answer: never the operator's
            future = self._pool.submit(self.ask, question, today, user_id, audience)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _: self._slots.release())
        return future

    def healthy(self) -> tuple[bool, str]:
        """The cache is readable (and how fresh it is)."""
        try:
            row = (
                self._engine().db.execute("SELECT MAX(last_day), COUNT(*) FROM sources").fetchone()
            )
        except Exception as exc:  # reported, not raised: this is a health check
            return False, f"cache not readable: {exc}"
        return True, f"cache readable, {row[1]} source(s), data through {row[0]}"
